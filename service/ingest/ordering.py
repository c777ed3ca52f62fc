"""The order in which records of several partitions are learned: a k-way merge by timestamp.

Kafka orders records within a partition only, and a poll returns whatever batches the fetcher
happens to hold, so learning "poll by poll" interleaves partitions according to fetch sizes,
timing and where the run started. One global model learns from every partition, and the order
is part of what it learns: a model restored from a checkpoint must go on exactly as the
uninterrupted one would have.

:class:`PartitionMerge` buffers each partition's records in offset order and gives them out
as a k-way merge: the next record is the partition *head* (its oldest buffered record) with
the smallest key ``(timestamp, partition)``, the record's own timestamp (``CreateTime``, or
``LogAppendTime`` if the topic says so) first, the partition number to break ties. A partition
holds at most one head, so the offset never has to break a tie; within a partition records
stay in offset order even when their timestamps do not.

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
from collections.abc import Callable, Iterable, Iterator
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


class PartitionMerge(Generic[R]):
    """Per-partition buffers of polled records, given out in one reproducible order.

    Parameters
    ----------
    partitions
        Every partition the records come from; the merge waits for each of them.
    """

    def __init__(self, partitions: Iterable[int]) -> None:
        self._buffers: dict[int, deque[R]] = {p: deque() for p in sorted(partitions)}
        if not self._buffers:
            raise ValueError("a merge needs at least one partition")

    @property
    def partitions(self) -> tuple[int, ...]:
        """The partitions merged, in ascending order."""
        return tuple(self._buffers)

    def add(self, partition: int, records: Iterable[R]) -> None:
        """Buffer a partition's records, which follow what it already holds in offset order."""
        self._buffers[partition].extend(records)

    def buffered(self, partition: int) -> int:
        """Records of ``partition`` polled and not given out yet."""
        return len(self._buffers[partition])

    def truncate(self, partition: int, limit: int) -> int | None:
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

    def drain(self, caught_up: Callable[[int], bool]) -> Iterator[R]:
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
        heads: list[tuple[int, int]] = []
        for partition, buffer in buffers.items():
            if buffer:
                heads.append((buffer[0].timestamp, partition))
            elif not caught_up(partition):
                return
        heapq.heapify(heads)
        while heads:
            partition = heads[0][1]
            buffer = buffers[partition]
            yield buffer[0]
            buffer.popleft()
            if buffer:
                heapq.heapreplace(heads, (buffer[0].timestamp, partition))
            else:
                heapq.heappop(heads)
                if not caught_up(partition):
                    return


def merged(records: Iterable[R]) -> list[R]:
    """Records of a whole backlog in the order the service learns them (every partition done).

    The records may come in any order; each partition's are put back in offset order first.
    This is the order an ingest worker reading the same records from the same positions gives.
    """
    by_partition: dict[int, list[R]] = defaultdict(list)
    for record in records:
        by_partition[record.partition].append(record)
    if not by_partition:
        return []
    merge: PartitionMerge[R] = PartitionMerge(by_partition)
    for partition, found in by_partition.items():
        merge.add(partition, sorted(found, key=lambda record: record.offset))
    return list(merge.drain(caught_up=lambda _partition: True))


class PollOrder:
    """The order records are learned in, whatever the polls happened to bring.

    One partition: offset order, as polled. Several: buffered per partition and released in
    the order of :class:`PartitionMerge` (by record timestamp, then
    partition), which waits for a partition that still has records in the topic and is
    reproduced exactly from a checkpoint's per-partition positions. A partition holds at most
    :data:`_BUFFERED_POLLS` polls' worth of records waiting; what a poll brings beyond that is
    dropped and fetched again later, so memory stays bounded.
    """

    def __init__(self, consumer: Any, partitions: dict[int, Any], max_poll_records: int) -> None:
        self.consumer = consumer
        self.partitions = partitions
        self.max_poll_records = max_poll_records
        self.merge: PartitionMerge[Any] | None = (
            PartitionMerge(partitions) if len(partitions) > 1 else None
        )

    def records(self, batch: dict[Any, list[Any]]) -> list[Any]:
        """The records of one poll's batch that can be learned now, in learning order."""
        merge = self.merge
        if merge is None:
            return [record for records in batch.values() for record in records]
        for tp, records in batch.items():
            merge.add(tp.partition, records)
        ordered = list(merge.drain(self._caught_up))
        limit = _BUFFERED_POLLS * self.max_poll_records
        for partition, tp in self.partitions.items():
            refetch_from = merge.truncate(partition, limit)
            if refetch_from is not None:
                self.consumer.seek(tp, refetch_from)
        return ordered

    def _caught_up(self, partition: int) -> bool:
        """Whether every record of ``partition`` in the topic has been polled (as far as known).

        The high watermark is the one the last fetch response carried; unknown (no response
        yet) counts as not caught up, so the merge waits rather than guess.
        """
        tp = self.partitions[partition]
        highwater = self.consumer.highwater(tp)
        if highwater is None:
            return False
        try:
            position = self.consumer.position(tp, timeout_ms=0)
        except KafkaError:  # the next poll raises it where it is handled; wait meanwhile
            return False
        return position is not None and position >= highwater
