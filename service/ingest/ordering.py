"""The order in which records of several partitions are learned: a k-way merge by timestamp.

Kafka orders records within a partition only, and a poll returns whatever batches the fetcher
happens to hold, so learning "poll by poll" interleaves partitions according to fetch sizes,
timing and where the run started. One global model learns from every partition, and the order
is part of what it learns: a model restored from a checkpoint must go on exactly as the
uninterrupted one would have.

:class:`PartitionMerge` buffers each partition's records in offset order and gives them out
as a k-way merge: the next record is the partition *head* (its oldest buffered record) with
the smallest key ``(timestamp, rank)``, the record's own timestamp (``CreateTime``, or
``LogAppendTime`` if the topic says so) first, the partition's rank in the merge's list to break
ties (the event topic's partitions in ascending order, then the feedback topic's, so a question
comes before an answer stamped the same millisecond). A partition holds at most one head, so
the offset never has to break a tie; within a partition records stay in offset order even when
their timestamps do not. The partitions may belong to several topics: the merge only needs a
key per partition.

A head is only given out while every partition either has a head or is *caught up*: its next
offset to fetch has reached its high watermark, so nothing more of it is in the topic yet.
When a partition's buffer runs out and it is not caught up, the merge stops and waits for the
next poll. The merge's only state is therefore the next offset of each partition — exactly
what a checkpoint stores — and its choices depend only on the records at those offsets:

- **A backlog** (every record already in the topic when it is fetched: a replay, a restart
  that catches up, a restore from a checkpoint) is learned in an order that is a pure function
  of the data and of the positions started from, however the polls return it. An uninterrupted
  run and a run killed and restored any number of times learn it in the same order.
- **At the live edge** a caught-up partition does not hold the others back: the merge learns
  what has arrived. A record that reaches the broker *after* a later-stamped record of another
  partition has been learned is learned after it, whereas a replay of the same data would learn
  it first. So on a live stream the order follows arrival for records that land on different
  partitions within about one poll of each other, and a restore that has to catch up on such
  records may interleave them differently from the run it replaces.
- A partition that cannot be fetched (its leader unavailable, its high watermark unknown)
  holds the others back until it can: determinism is bought with that wait.

Examples
--------
>>> from collections import namedtuple
>>> Record = namedtuple("Record", "partition offset timestamp")
>>> merge = PartitionMerge([0, 1])
>>> merge.add(0, [Record(0, 0, 10), Record(0, 1, 30)])
>>> [r[:2] for r in merge.drain(caught_up=lambda p: False)]  # nothing of 1 yet: wait
[]
>>> merge.add(1, [Record(1, 0, 20)])
>>> [r[:2] for r in merge.drain(caught_up=lambda p: False)]  # then 1 runs out: wait
[(0, 0), (1, 0)]
>>> [r[:2] for r in merge.drain(caught_up=lambda p: True)]  # 1 has nothing more
[(0, 1)]
>>> [r[:2] for r in merged([Record(1, 0, 5), Record(0, 0, 5), Record(0, 1, 1)])]
[(0, 0), (0, 1), (1, 0)]
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from operator import attrgetter
from typing import Any, Generic, Protocol, TypeVar

from kafka.errors import KafkaError

__all__ = ["PartitionMerge", "PollOrder", "Record", "merged"]

# With several partitions, at most this many polls' worth of a partition's records wait in the
# merge while another partition holds them back; the rest is dropped and fetched again later.
# A fetch brings up to 1 MB per partition (~2,900 events of the demo's size) and a poll hands it
# out 500 records at a time, so this keeps about two fetches (5,000 records, a few MB) and a
# backlog rarely has to be fetched twice.
#
# Not consumer.pause(): kafka-python 3.0.12 parks the fetched records of a partition paused while
# they are in line, and after resume() takes them back only if its in-line slot is None, which
# it never is again once a fetch has been read (a drained record set stays there). Meanwhile it
# does not fetch a partition with parked records, so a resumed partition starves for good.
_BUFFERED_POLLS = 10


class Record(Protocol):
    """What the merge reads of a record (kafka-python's ``ConsumerRecord`` has all three)."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def timestamp(self) -> int: ...


R = TypeVar("R", bound=Record)
K = TypeVar("K", bound=Hashable)


class PartitionMerge(Generic[R, K]):
    """Per-partition buffers of polled records, given out in one reproducible order.

    Parameters
    ----------
    partitions
        A key for every partition the records come from (a partition number, or a topic and
        partition), in rank order: the merge waits for each of them, and of two heads stamped
        alike gives out the earlier-ranked one first.
    """

    def __init__(self, partitions: Iterable[K]) -> None:
        self._buffers: dict[K, deque[R]] = {p: deque() for p in partitions}
        if not self._buffers:
            raise ValueError("a merge needs at least one partition")
        self._rank = {p: rank for rank, p in enumerate(self._buffers)}

    @property
    def partitions(self) -> tuple[K, ...]:
        """The partitions merged, in rank order."""
        return tuple(self._buffers)

    def add(self, partition: K, records: Iterable[R]) -> None:
        """Buffer a partition's records, which follow what it already holds in offset order."""
        self._buffers[partition].extend(records)

    def buffered(self, partition: K) -> int:
        """Records of ``partition`` polled and not given out yet."""
        return len(self._buffers[partition])

    def truncate(self, partition: K, limit: int) -> int | None:
        """Keep the first ``limit`` records of a partition; say where the dropped ones began.

        Returns the offset of the first record dropped (fetch from there to get them back), or
        ``None`` when the partition holds no more than ``limit``.
        """
        buffer = self._buffers[partition]
        if len(buffer) <= limit:
            return None
        first = buffer[limit].offset
        while len(buffer) > limit:
            buffer.pop()
        return first

    def __len__(self) -> int:
        return sum(len(buffer) for buffer in self._buffers.values())

    def drain(self, caught_up: Callable[[K], bool]) -> Iterator[R]:
        """Give out buffered records in merge order for as long as the order is settled.

        ``caught_up(partition)`` says whether a partition with nothing buffered has nothing
        more in the topic either; it is asked only about such partitions. The iteration ends
        when every buffer is empty or an empty partition is not caught up.

        A record leaves its buffer only when the *next* one is asked for (or the iteration
        ends): a caller that breaks out of its loop before handling the record in hand leaves
        that record at the head of its partition, to be given out first next time. So decide
        to stop *before* handling a record, never after.
        """
        buffers = self._buffers
        partitions = list(buffers)
        heads: list[tuple[int, int]] = []
        for rank, buffer in enumerate(buffers.values()):
            if buffer:
                heads.append((buffer[0].timestamp, rank))
            elif not caught_up(partitions[rank]):
                return
        heapq.heapify(heads)
        while heads:
            rank = heads[0][1]
            partition = partitions[rank]
            buffer = buffers[partition]
            yield buffer[0]
            buffer.popleft()
            if buffer:
                heapq.heapreplace(heads, (buffer[0].timestamp, rank))
            else:
                heapq.heappop(heads)
                if not caught_up(partition):
                    return


def merged(
    records: Iterable[R], partition: Callable[[R], Any] = attrgetter("partition")
) -> list[R]:
    """Records of a whole backlog in the order the service learns them (every partition done).

    The records may come in any order; each partition's are put back in offset order first.
    ``partition`` names a record's partition (for records of several topics, a key such as
    ``(rank of its topic, partition)``); the keys rank in ascending order. This is the order an
    ingest worker reading the same records from the same positions gives.
    """
    by_partition: dict[Any, list[R]] = defaultdict(list)
    for record in records:
        by_partition[partition(record)].append(record)
    if not by_partition:
        return []
    merge: PartitionMerge[R, Any] = PartitionMerge(sorted(by_partition))
    for partition, found in by_partition.items():
        merge.add(partition, sorted(found, key=lambda record: record.offset))
    return list(merge.drain(caught_up=lambda _partition: True))


class PollOrder:
    """The order records are learned in, whatever the polls happened to bring.

    One partition: offset order, as polled. Several (of one topic, or of the event and the
    feedback topic): buffered per partition and released in the order of
    :class:`PartitionMerge` (by record timestamp, then rank), which waits for a partition that
    still has records in the topic and is reproduced exactly from a checkpoint's per-partition
    positions. A partition holds at most :data:`_BUFFERED_POLLS` polls' worth of records
    waiting; what a poll brings beyond that is dropped and fetched again later, so memory stays
    bounded.

    Parameters
    ----------
    consumer
        The kafka-python consumer the batches come from (it answers positions and watermarks).
    partitions
        The assigned ``TopicPartition`` s in rank order.
    """

    def __init__(self, consumer: Any, partitions: Sequence[Any], max_poll_records: int) -> None:
        self.consumer = consumer
        self.partitions = tuple(partitions)
        self.max_poll_records = max_poll_records
        self.merge: PartitionMerge[Any, Any] | None = (
            PartitionMerge(self.partitions) if len(self.partitions) > 1 else None
        )

    def records(self, batch: dict[Any, list[Any]]) -> list[Any]:
        """The records of one poll's batch that can be learned now, in learning order."""
        merge = self.merge
        if merge is None:
            return [record for records in batch.values() for record in records]
        for tp, records in batch.items():
            merge.add(tp, records)
        ordered = list(merge.drain(self._caught_up))
        limit = _BUFFERED_POLLS * self.max_poll_records
        for tp in self.partitions:
            refetch_from = merge.truncate(tp, limit)
            if refetch_from is not None:
                self.consumer.seek(tp, refetch_from)
        return ordered

    def _caught_up(self, tp: Any) -> bool:
        """Whether every record of partition ``tp`` in the topic has been polled (as far as known).

        The high watermark is the one the last fetch response carried; unknown (no response
        yet) counts as not caught up, so the merge waits rather than guess.
        """
        highwater = self.consumer.highwater(tp)
        if highwater is None:
            return False
        try:
            position = self.consumer.position(tp, timeout_ms=0)
        except KafkaError:  # the next poll raises it where it is handled; wait meanwhile
            return False
        return position is not None and position >= highwater
