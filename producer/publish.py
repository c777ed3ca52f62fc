"""Sending messages: to a Kafka topic, or as JSON Lines to a file or stdout, at a steady rate.

The Kafka side creates the topic when it is missing, then writes with ``acks="all"`` and the
idempotent producer, so a retried batch is neither lost nor duplicated nor reordered within a
partition. Every message's partition is chosen here, explicitly and deterministically (see
:func:`choose_partition`): kafka-python's default partitioner picks a *random* partition for a
message without a key, and a replayed stream would then interleave differently every time.

Delivery is checked, not assumed: the first failed send stops the run, and everything sent is
flushed and acknowledged before :func:`publish` returns.

Examples
--------
>>> import io
>>> from producer.messages import Message
>>> out = io.BytesIO()
>>> write_jsonl([Message(None, b'{"features":{"x":1}}')] * 3, out, limit=2, progress=False).sent
2
>>> out.getvalue()
b'{"features":{"x":1}}\\n{"features":{"x":1}}\\n'
>>> choose_partition(5, None, [0, 1, 2]), choose_partition(5, b"event-7", [0, 1, 2])
(2, 0)
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, TypeVar

from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaTimeoutError
from kafka.partitioner.default import murmur2
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from producer.messages import Message
from service.errors import DriftlineError
from service.ingest.topics import ensure_topics

__all__ = [
    "CLIENT_ID",
    "LINGER_MS",
    "PublishError",
    "PublishSummary",
    "choose_partition",
    "ensure_topic",
    "paced",
    "publish",
    "write_jsonl",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

CLIENT_ID = "driftline-producer"
# Wait up to 5 ms to fill a batch: at high rates that batches hundreds of events per request,
# at a few events per second it adds 5 ms of latency, which nobody watching a dashboard sees.
LINGER_MS = 5
# How long a new topic may take to have a leader for every partition (KRaft can lag a little).
TOPIC_READY_TIMEOUT_MS = 30_000
# Bound on the final flush and close, so that a dead broker cannot hang the tool forever; the
# producer's own delivery timeout (2 minutes) fails every unacknowledged send before this.
CLOSE_TIMEOUT_S = 150.0


class PublishError(DriftlineError):
    """Events could not be delivered: no broker, or the broker refused or lost a send."""


@dataclass(frozen=True, slots=True)
class PublishSummary:
    """What a run did: events delivered, where, and how long it took."""

    sent: int
    seconds: float
    destination: str
    created_topic: bool = False

    @property
    def rate(self) -> float:
        """Events per second over the whole run."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def paced(
    items: Iterable[T],
    rate: float | None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[T]:
    """Yield ``items`` no faster than ``rate`` per second; ``None`` or 0: as fast as they come.

    Items are spaced ``1 / rate`` seconds apart. When the consumer falls behind (a slow broker,
    a paused terminal) the schedule restarts from now instead of catching up in a burst, so the
    rate a downstream service sees never exceeds ``rate``.

    Examples
    --------
    >>> now = [0.0]
    >>> out = list(paced(range(3), 2.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(
    ...     0, now[0] + s)))
    >>> out, now[0]
    ([0, 1, 2], 1.0)
    """
    if rate is not None and rate < 0:
        raise ValueError(f"rate must not be negative, not {rate}")
    if not rate:
        yield from items
        return
    interval = 1.0 / rate
    due = clock()
    for item in items:
        now = clock()
        if due > now:
            sleep(due - now)
        else:
            due = now
        yield item
        due += interval


def choose_partition(index: int, key: bytes | None, partitions: Sequence[int]) -> int:
    """The partition of the ``index``-th message (from 0) among a topic's sorted ``partitions``.

    A keyed message goes where Kafka's Java client and kafka-python's default partitioner put
    it (murmur2 of the key), so every event of one id stays on one partition, in order. A
    message without a key goes round robin by its index, which spreads a stream evenly and
    gives the same layout on every replay. With one partition, everything goes to it.
    """
    if key is None:
        return partitions[index % len(partitions)]
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


def ensure_topic(bootstrap_servers: str, topic: str, partitions: int) -> bool:
    """Create ``topic`` with ``partitions`` partitions unless it exists; say if it was created.

    An existing topic is left as it is, whatever its partition count: repartitioning would
    move keys between partitions under its consumers' feet.
    """
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID)
    except KafkaTimeoutError:
        raise PublishError(f"no Kafka broker answered at {bootstrap_servers}") from None
    try:
        created = ensure_topics(admin, {topic: partitions})
        admin.wait_for_topics([topic], timeout_ms=TOPIC_READY_TIMEOUT_MS)
    finally:
        admin.close()
    return bool(created)


