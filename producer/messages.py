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
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from producer.sources import FeatureValue, Label

__all__ = ["Example", "Message", "encode_event", "to_messages"]

Example = tuple[Mapping[str, FeatureValue], Label | None]
"""A ``(features, label)`` pair from any source: :mod:`producer.sources` or a scenario."""


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka record: the key (the event id as UTF-8, or ``None``) and the JSON value."""

    key: bytes | None
    value: bytes


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
