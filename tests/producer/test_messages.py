"""Messages: events encoded in Driftline's format, keyed by their id."""

from __future__ import annotations

import orjson

from producer.messages import Message, encode_event, to_messages
from service.events import Event, decode_event


def test_an_event_is_one_json_object_with_absent_keys_left_out() -> None:
    assert orjson.loads(encode_event({"x": 1.5})) == {"features": {"x": 1.5}}
    assert orjson.loads(encode_event({"x": 1}, False, event_id="a", ts=1.5)) == {
        "id": "a",
        "features": {"x": 1},
        "label": False,
        "ts": 1.5,
    }


def test_the_service_gate_decodes_what_the_producer_encodes() -> None:
    value = encode_event({"x": 1.5, "c": "red", "b": True}, "cat", event_id="7", ts=2.0)

    assert decode_event(value) == Event(
        features={"x": 1.5, "c": "red", "b": True}, label="cat", id="7", ts=2.0
    )


def test_a_label_of_false_or_zero_is_kept() -> None:
    assert orjson.loads(encode_event({"x": 1}, False))["label"] is False
    assert orjson.loads(encode_event({"x": 1}, 0))["label"] == 0


def test_without_ids_messages_have_no_key_and_no_id() -> None:
    messages = list(to_messages([({"x": 1}, True)]))

    assert messages == [Message(None, b'{"features":{"x":1},"label":true}')]


def test_ids_are_sequential_and_are_the_keys() -> None:
    messages = list(to_messages([({"x": i}, None) for i in range(3)], ids=True))

    assert [m.key for m in messages] == [b"0", b"1", b"2"]
    assert [orjson.loads(m.value)["id"] for m in messages] == ["0", "1", "2"]


def test_any_mapping_of_features_is_encoded() -> None:
    from types import MappingProxyType

    assert encode_event(MappingProxyType({"x": 1})) == b'{"features":{"x":1}}'
