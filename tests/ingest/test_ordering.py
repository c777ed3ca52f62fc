"""Records of several partitions are learned in one order, which a checkpoint reproduces.

The merge is simulated against a topic held in memory: polls return random slices of random
partitions, as a fetcher does, and a crash is a run cut short whose learned positions start a
fresh merge. Whatever the polls and wherever the cut, the order is :func:`merged`'s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka import TopicPartition
from prometheus_client import CollectorRegistry

from service.config import Settings
from service.events import decode_event
from service.ingest.dead_letters import DeadLetterSink
from service.ingest.ordering import PartitionMerge, PollOrder, merged
from service.ingest.status import ConsumerState
from service.ingest.wire import FetchedRecord
from service.ingest.worker import IngestWorker
from service.learner import Learner
from service.metrics import ServiceMetrics

TOPIC = "events"


@dataclass(frozen=True)
class Record:
    """The parts of kafka-python's ConsumerRecord that the worker and the merge read."""

    partition: int
    offset: int
    timestamp: int
    value: bytes = b'{"features": {"x": 1.0}, "label": true}'
    key: bytes | None = None
    topic: str = TOPIC


def make_topic(timestamps: list[list[int]]) -> dict[int, list[Record]]:
    return {
        p: [Record(p, offset, ts) for offset, ts in enumerate(stamps)]
        for p, stamps in enumerate(timestamps)
    }


def ids(records: list[Record]) -> list[tuple[int, int]]:
    return [(r.partition, r.offset) for r in records]


def run(
    topic: dict[int, list[Record]],
    positions: dict[int, int],
    rng: random.Random,
    stop_after: int | None = None,
) -> tuple[list[Record], dict[int, int]]:
    """Learn ``topic`` from ``positions`` as the worker does: poll random slices, then drain.

    Returns what was learned and the positions a checkpoint would store.
    """
    fetched = dict(positions)  # next offset to fetch, per partition
    learned_at = dict(positions)
    merge: PartitionMerge[Record, int] = PartitionMerge(topic)
    learned: list[Record] = []

    def caught_up(partition: int) -> bool:
        return fetched[partition] >= len(topic[partition])

    while True:
        for p in rng.sample(sorted(topic), rng.randint(0, len(topic))):
            chunk = topic[p][fetched[p] : fetched[p] + rng.randint(0, 4)]
            merge.add(p, chunk)
            fetched[p] += len(chunk)
        for record in merge.drain(caught_up):
            if stop_after is not None and len(learned) >= stop_after:
                return learned, learned_at
            learned.append(record)
            learned_at[record.partition] = record.offset + 1
        if not len(merge) and all(caught_up(p) for p in topic):
            return learned, learned_at


