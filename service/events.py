"""Events: the public message format, and the gate that keeps bad messages out of the model.

One Kafka message value is one UTF-8 JSON object::

    {"id": "optional string",
     "features": {"name": number | string | bool, ...},
     "label": optional bool | int | string | number,
     "ts": optional event time in epoch seconds}

With features and a label it is learned test-then-train at once. With an ``id``, features
and no label it is a *question*: predicted now, the prediction kept under the id until its
*answer*, ``{"id": ..., "label": ...}`` without features, arrives (an :class:`Answer`). A
question may carry the prediction ``/predict`` served for it (``"served"``, see
:class:`ServedPrediction`), which is then the one scored.

Unknown top-level keys are ignored, so producers can add metadata. A message that does not
fit is not an exception: :func:`decode_event` returns a :class:`Rejection` whose
:class:`RejectReason` names what is wrong, and the consumer sends the original bytes to the
dead-letter topic. One non-finite number would poison a ``StandardScaler`` forever, so NaN and
infinities are refused here, before the model sees them; so is any number, feature or label,
larger in magnitude than ``max_magnitude`` (:data:`DEFAULT_MAX_MAGNITUDE`): a finite 1e200
overflows the squares inside River's scalers, trees and metrics just as surely.

Examples
--------
>>> decode_event(b'{"features": {"x": 1.5, "colour": "red"}, "label": true}')
Event(features={'x': 1.5, 'colour': 'red'}, label=True, id=None, ts=None, served=None)
>>> decode_event(b'{"id": "a1", "label": false}')
Answer(id='a1', label=False, ts=None)
>>> decode_event(b'{"features": {"x": NaN}}').reason
<RejectReason.NON_FINITE: 'non_finite'>
>>> decode_event(b'{"features": {"x": 1e200}}').reason
<RejectReason.OUT_OF_RANGE: 'out_of_range'>
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "DEFAULT_MAX_MAGNITUDE",
    "LARGEST_FLOAT",
    "Answer",
    "Event",
    "FeatureValue",
    "Label",
    "RejectReason",
    "Rejection",
    "ServedPrediction",
    "check_features",
    "decode_event",
]

FeatureValue = float | int | str | bool

# A JSON integer beyond this overflows to infinity as soon as a model turns it into a float.
LARGEST_FLOAT = 1.7976931348623157e308
# The largest magnitude a number in an event may have. River squares features and errors
# (variances, RMSE, split criteria), and a square overflows past about 1e154; 1e15 leaves a
# factor of 1e139 of headroom for sums over any stream and for standardised values, and it is
# where a double stops holding every integer (2**53 is about 9e15). A real measurement rarely
# comes near it; an identifier or a nanosecond timestamp does, and is not a feature.
DEFAULT_MAX_MAGNITUDE = 1e15
Label = bool | int | float | str


class RejectReason(enum.StrEnum):
    """Why a message was refused; the value is the dead-letter header and metric label."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FEATURES = "missing_features"
    TOO_MANY_FEATURES = "too_many_features"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_LABEL = "unknown_label"
    MODEL_ERROR = "model_error"
    NULL_VALUE = "null_value"
    """The record has no value at all (a tombstone)."""
    BAD_RECORD = "bad_record"
    """The Kafka client cannot parse the record itself (e.g. a header key that is not UTF-8)."""
    UNKNOWN_ID = "unknown_id"
    """An answer whose id was never asked (or was forgotten long ago)."""
    EXPIRED_ID = "expired_id"
    """An answer whose question expired: older than the time-to-live, or pushed out."""
    DUPLICATE_ANSWER = "duplicate_answer"
    """A second answer for a question already joined: the first one wins."""
    DUPLICATE_QUESTION = "duplicate_question"
    """A question whose id is already pending an answer."""
    NOT_AN_ANSWER = "not_an_answer"
    """A record of the feedback topic that is not an answer (it has features, or no label)."""


