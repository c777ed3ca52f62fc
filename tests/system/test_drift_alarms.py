"""An abrupt change streamed through Kafka raises one concept alarm near the true change."""

from __future__ import annotations

import pytest

from tests.system.streams import start_producing

pytestmark = pytest.mark.kafka

EVENTS = 12_000
CHANGE = 6_000
# The detector benchmark (bench/drift_detection.py) puts ADWIN's detection delay after an
# abrupt change of this scenario at 47 events (every seed); allow ten times that, never before.
DETECTION_BOUND = 500


def concept_metrics(text: str) -> tuple[float, float]:
    alarms = active = 0.0
    for line in text.splitlines():
        if line.startswith('driftline_drift_alarms_total{detector="adwin",kind="concept"}'):
            alarms = float(line.split()[-1])
        elif line.startswith('driftline_drift_active{kind="concept"}'):
            active = float(line.split()[-1])
    return alarms, active


def test_abrupt_drift_moves_the_alarm_counter_and_active_gauge_and_is_listed(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic(partitions=1)
    service = service_factory(topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic)
    service.wait_ready()
    assert concept_metrics(service.metrics_text()) == (0.0, 0.0)

    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt",
        "--n", str(EVENTS), "--position", str(CHANGE), rate=2_000,
    )  # fmt: skip
    seen_active = False

    def learned_all() -> bool:
        nonlocal seen_active
        seen_active = seen_active or concept_metrics(service.metrics_text())[1] == 1.0
        return service.http.get("/model").json()["offsets"].get("0", 0) >= EVENTS

    service.wait_until(learned_all, timeout=120, what="done with the stream", pause=0.05)
    assert producer.wait(timeout=30) == 0

    alarms, _ = concept_metrics(service.metrics_text())
    assert alarms >= 1
    assert seen_active
    drift = service.http.get("/drift").json()
    concept = [e for e in drift["events"] if e["kind"] == "concept" and not e["warning"]]
    assert concept, drift
    assert all(e["offset"] >= CHANGE for e in concept), "an alarm before the change"
    assert CHANGE <= concept[0]["offset"] <= CHANGE + DETECTION_BOUND
