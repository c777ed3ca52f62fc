"""Crash equivalence: a service killed and restarted ends with exactly the uninterrupted model.

Every test replays a seeded stream through the producer at a steady rate, interrupts the
service at seeded points, restarts it on the same state folder, and requires the end state to
equal River's progressive validation over the whole stream: the same count of events learned,
the same cumulative metrics to 1e-12, the same answers on probe instances. Nothing lost,
nothing learned twice.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from tests.fixtures.service import ServiceProcess
from tests.system.streams import assert_equivalent_to_river, read_back, start_producing

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

STREAM = 20_000
RATE = 1_500  # events/s: slow enough that every interruption lands mid-stream
KEY = "recovery-test-key-0123456789abcdef"


def settings_for(topic: str, state_dir: Path, model: str) -> dict:
    return {
        "topic": topic,
        "dead_letter_topic": f"{topic}.dlq",
        "group_id": topic,
        "model": model,
        "state_dir": state_dir,
        "checkpoint_key": KEY,
        "checkpoint_every_events": 1_000,
        "checkpoint_every_s": 1.0,
    }


def learned(service: ServiceProcess) -> int:
    return service.http.get("/model").json()["events_learned"]


@pytest.mark.parametrize("model", ["logreg", "hoeffding"])
def test_three_sigkills_at_random_points_leave_the_uninterrupted_model(
    kafka_broker, new_topic, service_factory, tmp_path: Path, model: str
) -> None:
    topic = new_topic(partitions=1)
    state_dir = tmp_path / "state"
    kill_points = sorted(random.Random(f"kills-{model}").sample(range(2_000, 17_000), 3))
    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(STREAM),
        rate=RATE,
    )  # fmt: skip
    try:
        for point in kill_points:
            service = service_factory(**settings_for(topic, state_dir, model))
            service.wait_until(
                lambda s=service, p=point: learned(s) >= p and any(state_dir.glob("*.ckpt")),
                timeout=120,
                what=f"past event {point} with a checkpoint",
                pause=0.02,
            )
            assert service.stop(signal.SIGKILL) == -signal.SIGKILL
        service = service_factory(**settings_for(topic, state_dir, model))
        service.wait_handled(STREAM, timeout=180)
    finally:
        producer.wait(timeout=120)
    assert producer.returncode == 0

    events = read_back(kafka_broker.bootstrap_servers, topic, STREAM)
    assert_equivalent_to_river(service, model, events)


def test_sigterm_checkpoints_and_exits_within_10_s_then_resumes_exactly(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    state_dir = tmp_path / "state"
    producer = start_producing(
        kafka_broker.bootstrap_servers, topic, "scenario", "gradual", "--n", str(STREAM),
        rate=RATE,
    )  # fmt: skip
    try:
        service = service_factory(**settings_for(topic, state_dir, "logreg"))
        service.wait_until(lambda: learned(service) >= 6_000, timeout=120, what="mid-stream")
        started = time.monotonic()
        exit_code = service.stop(signal.SIGTERM)
        shutdown = time.monotonic() - started
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert exit_code in (0, -signal.SIGTERM)
        assert shutdown < 10.0
        log = service.log_path.read_text()
        assert "final checkpoint at offsets" in log
        assert "Application shutdown complete" in log
        newest = sorted(state_dir.glob("*.ckpt"))[-1]
        assert newest.stat().st_mtime >= time.time() - shutdown - 1.0

        service = service_factory(**settings_for(topic, state_dir, "logreg"))
        service.wait_handled(STREAM, timeout=180)
    finally:
        producer.wait(timeout=120)

    events = read_back(kafka_broker.bootstrap_servers, topic, STREAM)
    assert_equivalent_to_river(service, "logreg", events)
