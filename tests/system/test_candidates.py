"""Candidates and a leader switch survive SIGKILLs exactly, through the real broker.

The serving model is the no-change baseline, a logistic regression learns beside it as a
candidate, and the service follows the leader: mid-stream the candidate is proposed, wins its
shadow run and serves. The service is SIGKILLed twice at seeded points around that switch and
restarted on the same state folder; at the end its model, versions, decisions and leaderboard
must equal those of one uninterrupted learner over the same events (built as the service
builds it), to 1e-12.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from service.config import Settings
from service.events import Event
from service.factory import build_learner
from tests.fixtures.service import ServiceProcess
from tests.system.streams import killed_at, read_back, start_producing

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STREAM = 8_000
RATE = 1_500
KEY = "candidates-test-key-0123456789abcdef"
SETTINGS = {
    "model": "nochange",
    "candidates": '["logreg", "hoeffding"]',
    "follow_leader": "true",
    "candidates_budget_us": "1000000000",  # never paused: pausing depends on CPU time
}


def settings_for(topic: str, state_dir: Path) -> dict:
    return {
        **SETTINGS,
        "topic": topic,
        "dead_letter_topic": f"{topic}.dlq",
        "group_id": topic,
        "state_dir": state_dir,
        "checkpoint_key": KEY,
        "checkpoint_every_events": 700,
        "checkpoint_every_s": 0.5,
    }


def version(service: ServiceProcess) -> int:
    return service.http.get("/model").json()["model_version"]


def test_sigkills_around_a_leader_switch_leave_the_uninterrupted_learner(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    state_dir = tmp_path / "state"
    kill_points = sorted(random.Random("candidates").sample(range(800, 2_500), 2))
    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "stationary", "--n", str(STREAM),
        rate=RATE,
    )  # fmt: skip

    def past(service: ServiceProcess, point: int) -> bool:
        learned = service.http.get("/model").json()["events_learned"]
        return learned >= point and any(state_dir.glob("*.ckpt"))

    try:
        settings = settings_for(topic, state_dir)
        service = killed_at(service_factory, settings, kill_points, past)
        service.wait_handled(STREAM, timeout=180)
    finally:
        producer.wait(timeout=120)
    assert producer.returncode == 0
    assert version(service) > 1  # the candidate was promoted along the way

    reference = build_learner(
        Settings(
            model="nochange",
            candidates=["logreg", "hoeffding"],
            follow_leader=True,
            candidates_budget_us=1e9,
        )
    )
    for offset, (x, y) in enumerate(read_back(kafka_broker.bootstrap_servers, topic, STREAM)):
        reference.learn(Event(x, label=y), 0, offset)

    described = service.http.get("/model").json()
    values = reference.values()
    assert described["events_learned"] == values.events_learned
    assert described["model_version"] == values.model_version
    for name, value in values.cumulative.items():
        assert described["metrics"]["cumulative"][name] == pytest.approx(value, abs=1e-12)
    versions = service.http.get("/model/versions").json()
    expected_versions, expected_decisions = reference.versions()
    assert [(v["id"], v["trigger"]) for v in versions["versions"]] == [
        (v.id, v.trigger) for v in expected_versions
    ]
    assert [(d["challenger_id"], d["outcome"]) for d in versions["decisions"]] == [
        (d.challenger_id, d.outcome) for d in expected_decisions
    ]
    board = {row["name"]: row for row in service.http.get("/leaderboard").json()["models"][1:]}
    for row in reference.leaderboard():
        assert board[row.name]["events_learned"] == row.events_learned
        for name, value in row.cumulative.items():
            assert board[row.name]["cumulative"][name] == pytest.approx(value, abs=1e-12)