topics = st.lists(
    st.lists(st.integers(0, 30), max_size=25),  # timestamps, not necessarily increasing
    min_size=2,
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(timestamps=topics, seed=st.integers(0, 2**32))
def test_a_backlog_is_learned_in_one_order_however_the_polls_batch_it(
    timestamps: list[list[int]], seed: int
) -> None:
    topic = make_topic(timestamps)
    expected = merged([r for records in topic.values() for r in records])
    start = dict.fromkeys(topic, 0)
    for attempt in range(3):
        learned, _ = run(topic, start, random.Random(f"{seed}-{attempt}"))
        assert ids(learned) == ids(expected)


@settings(max_examples=200, deadline=None)
@given(timestamps=topics, seed=st.integers(0, 2**32), data=st.data())
def test_a_run_cut_short_and_resumed_from_its_positions_learns_the_same_order(
    timestamps: list[list[int]], seed: int, data: st.DataObject
) -> None:
    topic = make_topic(timestamps)
    total = sum(len(records) for records in topic.values())
    expected = ids(merged([r for records in topic.values() for r in records]))
    rng = random.Random(seed)
    positions = dict.fromkeys(topic, 0)
    learned: list[Record] = []
    for cut in sorted(data.draw(st.lists(st.integers(0, total), max_size=3))):
        # A crash: whatever is buffered is lost; the checkpoint holds the positions.
        more, positions = run(topic, positions, rng, stop_after=cut - len(learned))
        learned += more
    rest, positions = run(topic, positions, rng)
    assert ids(learned + rest) == expected
    assert positions == {p: len(records) for p, records in topic.items()}


def test_every_record_is_ordered_by_timestamp_then_partition_and_offsets_stay_in_order() -> None:
    topic = make_topic([[5, 1, 9], [5, 6], [2, 20]])
    order = merged([r for records in topic.values() for r in records])
    # 0's offset 1 (t=1) waits behind its offset 0 (t=5): the merge never reorders a partition.
    assert ids(order) == [(2, 0), (0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (2, 1)]


def test_a_partition_with_nothing_buffered_holds_the_merge_until_it_is_caught_up() -> None:
    merge: PartitionMerge[Record, int] = PartitionMerge([0, 1, 2])
    merge.add(0, [Record(0, 0, 1), Record(0, 1, 2)])
    merge.add(2, [Record(2, 0, 3)])
    assert list(merge.drain(caught_up=lambda p: False)) == []
    assert ids(list(merge.drain(caught_up=lambda p: p == 1))) == [(0, 0), (0, 1)]  # 0 runs out
    assert len(merge) == 1
    assert ids(list(merge.drain(caught_up=lambda p: True))) == [(2, 0)]
    assert len(merge) == 0


def test_breaking_out_leaves_the_record_in_hand_at_the_head() -> None:
    merge: PartitionMerge[Record, int] = PartitionMerge([0, 1])
    merge.add(0, [Record(0, 0, 1), Record(0, 1, 3)])
    merge.add(1, [Record(1, 0, 2)])
    taken: list[Record] = []
    for record in merge.drain(caught_up=lambda p: True):
        if len(taken) == 2:
            break  # record (0, 1) was given out but not handled
        taken.append(record)
    assert ids(taken) == [(0, 0), (1, 0)]
    assert (merge.buffered(0), merge.buffered(1)) == (1, 0)
    assert ids(list(merge.drain(caught_up=lambda p: True))) == [(0, 1)]


def test_a_merge_needs_a_partition_and_merged_takes_nothing() -> None:
    with pytest.raises(ValueError):
        PartitionMerge([])
    assert merged([]) == []


# --- the fetch process's side: bounded buffers; the worker's side: counting and dead letters ---


class FakeConsumer:
    """Just what the fetch process asks of a KafkaConsumer while it merges."""

    def __init__(self, highwater: dict[int, int | None], position: dict[int, int]) -> None:
        self.highwaters = highwater
        self.positions = position
        self.seeks: list[tuple[int, int]] = []

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp.partition]

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int:
        return self.positions[tp.partition]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp.partition, offset))
        self.positions[tp.partition] = offset


class FakeDeadLetters:
    """A producer whose every send is acknowledged at once; remembers the order."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []

    def send(self, topic: str, *, value: bytes, key: Any, headers: list) -> FakeDeadLetters:
        found = dict(headers)
        self.sent.append((int(found["driftline.partition"]), int(found["driftline.offset"])))
        return self

    def get(self, timeout: float) -> None:
        return None


def poll_order(partitions: int, max_poll_records: int = 500) -> tuple[PollOrder, FakeConsumer]:
    consumer = FakeConsumer(dict.fromkeys(range(partitions)), dict.fromkeys(range(partitions), 0))
    tps = [TopicPartition(TOPIC, p) for p in range(partitions)]
    return PollOrder(consumer, tps, max_poll_records), consumer


def poll(consumer: FakeConsumer, *records: Record) -> dict[TopicPartition, list[Record]]:
    """A poll's batch; the fake consumer's positions and high watermarks move as Kafka's do."""
    batch: dict[TopicPartition, list[Record]] = {}
    for record in records:
        batch.setdefault(TopicPartition(TOPIC, record.partition), []).append(record)
        consumer.positions[record.partition] = record.offset + 1
    return batch


