"""Crash equivalence: a service killed and restarted ends with exactly the uninterrupted model.

Every test replays a seeded stream through the producer at a steady rate, interrupts the
service at seeded points, restarts it on the same state folder, and requires the end state to
equal River's progressive validation over the whole stream: the same count of events learned,
the same cumulative metrics to 1e-12, the same answers on probe instances. Nothing lost,
nothing learned twice.

With several partitions the interleaving is part of the model: a backlog spread over three
partitions, killed and restored twice, must end with exactly the model of an uninterrupted run
over the same topic.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from service.state.checkpoint import CheckpointStore
from tests.fixtures.service import ServiceProcess
from tests.system.streams import (
    assert_equivalent_to_river,
    killed_at,
    produce,
    read_back,
    read_back_merged,
    start_producing,
)

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

    def past(service: ServiceProcess, point: int) -> bool:
        return learned(service) >= point and any(state_dir.glob("*.ckpt"))

    try:
        settings = settings_for(topic, state_dir, model)
        service = killed_at(service_factory, settings, kill_points, past)
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
        # No periodic checkpoint before the signal: the only one can be the signal's own.
        no_cadence = {"checkpoint_every_events": 10 * STREAM, "checkpoint_every_s": 3_600.0}
        service = service_factory(**{**settings_for(topic, state_dir, "logreg"), **no_cadence})
        service.wait_until(lambda: learned(service) >= 6_000, timeout=120, what="mid-stream")
        before = learned(service)
        started = time.monotonic()
        exit_code = service.stop(signal.SIGTERM)
        shutdown = time.monotonic() - started
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert exit_code in (0, -signal.SIGTERM)
        assert shutdown < 10.0
        # The signal's checkpoint holds at least everything learned before it was sent.
        checkpoints = CheckpointStore(state_dir, KEY.encode())
        assert len(checkpoints.paths()) == 1
        final = checkpoints.load_latest()
        assert final is not None
        assert final.events_learned >= before
        assert final.positions == {0: final.events_learned}

        service = service_factory(**settings_for(topic, state_dir, "logreg"))
        service.wait_handled(STREAM, timeout=180)
    finally:
        producer.wait(timeout=120)
    assert producer.returncode == 0

    events = read_back(kafka_broker.bootstrap_servers, topic, STREAM)
    assert_equivalent_to_river(service, "logreg", events)


# Big enough that a partition takes several fetches: with ~4,000 events each, kafka-python
# happened to hand every partition over in one piece, and even learning poll by poll restored
# exactly.
BACKLOG = 30_000


def test_three_partitions_killed_twice_learn_exactly_what_an_uninterrupted_run_learns(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic(partitions=3)
    produce(
        kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(BACKLOG),
        "--ids", "--partitions", "3",
    )  # fmt: skip
    # The uninterrupted reference reads the same topic into its own state, under its own group.
    reference = service_factory(
        **{**settings_for(topic, tmp_path / "reference", "logreg"), "group_id": f"{topic}.ref"}
    )
    state_dir = tmp_path / "state"
    rng = random.Random("kills-partitions")
    for point in (rng.randrange(4_000, 12_000), rng.randrange(16_000, 26_000)):
        service = service_factory(**settings_for(topic, state_dir, "logreg"))
        service.wait_until(
            lambda s=service, p=point: learned(s) >= p and any(state_dir.glob("*.ckpt")),
            timeout=60,
            what=f"past event {point} with a checkpoint",
            pause=0.02,
        )
        assert service.stop(signal.SIGKILL) == -signal.SIGKILL
    # The last kill was mid-stream: the state the next service restores has more to learn.
    resumed = CheckpointStore(state_dir, KEY.encode()).load_latest()
    assert resumed is not None and sum(resumed.positions.values()) < BACKLOG
    service = service_factory(**settings_for(topic, state_dir, "logreg"))
    restored = service.wait_handled(BACKLOG, partition=None, timeout=60)
    uninterrupted = reference.wait_handled(BACKLOG, partition=None, timeout=60)

    assert len(restored["offsets"]) == 3 and min(restored["offsets"].values()) > 0
    assert restored["offsets"] == uninterrupted["offsets"]
    assert restored["events_learned"] == uninterrupted["events_learned"] == BACKLOG
    assert restored["metrics"]["cumulative"] == uninterrupted["metrics"]["cumulative"]
    probes = {
        "instances": [
            {"features": {f"x{i}": ((k * 7 + i * 3) % 11 - 5) / 2.5 for i in range(5)}}
            for k in range(25)
        ]
    }
    responses = [s.http.post("/predict/batch", json=probes) for s in (service, reference)]
    assert [response.status_code for response in responses] == [200, 200]
    answers = [response.json() for response in responses]
    assert answers[0]["predictions"] == answers[1]["predictions"]
    # And that order is the merge of the data alone: River, fed the events in merge order.
    events = read_back_merged(kafka_broker.bootstrap_servers, topic, BACKLOG)
    assert_equivalent_to_river(service, "logreg", events)
