"""A broker that goes away stops learning, never serving; learning resumes by itself, exactly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.system.streams import PredictLoad, assert_equivalent_to_river, produce, read_back

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

HALF = 5_000
KEY = "broker-restart-key-0123456789abcdef"


def gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def test_broker_restart_keeps_serving_and_resumes_learning_exactly(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    produce(kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(HALF))
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        state_dir=tmp_path / "state",
        checkpoint_key=KEY,
        checkpoint_every_events=1_000,
    )
    service.wait_handled(HALF)
    first_half = read_back(kafka_broker.bootstrap_servers, topic, HALF)

    with PredictLoad(service.url) as load:
        kafka_broker.stop()
        service.wait_until(
            lambda: service.http.get("/ready").status_code == 503,
            timeout=60,
            what="reporting the broker as gone",
        )
        assert gauge(service.metrics_text(), "driftline_consumer_connected") == 0
        assert service.http.get("/health").status_code == 200
        time.sleep(2.0)
        kafka_broker.start()
        service.wait_ready(timeout=90)
        assert gauge(service.metrics_text(), "driftline_consumer_connected") == 1
    assert set(load.statuses) == {200}, load.statuses
    assert load.statuses[200] > 50

    produce(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(HALF),
        "--seed", "7",
    )  # fmt: skip
    service.wait_handled(2 * HALF)
    events = read_back(kafka_broker.bootstrap_servers, topic, 2 * HALF)
    assert events[:HALF] == first_half
    assert_equivalent_to_river(service, "logreg", events)
