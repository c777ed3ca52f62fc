"""The Kafka side against the session's real broker: what is published is what is read back."""

from __future__ import annotations

import itertools
import uuid

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from local_broker import LocalBroker

from producer.messages import to_messages
from producer.publish import publish
from producer.sources import dataset
from tests.fixtures.kafka import TopicFactory

pytestmark = pytest.mark.kafka

# Generous: the first fetch on a fresh topic waits for metadata and a leader.
_POLL_TIMEOUT_MS = 30_000


def read_back(bootstrap_servers: str, topic: str) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """Every ``(key, value)`` of every partition, in offset order, up to the current end."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    try:
        numbers = sorted(consumer.partitions_for_topic(topic))
        partitions = [TopicPartition(topic, number) for number in numbers]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records: dict[int, list[tuple[bytes | None, bytes]]] = {p.partition: [] for p in partitions}
        while any(consumer.position(p) < ends[p] for p in partitions):
            batches = consumer.poll(timeout_ms=_POLL_TIMEOUT_MS)
            assert batches, f"nothing to read within {_POLL_TIMEOUT_MS} ms"
            for assigned, batch in batches.items():
                records[assigned.partition] += [(r.key, r.value) for r in batch]
        return records
    finally:
        consumer.close()


def test_phishing_events_are_read_back_in_order_and_unchanged(
    kafka_broker: LocalBroker, new_topic: TopicFactory
) -> None:
    topic = new_topic(partitions=1)
    examples = list(itertools.islice(dataset("phishing"), 1000))

    summary = publish(
        to_messages(examples),
        topic=topic,
        bootstrap_servers=kafka_broker.bootstrap_servers,
        progress=False,
    )

    assert summary.sent == 1000
    assert not summary.created_topic
    [records] = read_back(kafka_broker.bootstrap_servers, topic).values()
    assert [key for key, _ in records] == [None] * 1000
    read = [orjson.loads(value) for _, value in records]
    assert [(event["features"], event["label"]) for event in read] == examples


def test_a_missing_topic_is_created_and_keyed_events_keep_their_partition(
    kafka_broker: LocalBroker,
) -> None:
    topic = f"test_producer_creates_{uuid.uuid4().hex[:8]}"
    messages = list(to_messages(itertools.islice(dataset("bananas"), 300), ids=True))

    summary = publish(
        messages,
        topic=topic,
        bootstrap_servers=kafka_broker.bootstrap_servers,
        partitions=3,
        progress=False,
    )

    assert summary.created_topic
    assert summary.sent == 300
    records = read_back(kafka_broker.bootstrap_servers, topic)
    assert sorted(records) == [0, 1, 2]
    assert all(records.values()), "300 keys spread over every partition"
    for partition, read in records.items():
        ids = [int(key) for key, _ in read]
        assert ids == sorted(ids), f"partition {partition} is in send order"
        assert all(orjson.loads(value)["id"] == key.decode() for key, value in read)
    assert sorted(key for read in records.values() for key, _ in read) == sorted(
        m.key for m in messages
    )
