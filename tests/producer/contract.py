"""Checks that events honour Driftline's event format, shared by the producer's tests."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from producer.messages import encode_event
from service.events import Event, decode_event


def assert_valid_event(features: Mapping[str, Any], label: Any) -> None:
    """Plain, finite values of the contract's types, which the service's gate accepts as is."""
    assert features, "an event needs at least one feature"
    for name, value in features.items():
        assert type(name) is str, name
        assert type(value) in (bool, int, float, str), (name, type(value))
        if type(value) is float:
            assert math.isfinite(value), (name, value)
    assert label is None or type(label) in (bool, int, float, str), type(label)
    if type(label) is float:
        assert math.isfinite(label)
    decoded = decode_event(encode_event(dict(features), label))
    assert isinstance(decoded, Event), decoded
    assert decoded.features == features
    assert decoded.label == label
    assert type(decoded.label) is type(label)


def assert_valid_events(examples: Iterable[tuple[Mapping[str, Any], Any]]) -> int:
    """Check every event; return how many there were."""
    count = 0
    for features, label in examples:
        assert_valid_event(features, label)
        count += 1
    return count
