"""An event the model cannot learn is refused whole: counts, metrics and answers stay true.

A stranger's stream on the real broker: ordinary events, then a string for a feature the model
learned as a number, numbers beyond the magnitude bound, and ordinary events again.
"""

from __future__ import annotations

import math

import orjson
import pytest
from kafka import KafkaProducer

pytestmark = pytest.mark.kafka

VALID = 60


def event(i: int, **features: object) -> bytes:
    x = {"x0": i % 7 / 7, "x1": float(i % 3), **features}
    return orjson.dumps({"features": x, "label": i % 2 == 0})


def test_refused_events_leave_every_count_and_answer_as_the_valid_events_made_them(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic(partitions=1)
    refused = [
        (event(VALID, x1="red"), "wrong_type"),
        (event(VALID + 1, x0=1e200), "out_of_range"),
        (b'{"features": {"x0": 1.7e308}, "label": true}', "out_of_range"),
        (b'{"features": {"x0": 0.5}, "label": 1e200}', "out_of_range"),
    ]
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap_servers)
    values = [event(i) for i in range(VALID)] + [value for value, _ in refused]
    values += [event(i) for i in range(VALID, VALID + 10)]
    for value in values:
        producer.send(topic, value)
    producer.flush()
    producer.close()

    service = service_factory(topic=topic, dead_letter_topic=f"{topic}.dlq", model="logreg")
    described = service.wait_handled(len(values))

    assert described["events_learned"] == VALID + 10
    text = service.metrics_text()
    assert f"driftline_events_learned_total {VALID + 10}.0" in text
    assert 'driftline_events_rejected_total{reason="wrong_type"} 1.0' in text
    assert 'driftline_events_rejected_total{reason="out_of_range"} 3.0' in text
    metrics = described["metrics"]
    assert all(math.isfinite(value) for value in metrics["cumulative"].values()), metrics
    answer = service.http.post("/predict", json={"features": {"x0": 0.5, "x1": 1.0}}).json()
    assert all(math.isfinite(p) for p in answer["probabilities"].values()), answer
