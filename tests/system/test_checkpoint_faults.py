"""A state folder on the real broker: faults in it never stop learning, and it is one stream's.

A folder by a checkpoint's name is logged and counted and learning goes on; a folder reused for
another topic, a topic with fewer partitions or another cluster stops the process with a
message naming both sides (or, with ``DRIFTLINE_STATE_MISMATCH=start_fresh``, its checkpoints
are moved aside and a fresh model learns the topic from its start); a service with no state
folder never claims a final checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import struct
import subprocess
from pathlib import Path

import port_for
import pytest

from tests.fixtures.service import ServiceProcess
from tests.system.streams import produce

pytestmark = pytest.mark.kafka

KEY = "checkpoint-faults-test-key-0123456789"
EVENTS = 300


def stateful(topic: str, state_dir: Path, **more: object) -> dict:
    return {
        "topic": topic,
        "dead_letter_topic": f"{topic}.dlq",
        "group_id": topic,
        "state_dir": state_dir,
        "checkpoint_key": KEY,
        **more,
    }


def refused(bootstrap_servers: str, tmp_path: Path, timeout: float = 90.0, **settings) -> str:
    """Run a service that must refuse: wait for it to exit with status 1; return its message.

    The refusal is the process's exit message, one ``driftline: ...`` line on stderr.
    """
    env = {
        "DRIFTLINE_BOOTSTRAP_SERVERS": bootstrap_servers,
        "DRIFTLINE_PORT": str(port_for.select_random()),
        **{f"DRIFTLINE_{key.upper()}": str(value) for key, value in settings.items()},
    }
    service = ServiceProcess(env, tmp_path / f"refused-{env['DRIFTLINE_PORT']}.log")
    try:
        returncode = service.process.wait(timeout)
    except subprocess.TimeoutExpired:
        service.stop(signal.SIGKILL)
        pytest.fail(f"the service did not refuse:\n{service.log_tail()}")
    log = service.log_tail(200)
    service.stop()
    assert returncode == 1, log
    [message] = [line for line in log.splitlines() if line.startswith("driftline: ")]
    return message


def checkpoint_files(state: Path) -> dict[str, str]:
    """Every checkpoint file of a state folder by name, with the SHA-256 of its bytes."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in state.glob("checkpoint-*.ckpt")
    }


def resign(path: Path, **owner: object) -> None:
    """Rewrite a checkpoint's owner and sign it again with the key, as a key holder could."""
    data = path.read_bytes()
    (length,) = struct.unpack_from(">I", data, 40)
    header = json.loads(data[44 : 44 + length])
    header["owner"] = {**header["owner"], **owner}
    raw = json.dumps(header, sort_keys=True).encode()
    body = struct.pack(">I", len(raw)) + raw + data[44 + length :]
    path.write_bytes(data[:8] + hmac.new(KEY.encode(), body, hashlib.sha256).digest() + body)


def learn_and_stop(service_factory, settings: dict, bootstrap_servers: str, count: int) -> None:
    service = service_factory(**settings)
    produce(bootstrap_servers, settings["topic"], "scenario", "abrupt", "--n", str(count))
    service.wait_handled(count)
    service.stop()  # SIGTERM: the final checkpoint


