"""GET /metrics: the documented series exist, parse, and move as events arrive."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from service.ingest.worker import LEARN_TIMING_EVERY

pytestmark = pytest.mark.kafka

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_rows() -> dict[str, str]:
    """README's metrics table (the public contract): name -> its row."""
    text = README.read_text()
    section = text.split("<!-- metrics:start -->")[1].split("<!-- metrics:end -->")[0]
    rows = re.findall(r"^\| `(driftline_[a-z_]+)`(.*)$", section, flags=re.MULTILINE)
    return dict(rows)


def documented_series() -> set[str]:
    return set(documented_rows())


def always_present() -> set[str]:
    """Documented series that exist from the start, not only 'once' something happened."""
    return {name for name, row in documented_rows().items() if "(once" not in row}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def send(bootstrap_servers: str, topic: str, start: int, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers)
    for i in range(start, start + count):
        event = {"features": {"x": (i % 10) / 10}, "label": i % 10 >= 5}
        producer.send(topic, orjson.dumps(event))
    producer.send(topic, orjson.dumps({"features": {"x": 0.5}}))  # unlabelled
    producer.send(topic, b"not json")
    producer.flush()
    producer.close()


def test_documented_series_are_exposed_and_move(
    kafka_broker, new_topic, service_factory, tmp_path
) -> None:
    topic = new_topic(partitions=1)
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        state_dir=tmp_path / "state",
        checkpoint_key="metrics-test-key-0123456789",
        checkpoint_every_events=50,
    )
    service.wait_ready()

    send(kafka_broker.bootstrap_servers, topic, 0, 100)
    service.wait_handled(102)
    service.http.post("/predict", json={"features": {"x": 0.9}})
    first = samples(service.metrics_text())
    exposed = {name for name, _ in first}
    regression_only = {name for name in documented_series() if name.endswith(("_mae", "_rmse"))}
    for name in always_present() - regression_only:
        assert any(s == name or s.startswith(name + "_") for s in exposed), f"{name} missing"

    assert value(first, "driftline_events_consumed_total") == 102
    assert value(first, "driftline_events_learned_total") == 100
    assert value(first, "driftline_events_unlabelled_total") == 1
    assert value(first, "driftline_events_rejected_total", reason="not_json") == 1
    assert value(first, "driftline_model_events_learned") == 100
    assert value(first, "driftline_learned_offset", partition="0", topic=topic) == 102
    # One step in LEARN_TIMING_EVERY is timed, from the first: 101 steps, 7 timed.
    assert value(first, "driftline_learn_duration_seconds_count") == 1 + 100 // LEARN_TIMING_EVERY
    assert value(first, "driftline_predict_duration_seconds_count", endpoint="predict") == 1
    assert 0.0 <= value(first, "driftline_prequential_accuracy_ratio") <= 1.0

    send(kafka_broker.bootstrap_servers, topic, 100, 100)
    service.wait_handled(204)
    second = samples(service.metrics_text())
    assert value(second, "driftline_events_consumed_total") == 204
    assert value(second, "driftline_events_learned_total") == 200
    assert value(second, "driftline_model_events_learned") == 200
    assert value(second, "driftline_consumer_lag_messages", partition="0", topic=topic) == 0
    assert value(second, "driftline_prequential_accuracy_ratio") != value(
        first, "driftline_prequential_accuracy_ratio"
    )


def test_every_exposed_series_is_documented(kafka_broker, new_topic, service_factory) -> None:
    topic = new_topic(partitions=1)
    service = service_factory(topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic)
    send(kafka_broker.bootstrap_servers, topic, 0, 10)
    service.wait_handled(12)
    documented = documented_series()
    for family in text_string_to_metric_families(service.metrics_text()):
        if family.name.startswith("driftline_"):
            names = {family.name, family.name + "_total", family.name + "_info"}
            assert names & documented, family.name
