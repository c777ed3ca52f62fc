"""Records that left the topic before they were learned are counted once, and passed for good.

Under ``DRIFTLINE_OFFSET_LOST_POLICY=resume`` the service goes on from the oldest record still
in the topic. Its positions must move there too, in the next checkpoint: else every restart
seeks the lost offset again and reports the same loss, and the lag stays at the size of the
loss on an empty topic (the condition of ``DriftlineConsumerStalled``, firing falsely).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, TopicPartition

from tests.system.streams import produce

pytestmark = pytest.mark.kafka

KEY = "lost-offsets-test-key-0123456789abcdef"
LEARNED = 10
LOST = 1_000


def test_lost_records_are_reported_once_and_a_restart_starts_past_them(
    kafka_broker, kafka_admin: KafkaAdminClient, new_topic, service_factory, tmp_path: Path
) -> None:
    topic = new_topic()
    settings = {
        "topic": topic,
        "dead_letter_topic": f"{topic}.dlq",
        "group_id": topic,
        "state_dir": tmp_path / "state",
        "checkpoint_key": KEY,
        "checkpoint_every_s": 1.0,
    }
    produce(kafka_broker.bootstrap_servers, topic, "synth", "agrawal", "--limit", str(LEARNED))
    service = service_factory(**settings)
    service.wait_handled(LEARNED)
    service.stop(signal.SIGTERM)  # a final checkpoint at offset LEARNED

    # While it is down, LOST more records come and leave the topic before anyone reads them.
    produce(kafka_broker.bootstrap_servers, topic, "synth", "agrawal", "--limit", str(LOST))
    end = LEARNED + LOST
    kafka_admin.delete_records({TopicPartition(topic, 0): end})

    lost = f'driftline_records_lost_total{{partition="0",topic="{topic}"}}'
    lag = f'driftline_consumer_lag_messages{{partition="0",topic="{topic}"}}'
    service = service_factory(**settings)
    service.wait_until(lambda: service.sample(lost) == LOST, 30, "the loss reported")
    service.wait_until(lambda: service.sample(lag) == 0, 30, "no lag on an empty topic")
    assert service.http.get("/model").json()["offsets"] == {"0": end}
    service.stop(signal.SIGTERM)

    # The next start has nothing to report: the checkpoint is past the loss.
    service = service_factory(**settings)
    service.wait_ready()
    service.wait_until(lambda: service.sample(lag) == 0, 30, "no lag on an empty topic")
    assert service.sample(lost) == 0
    assert service.http.get("/model").json()["offsets"] == {"0": end}
