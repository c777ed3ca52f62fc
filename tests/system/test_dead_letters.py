"""Bad messages go to the dead-letter topic with their reason; good ones are all learned."""

from __future__ import annotations

import random

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer

from service.events import Rejection, decode_event
from service.ingest.dead_letters import DEAD_LETTER_HEADERS

pytestmark = pytest.mark.kafka

MALFORMED: list[tuple[bytes, str]] = [
    (b"\xff\xfe\x00garbage", "not_utf8"),
    (b'{"features": {"x": 1.0', "not_json"),
    (b"[1, 2, 3]", "not_object"),
    (b"3.14", "not_object"),
    (b'{"label": true}', "missing_features"),
    (b'{"features": {"x0": NaN, "x1": 1.0}, "label": true}', "non_finite"),
    (b'{"features": {"x0": Infinity, "x1": 1.0}, "label": false}', "non_finite"),
    (b'{"features": {"x0": "1.0", "x1": [2]}, "label": true}', "wrong_type"),
    (b'{"features": {"x0": 1.0}, "label": {"class": 1}}', "wrong_type"),
    (b'{"features": {"x0": 1.0}, "id": 12}', "wrong_type"),
    (b'{"features": {"x0": ' + b"[" * 5_000 + b"]" * 5_000 + b"}}", "not_json"),
    (b"{" + b'"a' * 500_000 + b"}", "not_json"),  # a 1 MB message
    (b'{"features": {"x0": 0.5, "x1": 1}, "label": "cat"}', "unknown_label"),
    (b'{"features": {"x0": 0.5, "x1": 1}, "label": 2}', "unknown_label"),
    (b'{"id": "no-features", "label": true}', "unknown_id"),  # an answer nobody asked for
    (b"{}", "missing_features"),
] + [
    (raw, decoded.reason.value)
    for raw in (random.Random(seed).randbytes(64) for seed in range(5))
    if isinstance(decoded := decode_event(raw), Rejection)
]


def valid_event(i: int) -> bytes:
    return orjson.dumps(
        {"id": str(i), "features": {"x0": i % 7 / 7, "x1": i % 3}, "label": i % 2 == 0}
    )


def test_malformed_messages_are_dead_lettered_and_valid_ones_learned(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic(partitions=1)
    dead_letter_topic = f"{topic}.dlq"
    producer = KafkaProducer(
        bootstrap_servers=kafka_broker.bootstrap_servers, max_request_size=2_000_000
    )
    sent: list[tuple[bytes, str | None]] = []
    for i in range(200):
        sent.append((valid_event(i), None))
        if i % 8 == 0 and i // 8 < len(MALFORMED):
            sent.append(MALFORMED[i // 8])
    assert sum(1 for _, reason in sent if reason) == len(MALFORMED)  # each one is sent
    for value, _ in sent:
        producer.send(topic, value)
    producer.flush()
    producer.close()

    service = service_factory(topic=topic, dead_letter_topic=dead_letter_topic, group_id=topic)
    pid = service.process.pid
    described = service.wait_handled(len(sent))

    bad = [(value, reason) for value, reason in sent if reason is not None]
    consumer = KafkaConsumer(
        dead_letter_topic,
        bootstrap_servers=kafka_broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )
    dead_letters = [record for _, record in zip(range(len(bad)), consumer, strict=False)]
    consumer.close()

    assert [record.value for record in dead_letters] == [value for value, _ in bad]
    for record, (_, reason) in zip(dead_letters, bad, strict=True):
        headers = dict(record.headers)
        assert set(DEAD_LETTER_HEADERS) <= set(headers)
        assert headers["driftline.reason"].decode() == reason
        assert headers["driftline.detail"]
        assert headers["driftline.topic"].decode() == topic
    source_offsets = [int(dict(r.headers)["driftline.offset"]) for r in dead_letters]
    assert source_offsets == [i for i, (_, reason) in enumerate(sent) if reason is not None]

    assert described["events_learned"] == 200
    assert service.process.poll() is None and service.process.pid == pid
    text = service.metrics_text()
    for reason in {reason for _, reason in bad}:
        count = sum(1 for _, r in bad if r == reason)
        assert f'driftline_events_rejected_total{{reason="{reason}"}} {count}.0' in text