@dataclass(frozen=True, slots=True)
class ServedPrediction:
    """What ``/predict`` answered for a question, as the question's record carries it.

    ``probabilities`` are ``(label, probability)`` pairs: JSON object keys are strings, and a
    label may be a bool or a number.
    """

    model_version: int
    prediction: Label | None
    probabilities: tuple[tuple[Label, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded, valid event."""

    features: dict[str, FeatureValue]
    label: Label | None = None
    id: str | None = None
    ts: float | None = None
    served: ServedPrediction | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The label of an earlier question, joined by its id."""

    id: str
    label: Label
    ts: float | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """A message the gate refused, with a reason code and a human-readable detail."""

    reason: RejectReason
    detail: str


def decode_event(
    raw: bytes | None,
    *,
    max_features: int = 10_000,
    max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
) -> Event | Answer | Rejection:
    """Decode one message value into an :class:`Event`, or say why it cannot be one.

    ``None`` is a record without a value (a tombstone): orjson refuses it, like any bad
    input, so the check costs the common path nothing.
    """
    try:
        document = orjson.loads(raw)  # type: ignore[arg-type]  # None raises, see above
    except orjson.JSONDecodeError:
        return _decode_slow(raw, max_features, max_magnitude)
    return _validate(document, max_features, max_magnitude)


def _decode_slow(
    raw: bytes | None, max_features: int, max_magnitude: float
) -> Event | Answer | Rejection:
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
    return _validate(document, max_features, max_magnitude)


def _validate(document: Any, max_features: int, max_magnitude: float) -> Event | Answer | Rejection:
    if not isinstance(document, dict):
        kind = type(document).__name__
        return Rejection(RejectReason.NOT_OBJECT, f"value is a JSON {kind}, not an object")
    features = document.get("features")
    if features is None:
        if "id" in document and document.get("label") is not None:
            return _answer(document, max_magnitude)
        return Rejection(RejectReason.MISSING_FEATURES, "no 'features' object")
    if not isinstance(features, dict):
        return Rejection(RejectReason.WRONG_TYPE, "'features' is not an object")
    problem = check_features(features, max_features, max_magnitude)
    if problem is not None:
        return problem
    fields = _label_id_ts(document, max_magnitude)
    if isinstance(fields, Rejection):
        return fields
    label, event_id, ts = fields
    served = document.get("served")
    if served is not None:
        if event_id is None or label is not None:
            return Rejection(
                RejectReason.WRONG_TYPE, "'served' belongs to a question: an 'id' and no 'label'"
            )
        served = _served(served, max_magnitude)
        if isinstance(served, Rejection):
            return served
    return Event(features=features, label=label, id=event_id, ts=ts, served=served)


def _label_id_ts(
    document: dict[str, Any], max_magnitude: float
) -> tuple[Label | None, str | None, float | None] | Rejection:
    """The optional ``label``, ``id`` and ``ts`` of an event or an answer, checked."""
    label = document.get("label")
    if label is not None and not isinstance(label, bool | int | float | str):
        return Rejection(RejectReason.WRONG_TYPE, "'label' must be a bool, number or string")
    if isinstance(label, int | float) and not isinstance(label, bool):
        problem = _check_number("'label'", label, max_magnitude)
        if problem is not None:
            return problem
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
    return label, event_id, ts


def _answer(document: dict[str, Any], max_magnitude: float) -> Answer | Rejection:
    """An answer: a string id and a label, no features."""
    if "features" in document:  # "features": null
        return Rejection(RejectReason.WRONG_TYPE, "'features' is not an object")
    if "served" in document:
        return Rejection(RejectReason.WRONG_TYPE, "an answer carries no 'served' prediction")
    fields = _label_id_ts(document, max_magnitude)
    if isinstance(fields, Rejection):
        return fields
    label, event_id, ts = fields
    assert label is not None  # an answer is an id and a label: see _validate
    if event_id is None:
        return Rejection(RejectReason.WRONG_TYPE, "'id' must be a string")
    return Answer(event_id, label, ts)


def _served(served: Any, max_magnitude: float) -> ServedPrediction | Rejection:
    """The ``served`` object of a question, checked as strictly as an event."""
    wrong = Rejection(
        RejectReason.WRONG_TYPE,
        '\'served\' must be {"model_version": int >= 1, "prediction": label or null, '
        '"probabilities": [[label, probability], ...] or null}',
    )
    if not isinstance(served, dict):
        return wrong
    version = served.get("model_version")
    prediction = served.get("prediction")
    pairs = served.get("probabilities")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return wrong
    if prediction is not None and not isinstance(prediction, bool | int | float | str):
        return wrong
    if isinstance(prediction, int | float) and not isinstance(prediction, bool):
        problem = _check_number("the served prediction", prediction, max_magnitude)
        if problem is not None:
            return problem
    probabilities = None
    if pairs is not None:
        if not isinstance(pairs, list):
            return wrong
        checked = []
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2):
                return wrong
            label, probability = pair
            if not isinstance(label, bool | int | float | str):
                return wrong
            number = isinstance(label, int | float) and not isinstance(label, bool)
            if number and _check_number("a label", label, max_magnitude) is not None:  # type: ignore[arg-type]
                return wrong
            if isinstance(probability, bool) or not isinstance(probability, int | float):
                return wrong
            if not 0.0 <= probability <= 1.0:  # NaN fails this too
                return wrong
            checked.append((label, float(probability)))
        probabilities = tuple(checked)
    return ServedPrediction(version, prediction, probabilities)


def check_features(
    features: dict[str, Any], max_features: int, max_magnitude: float = DEFAULT_MAX_MAGNITUDE
) -> Rejection | None:
    """Return why a features mapping is unusable, or ``None`` when every value is fine."""
    if not features:
        return Rejection(RejectReason.MISSING_FEATURES, "'features' is empty")
    if len(features) > max_features:
        return Rejection(
            RejectReason.TOO_MANY_FEATURES,
            f"{len(features)} features, more than the limit of {max_features}",
        )
    values = features.values()
    if (
        all(type(value) is float for value in values)
        and math.isfinite(sum(values))
        and -max_magnitude <= min(values)
        and max(values) <= max_magnitude
    ):
        # The common event, all floats, in a few C-level passes: a NaN or an infinity makes
        # the sum non-finite (so does an overflow, which the loop below then judges).
        return None
    for name, value in features.items():
        if isinstance(value, bool | str):
            continue
        if isinstance(value, int | float):
            problem = _check_number(f"feature {name!r}", value, max_magnitude)
            if problem is not None:
                return problem
        else:
            kind = "null" if value is None else type(value).__name__
            return Rejection(
                RejectReason.WRONG_TYPE,
                f"feature {name!r} is a {kind}; features are numbers, strings or bools",
            )
    return None


def _check_number(what: str, value: float, max_magnitude: float) -> Rejection | None:
    """Why a number cannot be learned (not finite, or beyond the magnitude bound), or ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return Rejection(RejectReason.NON_FINITE, f"{what} is {value}")
    if abs(value) > LARGEST_FLOAT:  # a JSON integer no float can hold
        return Rejection(RejectReason.NON_FINITE, f"{what} overflows a float")
    if abs(value) > max_magnitude:
        return Rejection(
            RejectReason.OUT_OF_RANGE,
            f"{what} is {value:.6g}, beyond the magnitude limit of {max_magnitude:g}",
        )
    return None


def _short(error: BaseException, limit: int = 120) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