def test_a_folder_where_a_checkpoint_goes_is_counted_and_learning_goes_on(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic, state = new_topic(), tmp_path / "state"
    (state / "checkpoint-000000000001.ckpt").mkdir(parents=True)  # the first file's name
    settings = stateful(
        topic, state, checkpoints_kept=1, checkpoint_every_events=50, checkpoint_every_s=0.2
    )
    service = service_factory(**settings)
    produce(kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", str(EVENTS))
    service.wait_handled(EVENTS)
    service.wait_until(
        lambda: (service.sample("driftline_checkpoints_total") or 0) >= 1, 30, "a checkpoint"
    )
    assert service.sample("driftline_checkpoint_failures_total") >= 1
    assert service.http.get("/ready").status_code == 200
    service.stop()
    assert (state / "checkpoint-000000000001.ckpt").is_dir()  # never pruned as a file
    again = service_factory(**settings)
    assert again.http.get("/model").json()["events_learned"] == EVENTS


def test_a_folder_of_another_topic_stops_the_service_or_starts_fresh_on_request(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    first, second, state = new_topic(), new_topic(), tmp_path / "state"
    learn_and_stop(service_factory, stateful(first, state), kafka_broker.bootstrap_servers, EVENTS)
    produce(kafka_broker.bootstrap_servers, second, "scenario", "abrupt", "--n", "100")

    kept = checkpoint_files(state)
    message = refused(kafka_broker.bootstrap_servers, tmp_path, **stateful(second, state))
    assert f"topic '{first}' in the state folder, '{second}' now" in message
    assert "DRIFTLINE_STATE_MISMATCH=start_fresh" in message
    assert checkpoint_files(state) == kept  # refused: nothing moved, added or rewritten

    fresh = service_factory(**stateful(second, state, state_mismatch="start_fresh"))
    assert fresh.wait_handled(100)["events_learned"] == 100  # the whole topic, from its start
    (aside,) = state.glob("mismatched-*")
    assert list(aside.glob("checkpoint-*.ckpt"))


@pytest.mark.parametrize(
    ("owner", "conflict"),
    [
        ({"partitions": 3}, "3 partitions in the state folder, 1 now"),
        ({"cluster_id": "another-cluster"}, "cluster_id 'another-cluster' in the state folder"),
    ],
)
def test_a_checkpoint_of_another_cluster_or_a_wider_topic_is_refused_once_kafka_answers(
    kafka_broker, new_topic, service_factory, tmp_path: Path, owner: dict, conflict: str
) -> None:
    topic, state = new_topic(), tmp_path / "state"
    learn_and_stop(service_factory, stateful(topic, state), kafka_broker.bootstrap_servers, EVENTS)
    (newest,) = sorted(state.glob("checkpoint-*.ckpt"))[-1:]
    resign(newest, **owner)
    kept = checkpoint_files(state)
    message = refused(kafka_broker.bootstrap_servers, tmp_path, **stateful(topic, state))
    assert conflict in message
    assert checkpoint_files(state) == kept  # refused: nothing moved, added or rewritten


def test_start_fresh_on_another_cluster_learns_the_topic_again_from_its_start(
    kafka_broker, new_topic, service_factory, tmp_path: Path
) -> None:
    topic, state = new_topic(), tmp_path / "state"
    learn_and_stop(service_factory, stateful(topic, state), kafka_broker.bootstrap_servers, EVENTS)
    for path in state.glob("checkpoint-*.ckpt"):
        resign(path, cluster_id="another-cluster")
    service = service_factory(**stateful(topic, state, state_mismatch="start_fresh"))
    service.wait_until(  # this process learned the topic once more (the restored model had it)
        lambda: service.sample("driftline_events_learned_total") == EVENTS, 60, "relearned"
    )
    assert service.http.get("/model").json()["events_learned"] == EVENTS  # by a fresh model
    assert list(state.glob("mismatched-*/checkpoint-*.ckpt"))
    service.stop()
    again = service_factory(**stateful(topic, state))  # its own checkpoint now: no mismatch
    assert again.http.get("/model").json()["events_learned"] == EVENTS


def test_a_state_path_that_is_a_file_is_refused_at_start(kafka_broker, tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_text("a file, not a folder")
    message = refused(kafka_broker.bootstrap_servers, tmp_path, state_dir=path, checkpoint_key=KEY)
    assert "cannot be used as the state folder" in message
    assert path.read_text() == "a file, not a folder"


def test_no_final_checkpoint_is_claimed_without_a_state_folder(
    kafka_broker, new_topic, service_factory
) -> None:
    topic = new_topic()
    service = service_factory(topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic)
    produce(kafka_broker.bootstrap_servers, topic, "scenario", "abrupt", "--n", "50")
    service.wait_handled(50)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert service.stop() in (0, -signal.SIGTERM)
    log = service.log_path.read_text()
    assert "Application shutdown complete" in log  # the shutdown that would claim one ran
    assert "final checkpoint" not in log
