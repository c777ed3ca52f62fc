"""The fetch process seen from outside: what it is given, and what its deaths look like.

A fetch process that keeps dying is a named failure, never a silent stall: each restart is
counted, the next waits longer, and ``/ready`` answers 503 saying why while ``/predict`` serves
on. The process holds no secret: the checkpoint key and the admin token stay in the service.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.fixtures.service import one_fetch_child
from tests.system.streams import produce

pytestmark = pytest.mark.kafka

KEY = "fetch-test-checkpoint-key-0123456789abcdef"
TOKEN = "fetch-test-admin-token-0123456789abcdef"


def test_the_fetch_process_gets_no_secret_from_the_environment(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic()
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        state_dir=tmp_path / "state",
        checkpoint_key=KEY,
        admin_token=TOKEN,
    )
    service.wait_ready()
    child = one_fetch_child(service)
    parent = Path(f"/proc/{service.process.pid}/environ").read_bytes()
    environment = Path(f"/proc/{child}/environ").read_bytes()
    assert KEY.encode() in parent and TOKEN.encode() in parent  # the service has them
    assert KEY.encode() not in environment and TOKEN.encode() not in environment
    names = [entry.split(b"=", 1)[0] for entry in environment.split(b"\0") if entry]
    assert not [name for name in names if name.startswith(b"DRIFTLINE_")]
    assert b"PATH" in names  # an environment, only without the secrets


def test_a_fetch_process_that_keeps_dying_is_counted_backed_off_and_makes_ready_503(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic()
    produce(kafka_broker.bootstrap_servers, topic, "synth", "agrawal", "--limit", "2000")
    service = service_factory(topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic)
    service.wait_handled(2_000)
    assert service.http.get("/ready").status_code == 200

    # Kill each fetch process as soon as it exists, before it delivers anything: a fault that
    # kills every child, like the poison records did.
    child, started = one_fetch_child(service), []
    for deaths in (1, 2, 3):
        os.kill(child, signal.SIGKILL)
        if deaths == 3:  # while the service waits to start the fourth
            service.wait_until(
                lambda: "(3 in a row)" in service.http.get("/ready").json()["detail"],
                timeout=10,
                what="not ready, saying why",
                pause=0.05,
            )
            answer = service.http.get("/ready")
            assert answer.status_code == 503
            assert "the fetch process keeps failing" in answer.json()["detail"]
            assert "exited (status -9)" in answer.json()["detail"]
            assert service.sample("driftline_fetch_restarts_total") == 3.0
            assert service.http.post("/predict", json={"features": {"x": 1.0}}).status_code == 200
        child = one_fetch_child(service, other_than=child)
        started.append(time.monotonic())
    # Each restart waits twice as long as the one before (1 s, 2 s, 4 s).
    assert started[2] - started[1] > 1.5 * (started[1] - started[0]) > 1.0

    # Left alone, the last one delivers: ready again, and no more restarts.
    service.wait_until(lambda: service.http.get("/ready").status_code == 200, 30, "ready again")
    assert service.sample("driftline_fetch_restarts_total") == 3.0
