"""Retraining strategies on the live service: rebuilds in the background while events arrive
and /predict answers, versions with lineage, and rollback through the admin endpoint."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.system.streams import PredictLoad, start_producing

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

EVENTS = 8_000
CHANGE = 4_000
TOKEN = "strategy-test-admin-token-0123"


def test_hybrid_rebuilds_in_the_background_promotes_and_rolls_back_by_admin(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic(partitions=1)
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        strategy="hybrid",
        rebuild_every=1_000,
        history_size=1_000,
        admin_token=TOKEN,
    )
    service.wait_ready()
    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt",
        "--n", str(EVENTS), "--position", str(CHANGE), rate=2_000,
    )  # fmt: skip
    with PredictLoad(service.url) as load:
        model = service.wait_handled(EVENTS, timeout=120)
    assert producer.wait(timeout=30) == 0
    assert set(load.statuses) == {200}, load.statuses
    assert model["events_learned"] == EVENTS

    history = service.http.get("/model/versions").json()
    assert history["strategy"] == "hybrid"
    decisions = history["decisions"]
    assert decisions, "no rebuild was judged"
    assert {d["outcome"] for d in decisions} <= {"promoted", "rejected", "rolled_back", "failed"}
    promoted = [v for v in history["versions"] if v["trigger"] != "initial"]
    assert promoted, history
    newest = history["versions"][-1]
    assert newest["serving"] and newest["parent_id"] is not None
    assert newest["first_offset"] is not None and newest["last_offset"] >= newest["first_offset"]

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(service.metrics_text())
        for s in family.samples
    }
    promotions = sum(
        value
        for (name, labels), value in samples.items()
        if name == "driftline_retrains_total" and ("outcome", "promoted") in labels
    )
    assert promotions == sum(1 for d in decisions if d["outcome"] in ("promoted", "rolled_back"))
    assert ("driftline_memory_set_score", ()) in samples

    kept = [v["id"] for v in history["versions"] if not v["serving"]]
    assert kept, history
    refused = service.http.post(f"/admin/rollback/{kept[0]}")
    assert refused.status_code == 401
    response = service.http.post(
        f"/admin/rollback/{kept[0]}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["versions"][-1]["trigger"] == "rollback"
    assert after["versions"][-1]["parent_id"] == kept[0]
    assert after["current_version"] > history["current_version"]
    unknown = service.http.post(
        "/admin/rollback/9999", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert unknown.status_code == 404
    assert service.http.post("/predict", json={"features": {"x0": 1.0}}).status_code == 200
