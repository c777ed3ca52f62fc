"""Kafka messages in Driftline's event format, from ``(features, label)`` pairs.

One message value is one UTF-8 JSON object, ``{"id", "features", "label", "ts"}`` with every
key but ``features`` optional (see the service's ``service/events.py``, which defines the
format). An absent label or id is left out rather than written as ``null``. The message key is
the event id, so that a keyed topic keeps every event of an id on one partition; an event
without an id has no key.

Examples
--------
>>> encode_event({"x": 1.5, "colour": "red"}, True, event_id="7")
b'{"id":"7","features":{"x":1.5,"colour":"red"},"label":true}'
>>> [m.key for m in to_messages([({"x": 1}, None), ({"x": 2}, None)], ids=True)]
[b'0', b'1']
>>> for message in to_questions_and_answers([({"x": 1}, True), ({"x": 2}, False)], delay=1):
...     print(message.key, message.value)
b'0' b'{"id":"0","features":{"x":1}}'
b'0' b'{"id":"0","label":true}'
b'1' b'{"id":"1","features":{"x":2}}'
b'1' b'{"id":"1","label":false}'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from river import stream

from producer.sources import FeatureValue, Label

__all__ = [
    "Example",
    "Message",
    "encode_answer",
    "encode_event",
    "to_messages",
    "to_questions_and_answers",
]

_MOMENT = "\x00driftline-moment"
"""The key under which an event's time rides through ``simulate_qa`` (taken out after)."""

Example = tuple[Mapping[str, FeatureValue], Label | None]
"""A ``(features, label)`` pair from any source: :mod:`producer.sources` or a scenario."""


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka record: the key (the event id as UTF-8, or ``None``) and the JSON value."""

    key: bytes | None
    value: bytes
    answer: bool = False
    """An answer (id and label): with a feedback topic, it goes there."""


def encode_event(
    features: Mapping[str, FeatureValue],
    label: Label | None = None,
    *,
    event_id: str | None = None,
    ts: float | None = None,
) -> bytes:
    """Encode one event as the JSON bytes of a message value.

    The sources have already made every value finite and plain; ``orjson`` would silently
    write a NaN as ``null``, so values that did not come from :mod:`producer.sources` must be
    checked by the caller.
    """
    document: dict[str, Any] = {}
    if event_id is not None:
        document["id"] = event_id
    document["features"] = features if isinstance(features, dict) else dict(features)
    if label is not None:
        document["label"] = label
    if ts is not None:
        document["ts"] = ts
    return orjson.dumps(document)


def to_messages(examples: Iterable[Example], *, ids: bool = False) -> Iterator[Message]:
    """Encode a stream of ``(features, label)`` pairs, in order.

    With ``ids``, event ``i`` (from 0) gets the id ``str(i)``, which is also its key: a
    consumer can then check that nothing was lost or reordered.
    """
    for index, (features, label) in enumerate(examples):
        if ids:
            event_id = str(index)
            yield Message(event_id.encode(), encode_event(features, label, event_id=event_id))
        else:
            yield Message(None, encode_event(features, label))


def encode_answer(event_id: str, label: Label, *, ts: float | None = None) -> bytes:
    """Encode the answer to question ``event_id``: its label, and no features."""
    document: dict[str, Any] = {"id": event_id, "label": label}
    if ts is not None:
        document["ts"] = ts
    return orjson.dumps(document)


def to_questions_and_answers(
    examples: Iterable[Example],
    *,
    delay: int | None = None,
    delay_seconds: float | None = None,
    rate: float = 0.0,
    start: float = 0.0,
) -> Iterator[Message]:
    """Each example as a question and, later, its answer, in ``simulate_qa``'s order.

    ``delay`` counts events: the answer to event ``i`` comes just before the question of
    event ``i + delay``. ``delay_seconds`` counts time: event ``i`` happens at
    ``start + i / rate``, which its question carries as ``ts``, and its answer comes (with
    ``ts`` that time plus the delay) before the first question at or after it. The ids are
    ``"0"``, ``"1"``, ... and key both messages; an example without a label gets no answer.
    """
    if delay_seconds is None:
        pairs: Iterable[tuple[dict[Hashable, Any], Any]] = ((_keyed(x), y) for x, y in examples)
        qa = stream.simulate_qa(pairs, moment=None, delay=delay or 0, copy=False)
        for index, x, y in qa:
            yield _qa_message(str(index), x, y, None)
        return
    step, wait = dt.timedelta(seconds=1.0 / rate), dt.timedelta(seconds=delay_seconds)
    begin = dt.datetime.fromtimestamp(start, tz=dt.UTC)
    timed: Iterable[tuple[dict[Hashable, Any], Any]] = (
        ({**_keyed(x), _MOMENT: begin + i * step}, y) for i, (x, y) in enumerate(examples)
    )
    for index, x, y in stream.simulate_qa(timed, moment=_MOMENT, delay=wait, copy=True):
        moment = x.pop(_MOMENT)
        ts = (moment if y is None else moment + wait).timestamp()
        yield _qa_message(str(index), x, y, ts)


def _keyed(x: Mapping[str, Any]) -> dict[Hashable, Any]:
    """A copy of the features as River's streams type them."""
    keyed: dict[Hashable, Any] = {}
    keyed.update(x)
    return keyed


def _qa_message(event_id: str, x: dict[str, Any], y: Any, ts: float | None) -> Message:
    if y is None:
        return Message(event_id.encode(), encode_event(x, event_id=event_id, ts=ts))
    return Message(event_id.encode(), encode_answer(event_id, y, ts=ts), answer=True)