def test_one_partition_is_learned_as_polled() -> None:
    order, consumer = poll_order(1)
    records = [Record(0, offset, 100 - offset) for offset in range(5)]
    assert order.records(poll(consumer, *records)) == records


def test_the_merge_releases_only_what_no_partition_still_fetching_could_precede() -> None:
    order, consumer = poll_order(3)
    topic = make_topic([[1, 4, 7, 10], [2, 5, 8, 11], [3, 6, 9, 12]])
    consumer.highwaters = {p: 4 for p in topic}
    assert order.records(poll(consumer, *topic[0], *topic[1])) == []  # 2 not fetched
    released = order.records(poll(consumer, *topic[2]))
    assert ids(released) == ids(merged([r for p in topic.values() for r in p]))


def test_a_partition_that_runs_ahead_keeps_a_bounded_buffer_and_is_fetched_again() -> None:
    order, consumer = poll_order(2, max_poll_records=1)  # keeps 10 records a partition
    ahead = [Record(0, offset, offset) for offset in range(14)]
    consumer.highwaters = {0: 14, 1: 3}
    assert order.records(poll(consumer, *ahead)) == []  # 1 is not fetched yet
    assert order.merge is not None and order.merge.buffered(TopicPartition(TOPIC, 0)) == 10
    assert consumer.seeks == [(0, 10)]
    behind = [Record(1, offset, offset) for offset in range(3)]
    assert len(order.records(poll(consumer, *behind, *ahead[10:]))) == 17
    assert consumer.seeks == [(0, 10)]


def handling_worker(max_events: int | None = None) -> IngestWorker:
    worker = IngestWorker(
        Settings(topic=TOPIC),
        Learner.for_model("logreg", rolling_window=10),
        ServiceMetrics(CollectorRegistry()),
        ConsumerState(),
        max_events=max_events,
    )
    producer = FakeDeadLetters()
    worker._dead_letters = DeadLetterSink(producer, "dead", TOPIC, worker._stop)  # type: ignore[arg-type]
    worker.dead_letters_sent = producer.sent  # type: ignore[attr-defined]
    return worker


def fetched(*records: Record) -> list[FetchedRecord]:
    """Records as the fetch process sends them: decoded, with their bytes."""
    return [
        FetchedRecord(r.partition, r.offset, r.key, r.value, decode_event(r.value)) for r in records
    ]


def test_the_worker_counts_only_what_it_handles_and_stops_at_max_events() -> None:
    worker = handling_worker(max_events=5)
    topic = make_topic([[1, 4, 7], [2, 5, 8]])
    assert worker._handle(fetched(*merged([*topic[0], *topic[1]]))) == 5
    assert worker.handled == 5
    assert worker.learner.positions == {0: 3, 1: 2}
    assert worker.metrics.events_consumed._value.get() == 5
    assert worker._handle(fetched(*topic[1][2:])) == 0


def test_a_stop_request_leaves_every_record_unhandled_and_uncounted() -> None:
    worker = handling_worker()
    worker._stop.set()
    assert worker._handle(fetched(*make_topic([[1, 3], [2, 4]])[0])) == 0
    assert (worker.handled, worker.learner.positions) == (0, {})


def test_dead_letters_go_out_in_the_learning_order_between_learned_records() -> None:
    worker = handling_worker()
    bad = b"not json"
    records = [
        Record(0, 0, 1),
        Record(1, 0, 2, value=bad),
        Record(1, 1, 3),
        Record(0, 1, 4, value=bad),
        Record(1, 2, 5, value=bad),
    ]
    assert worker._handle(fetched(*records)) == 5
    assert worker.dead_letters_sent == [(1, 0), (0, 1), (1, 2)]  # type: ignore[attr-defined]
    assert worker.learner.events_learned == 2
    assert worker.learner.positions == {0: 2, 1: 3}