def publish(
    messages: Iterable[Message],
    *,
    topic: str,
    bootstrap_servers: str,
    partitions: int = 1,
    rate: float | None = None,
    limit: int | None = None,
    total: int | None = None,
    progress: bool = True,
    feedback_topic: str | None = None,
) -> PublishSummary:
    """Send ``messages`` to ``topic`` in order, creating it if missing, and wait for every ack.

    Parameters
    ----------
    messages
        The messages, sent in this order.
    topic, bootstrap_servers
        Where to send them.
    partitions
        Partitions of the topic if it has to be created; an existing topic keeps its own.
    rate
        Events per second; ``None`` or 0 sends as fast as the broker takes them.
    limit
        Send at most this many messages.
    total
        How many messages to expect, for the progress bar; ``None`` when unknown or endless.
    progress
        Show a progress bar on stderr when it is a terminal.
    feedback_topic
        Where the answers go instead (created like ``topic``). The service merges the two
        topics by record timestamp, so every record is then stamped one millisecond after the
        one before at least: the merge reproduces the order they were sent in. Faster than
        1,000 messages a second the stamps run ahead of the clock by the surplus.

    Raises
    ------
    PublishError
        When no broker answers or a send fails; events sent before the failure stay sent.
    """
    created = ensure_topic(bootstrap_servers, topic, partitions)
    if feedback_topic is not None:
        ensure_topic(bootstrap_servers, feedback_topic, partitions)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=CLIENT_ID,
        acks="all",
        enable_idempotence=True,
        linger_ms=LINGER_MS,
    )
    deliveries = _Deliveries()
    started = time.perf_counter()
    stamp = _IncreasingStamps() if feedback_topic is not None else None
    try:
        layouts = {topic: sorted(producer.partitions_for(topic))}
        if feedback_topic is not None:
            layouts[feedback_topic] = sorted(producer.partitions_for(feedback_topic))
        for name, layout in layouts.items():
            if len(layout) != partitions:
                log.info("topic %s has %d partition(s); using them all", name, len(layout))
        with _progress(progress, f"→ {topic}", _expected(total, limit)) as advance:
            for index, message in enumerate(paced(_limited(messages, limit), rate)):
                if deliveries.failures:
                    break
                destination = feedback_topic if message.answer and feedback_topic else topic
                future = producer.send(
                    destination,
                    value=message.value,
                    key=message.key,
                    partition=choose_partition(index, message.key, layouts[destination]),
                    timestamp_ms=None if stamp is None else stamp(),
                )
                future.add_callback(deliveries.acknowledged)
                future.add_errback(deliveries.failed)
                advance()
            producer.flush(timeout=CLOSE_TIMEOUT_S)
    finally:
        producer.close(timeout=CLOSE_TIMEOUT_S)
    seconds = time.perf_counter() - started
    if deliveries.failures:
        raise PublishError(
            f"sending to {topic} failed after {deliveries.sent} events: {deliveries.failures[0]}"
        )
    return PublishSummary(
        sent=deliveries.sent, seconds=seconds, destination=topic, created_topic=created
    )


class _IncreasingStamps:
    """Record timestamps (ms) that follow the clock but never repeat or go back.

    >>> clock = iter([5.0, 5.0, 5.0004, 7.0])
    >>> stamp = _IncreasingStamps(clock=lambda: next(clock))
    >>> [stamp() for _ in range(4)]
    [5000, 5001, 5002, 7000]
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last = -1

    def __call__(self) -> int:
        self._last = max(int(self._clock() * 1000), self._last + 1)
        return self._last


def write_jsonl(
    messages: Iterable[Message],
    output: BinaryIO,
    *,
    rate: float | None = None,
    limit: int | None = None,
    total: int | None = None,
    progress: bool = True,
    destination: str = "stdout",
) -> PublishSummary:
    """Write each message value as one line of ``output`` instead of sending it to Kafka.

    The lines are exactly the message values a topic would hold, so the output can be
    inspected, diffed, or fed to any Kafka tool. With a ``rate`` every line is flushed as it is
    written, for whoever reads the other end of a pipe.
    """
    started = time.perf_counter()
    sent = 0
    with _progress(progress, f"→ {destination}", _expected(total, limit)) as advance:
        for message in paced(_limited(messages, limit), rate):
            output.write(message.value + b"\n")
            if rate:
                output.flush()
            sent += 1
            advance()
    output.flush()
    return PublishSummary(sent=sent, seconds=time.perf_counter() - started, destination=destination)


class _Deliveries:
    """Acknowledgements and failures, counted by callbacks on the producer's I/O thread.

    Only that thread writes; the sending thread reads after ``flush``, or reads a possibly
    stale failure list between sends, which at worst stops the run one send later.
    """

    def __init__(self) -> None:
        self.sent = 0
        self.failures: list[BaseException] = []

    def acknowledged(self, _metadata: object) -> None:
        self.sent += 1

    def failed(self, error: BaseException) -> None:
        self.failures.append(error)


def _limited(items: Iterable[T], limit: int | None) -> Iterable[T]:
    return items if limit is None else itertools.islice(items, limit)


def _expected(total: int | None, limit: int | None) -> int | None:
    if limit is None:
        return total
    return limit if total is None else min(total, limit)


class _RateColumn(ProgressColumn):
    """Events per second, as rich estimates it over the last half minute."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        shown = "?" if speed is None else f"{speed:,.0f}"
        return Text(f"{shown} events/s", style="progress.data.speed")


@contextmanager
def _progress(enabled: bool, description: str, total: int | None) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr, or nothing when disabled or stderr is not a terminal."""
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield lambda: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
