"""Events: the public message format, and the gate that keeps bad messages out of the model.

One Kafka message value is one UTF-8 JSON object::

    {"id": "optional string",
     "features": {"name": number | string | bool, ...},
     "label": optional bool | int | string | number,
     "ts": optional event time in epoch seconds}

Unknown top-level keys are ignored, so producers can add metadata. A message that does not
fit is not an exception: :func:`decode_event` returns a :class:`Rejection` whose
:class:`RejectReason` names what is wrong, and the consumer sends the original bytes to the
dead-letter topic. One non-finite number would poison a ``StandardScaler`` forever, so NaN and
infinities are refused here, before the model sees them.

Examples
--------
>>> decode_event(b'{"features": {"x": 1.5, "colour": "red"}, "label": true}')
Event(features={'x': 1.5, 'colour': 'red'}, label=True, id=None, ts=None)
>>> decode_event(b'{"features": {"x": NaN}}').reason
<RejectReason.NON_FINITE: 'non_finite'>
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "Event",
    "FeatureValue",
    "Label",
    "RejectReason",
    "Rejection",
    "check_features",
    "decode_event",
]

FeatureValue = float | int | str | bool

# A JSON integer beyond this overflows to infinity as soon as a model turns it into a float.
_LARGEST_FLOAT = 1.7976931348623157e308
Label = bool | int | float | str


class RejectReason(enum.StrEnum):
    """Why a message was refused; the value is the dead-letter header and metric label."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FEATURES = "missing_features"
    TOO_MANY_FEATURES = "too_many_features"
    NON_FINITE = "non_finite"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_LABEL = "unknown_label"
    MODEL_ERROR = "model_error"
    NULL_VALUE = "null_value"
    """The record has no value at all (a tombstone)."""
    BAD_RECORD = "bad_record"
    """The Kafka client cannot parse the record itself (e.g. a header key that is not UTF-8)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded, valid event."""

    features: dict[str, FeatureValue]
    label: Label | None = None
    id: str | None = None
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message the gate refused, with a reason code and a human-readable detail."""

    reason: RejectReason
    detail: str


def decode_event(raw: bytes | None, *, max_features: int = 10_000) -> Event | Rejection:
    """Decode one message value into an :class:`Event`, or say why it cannot be one.

    ``None`` is a record without a value (a tombstone): orjson refuses it, like any bad
    input, so the check costs the common path nothing.
    """
    try:
        document = orjson.loads(raw)  # type: ignore[arg-type]  # None raises, see above
    except orjson.JSONDecodeError:
        return _decode_slow(raw, max_features)
    return _validate(document, max_features)


def _decode_slow(raw: bytes | None, max_features: int) -> Event | Rejection:
    """Tell apart bad UTF-8, bad JSON and JSON with NaN/Infinity (which orjson refuses)."""
    if raw is None:
        return Rejection(RejectReason.NULL_VALUE, "the record has no value (a tombstone)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection(RejectReason.NOT_UTF8, f"value is not UTF-8: {error.reason}")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:
        return Rejection(RejectReason.NOT_JSON, f"value is not JSON: {_short(error)}")
    return _validate(document, max_features)


def _validate(document: Any, max_features: int) -> Event | Rejection:
    if not isinstance(document, dict):
        kind = type(document).__name__
        return Rejection(RejectReason.NOT_OBJECT, f"value is a JSON {kind}, not an object")
    features = document.get("features")
    if features is None:
        return Rejection(RejectReason.MISSING_FEATURES, "no 'features' object")
    if not isinstance(features, dict):
        return Rejection(RejectReason.WRONG_TYPE, "'features' is not an object")
    problem = check_features(features, max_features)
    if problem is not None:
        return problem
    label = document.get("label")
    if label is not None and not isinstance(label, bool | int | float | str):
        return Rejection(RejectReason.WRONG_TYPE, "'label' must be a bool, number or string")
    if isinstance(label, float) and not math.isfinite(label):
        return Rejection(RejectReason.NON_FINITE, "'label' is not a finite number")
    event_id = document.get("id")
    if event_id is not None and not isinstance(event_id, str):
        return Rejection(RejectReason.WRONG_TYPE, "'id' must be a string")
    ts = document.get("ts")
    if ts is not None:
        if isinstance(ts, bool) or not isinstance(ts, int | float):
            return Rejection(RejectReason.WRONG_TYPE, "'ts' must be a number of epoch seconds")
        if not math.isfinite(ts):
            return Rejection(RejectReason.NON_FINITE, "'ts' is not a finite number")
        ts = float(ts)
    return Event(features=features, label=label, id=event_id, ts=ts)


def check_features(features: dict[str, Any], max_features: int) -> Rejection | None:
    """Return why a features mapping is unusable, or ``None`` when every value is fine."""
    if not features:
        return Rejection(RejectReason.MISSING_FEATURES, "'features' is empty")
    if len(features) > max_features:
        return Rejection(
            RejectReason.TOO_MANY_FEATURES,
            f"{len(features)} features, more than the limit of {max_features}",
        )
    values = features.values()
    if all(type(value) is float for value in values) and math.isfinite(sum(values)):
        # The common event, all floats, in one pass: a NaN or an infinity makes the sum
        # non-finite (so does an overflow, which the loop below then finds harmless).
        return None
    for name, value in features.items():
        if isinstance(value, float):
            if not math.isfinite(value):
                return Rejection(RejectReason.NON_FINITE, f"feature {name!r} is {value}")
        elif isinstance(value, int):  # bool is an int too
            if abs(value) > _LARGEST_FLOAT:
                return Rejection(RejectReason.NON_FINITE, f"feature {name!r} overflows a float")
        elif not isinstance(value, str):
            kind = "null" if value is None else type(value).__name__
            return Rejection(
                RejectReason.WRONG_TYPE,
                f"feature {name!r} is a {kind}; features are numbers, strings or bools",
            )
    return None


def _short(error: BaseException, limit: int = 120) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
