"""The pipe's format between the fetch process and the worker: both ends, in one place.

The worker sends one :class:`FetchPlan`, then the word ``stop``. The fetch process sends
frames: a batch (rows and a :class:`FetchStatus`), or a :class:`Failure` as its last words.
A row is a plain tuple, tagged by its first field, because tuples pickle five times faster than
dataclasses: ``(EVENT, partition, offset, key, value, timestamp, feedback, features, label, id,
ts, served)`` for an event to learn, ``(ANSWER, partition, offset, key, value, timestamp,
feedback, id, label, ts)`` for the answer to a question, ``(REFUSED, partition, offset, key,
value, timestamp, feedback, reason, detail)`` for one to dead-letter. ``timestamp`` is the
record's own (seconds; ``None`` when it has none); ``feedback`` says the record is of the
feedback topic rather than the event topic. A status names partitions as ``(topic, partition)``.
Only this module builds or reads them.

Examples
--------
>>> rows = [event_row(0, 7, None, b"{}", Event({"x": 1.0}, label=True), 1.5),
...         event_row(0, 8, None, b"{}", Answer("a", label=True), None, feedback=True),
...         refused_row(0, 9, b"k", b"?", Rejection(RejectReason.NOT_JSON, "not JSON"), 2.0)]
>>> records, status = read_frame(batch_frame(rows, FetchStatus(True, {("events", 0): 10})))
>>> [(r.offset, type(r.event).__name__, r.timestamp, r.feedback) for r in records]
[(7, 'Event', 1.5, False), (8, 'Answer', None, True), (9, 'Rejection', 2.0, False)]
>>> status.highwater
{('events', 0): 10}
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from service.events import Answer, Event, Rejection, RejectReason

__all__ = [
    "ANSWER",
    "EVENT",
    "REFUSED",
    "Failure",
    "FetchPlan",
    "FetchStatus",
    "FetchedRecord",
    "Place",
    "batch_frame",
    "event_row",
    "failure_frame",
    "read_frame",
    "refused_row",
]

EVENT, REFUSED, ANSWER = 0, 1, 2
"""The tags of a row."""

Row = tuple[Any, ...]


@dataclass(frozen=True)
class FetchPlan:
    """What the child fetches: the learner's side decides every offset."""

    client_config: dict[str, Any]
    """Kafka client options (servers, security); secrets travel on the pipe, never in argv."""
    topic: str
    start: dict[int, int]
    """Per partition, the offset of the first record to send."""
    max_poll_records: int
    poll_timeout_ms: int
    max_features: int
    max_magnitude: float
    offset_lost_policy: Literal["resume", "stop"]
    feedback_topic: str | None = None
    """The topic of answers read beside ``topic`` (``None``: there is none)."""
    feedback_start: dict[int, int] = field(default_factory=dict)
    """Per partition of ``feedback_topic``, the offset of the first record to send."""


Place = tuple[str, int]
"""A partition of one of the topics read: ``(topic, partition)``."""


@dataclass(frozen=True)
class FetchStatus:
    """The child's view of the topics, sent with every batch."""

    connected: bool
    highwater: dict[Place, int]
    """Per partition, the end of the log as the last fetch response said (absent: unknown)."""
    lost: dict[Place, int] = field(default_factory=dict)
    """Records skipped since the last status because their offsets left the topic."""
    skipped_to: dict[Place, int] = field(default_factory=dict)
    """Where those partitions go on: the oldest offset still in the topic, the learner's next."""


@dataclass(frozen=True)
class Failure:
    """The child's last frame when an error stops it: what the learner reports."""

    reason: str


class FetchedRecord(NamedTuple):
    """One message, decoded: an event or answer to learn, or a :class:`Rejection`."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    """The raw message: a dead letter carries it, and the learner may still refuse an event."""
    event: Event | Answer | Rejection
    timestamp: float | None = None
    """The record's timestamp in seconds (``None``: it has none)."""
    feedback: bool = False
    """The record is of the feedback topic (answers only), not of the event topic."""


def event_row(
    partition: int,
    offset: int,
    key: Any,
    value: Any,
    event: Event | Answer,
    timestamp: float | None,
    *,
    feedback: bool = False,
) -> Row:
    """The row of a message that decoded to an event or an answer."""
    if event.__class__ is Event:
        assert isinstance(event, Event)
        return (
            EVENT, partition, offset, key, value, timestamp, feedback,
            event.features, event.label, event.id, event.ts, event.served,
        )  # fmt: skip
    assert isinstance(event, Answer)
    return (
        ANSWER, partition, offset, key, value, timestamp, feedback,
        event.id, event.label, event.ts,
    )  # fmt: skip


def refused_row(
    partition: int,
    offset: int,
    key: Any,
    value: Any,
    rejection: Rejection,
    timestamp: float | None = None,
    *,
    feedback: bool = False,
) -> Row:
    """The row of a message refused at the gate."""
    return (
        REFUSED, partition, offset, key, value, timestamp, feedback,
        rejection.reason.value, rejection.detail,
    )  # fmt: skip


def _record(row: Row) -> FetchedRecord:
    tag = row[0]
    if tag == EVENT:
        _, partition, offset, key, value, at, feedback, features, label, event_id, ts, served = row
        event = Event(features, label, event_id, ts, served)
        return FetchedRecord(partition, offset, key, value, event, at, feedback)
    if tag == ANSWER:
        _, partition, offset, key, value, at, feedback, event_id, label, ts = row
        answer = Answer(event_id, label, ts)
        return FetchedRecord(partition, offset, key, value, answer, at, feedback)
    _, partition, offset, key, value, at, feedback, reason, detail = row
    rejection = Rejection(RejectReason(reason), detail)
    return FetchedRecord(partition, offset, key, value, rejection, at, feedback)


def batch_frame(rows: list[Row], status: FetchStatus) -> bytes:
    """One batch, ready for ``Connection.send_bytes``."""
    return pickle.dumps((rows, status), protocol=pickle.HIGHEST_PROTOCOL)


def failure_frame(reason: str) -> bytes:
    """The child's last words."""
    return pickle.dumps(Failure(reason), protocol=pickle.HIGHEST_PROTOCOL)


def read_frame(frame: bytes) -> tuple[list[FetchedRecord], FetchStatus] | Failure:
    """A frame from our own child (trusted: it is this code, started by the worker)."""
    loaded = pickle.loads(frame)
    if type(loaded) is Failure:
        return loaded
    rows, status = loaded
    return [_record(row) for row in rows], status
