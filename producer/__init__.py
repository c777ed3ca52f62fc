"""The Driftline producer: post events to a Kafka topic in Driftline's event format.

Events come from River's bundled datasets and synthetic streams and from CSV and JSON Lines
files (:mod:`producer.sources`), or from drift scenarios whose change points are known exactly
(:mod:`producer.scenarios`). :mod:`producer.messages` encodes them, :mod:`producer.publish`
sends them to Kafka (or writes them as JSON Lines) at a steady rate, and
:mod:`producer.transitions` says how a stream moves from one concept to the next.
``python -m producer`` is the command line.
"""

from producer import messages, publish, scenarios, sources, transitions
from producer.publish import PublishError
from producer.sources import SourceError

__all__ = [
    "PublishError",
    "SourceError",
    "messages",
    "publish",
    "scenarios",
    "sources",
    "transitions",
]
