"""The event gate: every message becomes an Event or a named rejection, never an exception."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.events import Answer, Event, Rejection, RejectReason, decode_event


def test_a_full_event_keeps_every_field_and_its_types() -> None:
    raw = orjson.dumps(
        {"id": "e-1", "features": {"x": 1.5, "n": 3, "red": True, "city": "Oslo"}, "label": 2,
         "ts": 1700000000}
    )  # fmt: skip
    assert decode_event(raw) == Event(
        features={"x": 1.5, "n": 3, "red": True, "city": "Oslo"},
        label=2,
        id="e-1",
        ts=1700000000.0,
    )


def test_an_event_without_label_is_valid_and_unlabelled() -> None:
    event = decode_event(b'{"features": {"x": 1}}')
    assert isinstance(event, Event)
    assert event.label is None


def test_unknown_top_level_keys_are_ignored() -> None:
    assert isinstance(decode_event(b'{"features": {"x": 1}, "source": "sensor-7"}'), Event)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", RejectReason.NOT_UTF8),
        (b'{"features": ', RejectReason.NOT_JSON),
        (b"[" * 100_000, RejectReason.NOT_JSON),
        (b"[1, 2]", RejectReason.NOT_OBJECT),
        (b'"features"', RejectReason.NOT_OBJECT),
        (b"42", RejectReason.NOT_OBJECT),
        (b'{"label": true}', RejectReason.MISSING_FEATURES),
        (b'{"features": {}}', RejectReason.MISSING_FEATURES),
        (b'{"features": [1, 2]}', RejectReason.WRONG_TYPE),
        (b'{"features": {"x": NaN}}', RejectReason.NON_FINITE),
        (b'{"features": {"x": -Infinity}}', RejectReason.NON_FINITE),
        (b'{"features": {"x": 1e999}}', RejectReason.NON_FINITE),
        (b'{"features": {"x": 1' + b"0" * 400 + b"}}", RejectReason.NON_FINITE),
        (b'{"features": {"x": 1}, "label": NaN}', RejectReason.NON_FINITE),
        (b'{"features": {"x": null}}', RejectReason.WRONG_TYPE),
        (b'{"features": {"x": {"nested": 1}}}', RejectReason.WRONG_TYPE),
        (b'{"features": {"x": 1}, "label": [1]}', RejectReason.WRONG_TYPE),
        (b'{"features": {"x": 1}, "id": 7}', RejectReason.WRONG_TYPE),
        (b'{"features": {"x": 1}, "ts": "yesterday"}', RejectReason.WRONG_TYPE),
        (b'{"features": {"x": 1}, "ts": true}', RejectReason.WRONG_TYPE),
    ],
)
def test_malformed_messages_are_rejected_with_their_reason(
    raw: bytes, reason: RejectReason
) -> None:
    decoded = decode_event(raw)
    assert isinstance(decoded, Rejection)
    assert decoded.reason == reason
    assert decoded.detail


def test_too_many_features_is_a_rejection_not_a_slow_model() -> None:
    raw = orjson.dumps({"features": {f"f{i}": i for i in range(11)}})
    decoded = decode_event(raw, max_features=10)
    assert isinstance(decoded, Rejection)
    assert decoded.reason == RejectReason.TOO_MANY_FEATURES


@given(st.binary(max_size=512))
def test_any_bytes_decode_to_an_event_an_answer_or_a_rejection(raw: bytes) -> None:
    assert isinstance(decode_event(raw), Event | Answer | Rejection)


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
served_objects = st.fixed_dictionaries(
    {},
    optional={
        "model_version": scalars,
        "prediction": scalars,
        "probabilities": st.none() | st.lists(st.lists(scalars, max_size=3), max_size=3),
    },
)
json_values = (
    scalars
    | st.lists(scalars, max_size=3)
    | st.dictionaries(st.text(max_size=5), scalars, max_size=4)
    | served_objects
)


# Generation, not decoding, is what can be slow on a busy machine: don't fail on it.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["id", "features", "label", "ts", "served", "other"]), json_values
    )
)
def test_any_json_object_decodes_to_an_event_an_answer_or_a_rejection(document: dict) -> None:
    decoded = decode_event(json.dumps(document).encode())
    assert isinstance(decoded, Event | Answer | Rejection)
    if isinstance(decoded, Event):
        assert decoded.features
    if isinstance(decoded, Answer):  # an id and a label, and no features at all
        assert "features" not in document
        assert decoded.id == document["id"] and decoded.label == document["label"]


@given(st.none() | st.binary(max_size=64))
def test_a_null_value_is_a_null_value_rejection_not_a_crash(raw: bytes | None) -> None:
    decoded = decode_event(raw)
    assert isinstance(decoded, Event | Answer | Rejection)
    if raw is None:
        assert decoded == Rejection(
            RejectReason.NULL_VALUE, "the record has no value (a tombstone)"
        )


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b'{"id": "a", "label": true}', Answer("a", True)),
        (b'{"id": "a", "label": 2.5, "ts": 10}', Answer("a", 2.5, 10.0)),
        (b'{"id": null, "label": true}', RejectReason.WRONG_TYPE),
        (b'{"id": "a", "label": true, "features": null}', RejectReason.WRONG_TYPE),
        (b'{"id": "a", "label": 1e300}', RejectReason.OUT_OF_RANGE),
        (b'{"id": "a", "label": true, "served": {"model_version": 1}}', RejectReason.WRONG_TYPE),
        (b'{"id": "a", "label": null}', RejectReason.MISSING_FEATURES),
        (
            b'{"id": "a", "features": {"x": 1}, "served": {"model_version": 0}}',
            RejectReason.WRONG_TYPE,
        ),
        (b'{"features": {"x": 1}, "served": {"model_version": 1}}', RejectReason.WRONG_TYPE),
        (
            b'{"id": "a", "features": {"x": 1}, "served": '
            b'{"model_version": 2, "probabilities": [[true, 1.5]]}}',
            RejectReason.WRONG_TYPE,
        ),
    ],
)
def test_an_answer_and_a_served_question_are_checked_as_strictly_as_an_event(
    raw: bytes, decoded: object
) -> None:
    result = decode_event(raw)
    if isinstance(decoded, RejectReason):
        assert isinstance(result, Rejection) and result.reason is decoded, result
    else:
        assert result == decoded
