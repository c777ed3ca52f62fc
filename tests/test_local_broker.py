"""The local Kafka broker of ``scripts/local_broker.py`` and the suite's Kafka fixtures."""

from __future__ import annotations

from pathlib import Path

import port_for
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from local_broker import BrokerError, LocalBroker

from tests.fixtures.kafka import TopicFactory

pytestmark = pytest.mark.kafka

# Generous: the first produce and fetch on a fresh topic wait for metadata and a leader.
_IO_TIMEOUT_S = 30


def produce(bootstrap_servers: str, topic: str, value: bytes, key: bytes = b"k") -> int:
    """Write one message with acks=all and return its offset."""
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    try:
        return producer.send(topic, key=key, value=value).get(timeout=_IO_TIMEOUT_S).offset
    finally:
        producer.close()


def read_all(bootstrap_servers: str, topic: str, partition: int = 0) -> list[tuple[bytes, bytes]]:
    """Every ``(key, value)`` of one partition, from the beginning to the current end."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    try:
        assigned = TopicPartition(topic, partition)
        consumer.assign([assigned])
        consumer.seek_to_beginning(assigned)
        end = consumer.end_offsets([assigned])[assigned]
        records: list[tuple[bytes, bytes]] = []
        while consumer.position(assigned) < end:
            batches = consumer.poll(timeout_ms=_IO_TIMEOUT_S * 1000)
            assert batches, f"no records within {_IO_TIMEOUT_S}s, {len(records)} of {end} read"
            records += [(r.key, r.value) for batch in batches.values() for r in batch]
        return records
    finally:
        consumer.close()


def test_broker_answers_metadata(kafka_broker: LocalBroker, kafka_admin: KafkaAdminClient) -> None:
    cluster = kafka_admin.describe_cluster()

    assert kafka_broker.is_running()
    brokers = [(b["host"], b["port"]) for b in cluster["brokers"]]
    assert brokers == [("127.0.0.1", kafka_broker.port)]
    assert isinstance(kafka_admin.list_topics(), list)


def test_new_topic_has_its_partitions_with_leaders(
    new_topic: TopicFactory, kafka_admin: KafkaAdminClient
) -> None:
    topic = new_topic(partitions=3)

    [described] = kafka_admin.describe_topics([topic])
    assert topic.startswith("test_new_topic_has_its_partitions_with_leaders_")
    assert described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]
    assert all(p["leader_id"] >= 0 for p in described["partitions"])


def test_produced_message_is_consumed_back(
    kafka_broker: LocalBroker, new_topic: TopicFactory
) -> None:
    topic = new_topic()

    offset = produce(kafka_broker.bootstrap_servers, topic, b"hello")

    assert offset == 0
    assert read_all(kafka_broker.bootstrap_servers, topic) == [(b"k", b"hello")]


@pytest.mark.slow
def test_restart_keeps_messages_and_storage(tmp_path: Path) -> None:
    """stop() then start() on the same data dir: same cluster, same ports, messages kept."""
    port = port_for.select_random()
    controller_port = port_for.select_random(exclude_ports={port})
    broker = LocalBroker(data_dir=tmp_path, port=port, controller_port=controller_port)
    with broker:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        try:
            admin.create_topics({"kept": {"num_partitions": 1, "replication_factor": 1}})
            admin.wait_for_topics(["kept"])
        finally:
            admin.close()
        produce(broker.bootstrap_servers, "kept", b"before restart")
        meta_before = (broker.log_dirs / "meta.properties").read_text()
        # Another object on the same data dir sees the broker and does not start a second one.
        twin = LocalBroker(data_dir=tmp_path, port=port, controller_port=controller_port)
        assert twin.is_running()
        twin.start()
        assert twin.pid == broker.pid
        moved = LocalBroker(data_dir=tmp_path, port=controller_port + 1, controller_port=port)
        with pytest.raises(BrokerError, match="belongs to a broker on port"):
            moved.start()

        assert broker.stop() is True
        assert not broker.is_running()
        assert not twin.is_running()
        assert broker.stop() is False  # idempotent

        broker.start()
        produce(broker.bootstrap_servers, "kept", b"after restart")

        assert (broker.log_dirs / "meta.properties").read_text() == meta_before
        assert read_all(broker.bootstrap_servers, "kept") == [
            (b"k", b"before restart"),
            (b"k", b"after restart"),
        ]
    assert not broker.is_running()
