"""Pacing, partitioning and JSON Lines output; the Kafka round trip is in test_publish_kafka."""

from __future__ import annotations

import io

import pytest
from kafka.partitioner.default import DefaultPartitioner

from producer.messages import Message
from producer.publish import PublishSummary, choose_partition, paced, write_jsonl


class FakeClock:
    """A clock that only moves when someone sleeps, or when told to."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_paced_items_are_spaced_by_one_over_the_rate() -> None:
    clock = FakeClock()
    times = [clock.now for _ in paced(range(5), 4.0, clock=clock, sleep=clock.sleep)]

    assert times == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("rate", [None, 0, 0.0])
def test_no_rate_means_no_waiting(rate: float | None) -> None:
    clock = FakeClock()

    assert list(paced(range(3), rate, clock=clock, sleep=clock.sleep)) == [0, 1, 2]
    assert clock.sleeps == []


def test_a_late_consumer_is_not_caught_up_in_a_burst() -> None:
    clock = FakeClock()
    times = []
    for index in paced(range(4), 1.0, clock=clock, sleep=clock.sleep):
        times.append(clock.now)
        if index == 1:
            clock.now += 5.0  # the consumer stalls for five seconds after the second item

    assert times == [0.0, 1.0, 6.0, 7.0]


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="rate must not be negative"):
        list(paced([1], -1.0))


def test_unkeyed_messages_go_round_robin() -> None:
    assert [choose_partition(i, None, [0, 1, 2]) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert [choose_partition(i, None, [0]) for i in range(3)] == [0, 0, 0]


class _Cluster:
    def __init__(self, partitions: set[int]) -> None:
        self.partitions = partitions

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, _topic: str) -> set[int]:
        return self.partitions

    def available_partitions_for_topic(self, _topic: str) -> set[int]:
        return self.partitions


@pytest.mark.parametrize("n_partitions", [1, 3, 8])
def test_keyed_messages_go_where_kafkas_default_partitioner_puts_them(n_partitions: int) -> None:
    partitions = list(range(n_partitions))
    cluster = _Cluster(set(partitions))
    default = DefaultPartitioner()

    for index in range(200):
        key = str(index).encode()
        expected = default.partition("t", None, key, None, None, cluster)
        assert choose_partition(index, key, partitions) == expected


def test_write_jsonl_writes_one_value_per_line_up_to_the_limit() -> None:
    messages = [Message(str(i).encode(), b'{"features":{"x":%d}}' % i) for i in range(5)]
    out = io.BytesIO()

    summary = write_jsonl(messages, out, limit=3, progress=False, destination="memory")

    assert out.getvalue().splitlines() == [m.value for m in messages[:3]]
    assert summary.sent == 3
    assert summary.destination == "memory"


def test_write_jsonl_stops_with_its_input_without_a_limit() -> None:
    out = io.BytesIO()

    summary = write_jsonl([Message(None, b"{}")] * 2, out, progress=False)

    assert out.getvalue() == b"{}\n{}\n"
    assert summary.sent == 2


def test_summary_rate_is_events_per_second() -> None:
    assert PublishSummary(sent=100, seconds=4.0, destination="t").rate == 25.0
    assert PublishSummary(sent=0, seconds=0.0, destination="t").rate == 0.0
