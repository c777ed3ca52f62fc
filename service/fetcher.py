"""The fetch process: Kafka polling and event decoding on the second core, beside the learner.

kafka-python spends about 10 µs of pure Python per record on this project's machines (fetch
responses, record batches, consumer records), and decoding and validating an event another
4 µs: together more than half of what a logistic regression needs to learn one event. In the
learner's process that work would hold the GIL too. So a child process (``python -m
service.fetcher``) owns the fetching consumer: it polls the assigned partitions from the offsets
the learner gives it, puts several partitions in the merge order (:mod:`service.ordering`),
decodes and validates every message, and sends the learner ready-made events in order, with
the refused ones (and their raw bytes, for the dead-letter topic) in their place.

The two talk over the child's stdin and stdout as :class:`multiprocessing.connection.Connection`
frames: one :class:`FetchPlan`, then ``stop``, one way; batches of records with a
:class:`FetchStatus`, the other. A full pipe blocks the child, so a slow learner holds the
fetching back instead of piling records up in memory. The child keeps no state worth saving:
the learner's positions say where the next child starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, NamedTuple

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError, OffsetOutOfRangeError

from service import kafka_records
from service.errors import DriftlineError
from service.events import Event, Rejection, RejectReason, decode_event
from service.kafka_records import UnreadableHeaders
from service.ordering import PartitionMerge

__all__ = [
    "OFFSETS_LOST_EXIT",
    "FetchError",
    "FetchPlan",
    "FetchProcess",
    "FetchStatus",
    "FetchedRecord",
    "PollOrder",
    "child_environment",
]

log = logging.getLogger(__name__)

# How often the child reads its consumer's connection count (building its metrics costs ~0.1 ms).
_CONNECTION_CHECK_S = 1.0
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
# How long a stopping child may take before it is killed.
_STOP_TIMEOUT_S = 5.0
# The child needs no setting from the environment (the plan brings them on the pipe), least of
# all a secret: it gets the parent's environment without these variables.
_WITHHELD_FROM_CHILD = re.compile(
    r"^DRIFTLINE_|SECRET|TOKEN|PASSW|CREDENTIAL|PRIVATE|(^|_)(API_?)?KEY(S)?($|_)", re.IGNORECASE
)
# A failing child's last words travel to the learner (and /ready) at most this long.
_FAILURE_CHARS = 300


# The child's exit status when DRIFTLINE_OFFSET_LOST_POLICY=stop stopped it: not a failure to
# retry, a decision to stop learning.
OFFSETS_LOST_EXIT = 3


class FetchError(DriftlineError):
    """The fetch process failed or stopped on its own (its reason is in the service log)."""

    def __init__(self, message: str, exit_status: int | None) -> None:
        super().__init__(message)
        self.exit_status = exit_status

    @property
    def offsets_lost(self) -> bool:
        """It stopped because offsets were lost and the policy says stop."""
        return self.exit_status == OFFSETS_LOST_EXIT


@dataclass(frozen=True)
class FetchPlan:
    """What the child fetches: the learner's side decides every offset."""

    client_config: dict[str, Any]
    """Kafka client options (servers, security); secrets travel on the pipe, never in argv."""
    topic: str
    start: dict[int, int]
    """Per partition, the offset of the first record to send."""
    max_poll_records: int
    poll_timeout_ms: int
    max_features: int
    max_magnitude: float
    offset_lost_policy: Literal["resume", "stop"]


@dataclass(frozen=True)
class FetchStatus:
    """The child's view of the topic, sent with every batch."""

    connected: bool
    highwater: dict[int, int]
    """Per partition, the end of the log as the last fetch response said (absent: unknown)."""
    lost: dict[int, int] = field(default_factory=dict)
    """Records skipped since the last status because their offsets left the topic."""
    skipped_to: dict[int, int] = field(default_factory=dict)
    """Where those partitions go on: the oldest offset still in the topic, the learner's next."""


@dataclass(frozen=True)
class _Failure:
    """The child's last frame when an error stops it: what the learner reports."""

    reason: str


class FetchedRecord(NamedTuple):
    """One message, decoded: an :class:`Event` to learn or a :class:`Rejection` to dead-letter."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    """The raw message: a dead letter carries it, and the learner may still refuse an event."""
    event: Event | Rejection


# --- the learner's side -------------------------------------------------------------------------


class FetchProcess:
    """The learner's handle on one fetch process; not thread-safe (the ingest thread owns it)."""

    def __init__(self, plan: FetchPlan) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "service.fetcher"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_environment(os.environ),
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._commands = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._records = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()
        self._commands.send(plan)

    @property
    def pid(self) -> int:
        return self._process.pid

    def receive(self, timeout: float) -> tuple[list[FetchedRecord], FetchStatus] | None:
        """The next batch in learning order with the child's status, or ``None`` after ``timeout``.

        Raises :class:`FetchError` when the child is gone.
        """
        try:
            if not self._records.poll(timeout):
                return None
            frame = self._records.recv_bytes()
        except (EOFError, OSError) as error:
            code = self._process.wait(timeout=_STOP_TIMEOUT_S)
            raise FetchError(f"the fetch process exited (status {code})", code) from error
        loaded = pickle.loads(frame)  # our own child, our own types
        if type(loaded) is _Failure:
            code = self._process.wait(timeout=_STOP_TIMEOUT_S)
            raise FetchError(f"the fetch process failed: {loaded.reason}", code)
        rows, status = loaded
        return [_record(row) for row in rows], status

    def stop(self) -> None:
        """Ask the child to stop, unblock it if the pipe is full, and wait; kill if it hangs."""
        with contextlib.suppress(OSError):  # it may be gone already
            self._commands.send("stop")
        self._commands.close()
        self._records.close()  # a child blocked writing a batch gets a broken pipe
        try:
            self._process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            log.error("the fetch process did not stop within %.0f s: killed", _STOP_TIMEOUT_S)
            self._process.kill()
            self._process.wait()


# --- the child ----------------------------------------------------------------------------------


class PollOrder:
    """The order records are learned in, whatever the polls happened to bring.

    One partition: offset order, as polled. Several: buffered per partition and released in
    the order of :class:`~service.ordering.PartitionMerge` (by record timestamp, then
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


class _Fetcher:
    """The child's loop: poll, order, decode, send."""

    def __init__(self, plan: FetchPlan, records: Connection) -> None:
        self.plan = plan
        self.records = records
        self.consumer = KafkaConsumer(
            **plan.client_config,
            group_id=None,
            enable_auto_commit=False,
            # Never jump silently: a lost offset raises, and the policy decides.
            auto_offset_reset="none",
            max_poll_records=plan.max_poll_records,
        )
        self.partitions = {p: TopicPartition(plan.topic, p) for p in sorted(plan.start)}
        self.consumer.assign(list(self.partitions.values()))
        for partition, offset in plan.start.items():
            self.consumer.seek(self.partitions[partition], offset)
        self.order = PollOrder(self.consumer, self.partitions, plan.max_poll_records)
        self.connected = True
        self._next_connection_check = 0.0
        self._lost: dict[int, int] = {}
        self._skipped_to: dict[int, int] = {}
        # Records kafka-python could not parse, by (partition, offset), until they are sent.
        self._unreadable: set[tuple[int, int]] = set()
        self._handed_over = kafka_records.handed_over()

    def run(self, commands: Connection) -> None:
        while True:
            try:
                if commands.poll(0):
                    commands.recv()  # the only command is "stop"
                    return
            except EOFError:  # the learner's process is gone
                return
            try:
                batch = self.consumer.poll(timeout_ms=self.plan.poll_timeout_ms)
            except OffsetOutOfRangeError as error:
                self._on_offsets_lost(error)
                continue
            records = self.order.records(batch)
            if kafka_records.handed_over() != self._handed_over:  # rare: see _find_unreadable
                self._find_unreadable(batch)
            if self._unreadable:
                rows = [self._decode_checked(record) for record in records]
            else:
                rows = [self._decode(record) for record in records]
            try:
                self.records.send_bytes(
                    pickle.dumps((rows, self._status()), protocol=pickle.HIGHEST_PROTOCOL)
                )
            except (BrokenPipeError, OSError):  # the learner stopped reading: we are done
                return

    def _find_unreadable(self, batch: dict[Any, list[Any]]) -> None:
        """Note the records of this poll that kafka-python could not parse (it counts them).

        They are looked for only in a poll that brought some, so the common path pays one
        comparison a poll, not a check a record; the merge may give them out polls later, so
        they are remembered by place until then.
        """
        self._handed_over = kafka_records.handed_over()
        for records in batch.values():
            for record in records:
                if record.headers.__class__ is UnreadableHeaders:
                    self._unreadable.add((record.partition, record.offset))

    def _decode_checked(self, record: Any) -> tuple[Any, ...]:
        """:meth:`_decode`, but a record kafka-python could not parse is a ``bad_record``."""
        place = (record.partition, record.offset)
        if place not in self._unreadable:
            return self._decode(record)
        self._unreadable.discard(place)
        problem = getattr(record.headers, "problem", "its headers were read again")
        return (
            record.partition,
            record.offset,
            record.key,
            record.value,
            RejectReason.BAD_RECORD.value,
            f"the Kafka client cannot parse this record: {problem}",
        )

    def _decode(self, record: Any) -> tuple[Any, ...]:
        """A plain tuple (pickled 5× faster than the dataclasses); :func:`_record` reads it."""
        plan = self.plan
        decoded = decode_event(
            record.value, max_features=plan.max_features, max_magnitude=plan.max_magnitude
        )
        if isinstance(decoded, Rejection):
            return (record.partition, record.offset, record.key, record.value, *_reason(decoded))
        return (record.partition, record.offset, record.key, record.value, *_fields(decoded))

    def _status(self) -> FetchStatus:
        now = time.monotonic()
        if now >= self._next_connection_check:
            metrics = self.consumer.metrics().get("consumer-metrics", {})
            count = metrics.get("connection-count", 0.0)
            self.connected = bool(count and count > 0)
            self._next_connection_check = now + _CONNECTION_CHECK_S
        highwater = {}
        for partition, tp in self.partitions.items():
            mark = self.consumer.highwater(tp)
            if mark is not None:
                highwater[partition] = mark
        lost, self._lost = self._lost, {}
        skipped_to, self._skipped_to = self._skipped_to, {}
        return FetchStatus(self.connected, highwater, lost, skipped_to)

    def _on_offsets_lost(self, error: Any) -> None:
        """A stored offset is no longer in the topic: count what is lost, then apply the policy."""
        requested: dict[Any, int] = error.args[0] if error.args else {}
        earliest = self.consumer.beginning_offsets(list(requested))
        merge = self.order.merge
        for tp, offset in requested.items():
            # Records of the partition polled and not sent yet are gone from the topic too: the
            # loss starts at the first one, where the learner's position is.
            first_unsent = None if merge is None else merge.truncate(tp.partition, 0)
            if first_unsent is not None:
                offset = first_unsent
            lost = max(0, earliest[tp] - offset)
            self._lost[tp.partition] = self._lost.get(tp.partition, 0) + lost
            log.error(
                "partition %d: offset %d is out of the topic's range (oldest is %d): "
                "%d record(s) were never learned",
                tp.partition,
                offset,
                earliest[tp],
                lost,
            )
            if self.plan.offset_lost_policy == "stop":
                # Tell the learner what was lost before going (the status carries it).
                self.records.send_bytes(pickle.dumps(([], self._status())))
                log.error(
                    "offset %d of partition %d is out of range and "
                    "DRIFTLINE_OFFSET_LOST_POLICY=stop: stopping",
                    offset,
                    tp.partition,
                )
                raise SystemExit(OFFSETS_LOST_EXIT)
            self.consumer.seek(tp, earliest[tp])
            if lost:
                self._skipped_to[tp.partition] = earliest[tp]

    def close(self) -> None:
        self.consumer.close(autocommit=False)


def main() -> None:
    """The child: read the plan on stdin, send batches on stdout until told to stop."""
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # The frames own stdout; anything else printed goes to stderr.
    records = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    commands = Connection(os.dup(0), writable=False)
    try:
        plan = commands.recv()
    except EOFError:
        return
    if not isinstance(plan, FetchPlan):
        raise SystemExit(f"expected a FetchPlan, got {type(plan).__name__}")
    kafka_records.install()
    try:
        fetcher = _Fetcher(plan, records)
        try:
            fetcher.run(commands)
        finally:
            fetcher.close()
    except Exception as error:
        # Tell the learner why before going (the traceback goes to stderr, the service log).
        with contextlib.suppress(OSError):
            records.send_bytes(pickle.dumps(_Failure(repr(error)[:_FAILURE_CHARS])))
        raise


def child_environment(environment: os._Environ[str] | dict[str, str]) -> dict[str, str]:
    """The fetch process's environment: the parent's without settings and secrets.

    Examples
    --------
    >>> sorted(child_environment({"PATH": "/bin", "DRIFTLINE_ADMIN_TOKEN": "t", "AWS_SECRET": "s"}))
    ['PATH']
    """
    return {
        name: value for name, value in environment.items() if not _WITHHELD_FROM_CHILD.search(name)
    }


def _fields(event: Event) -> tuple[Any, ...]:
    return (event.features, event.label, event.id, event.ts)


def _reason(rejection: Rejection) -> tuple[str, str]:
    return (rejection.reason.value, rejection.detail)


def _record(row: tuple[Any, ...]) -> FetchedRecord:
    """A row from the child as a record: 8 fields for an event, 6 for a rejection."""
    if len(row) == 8:
        partition, offset, key, value, features, label, event_id, ts = row
        return FetchedRecord(partition, offset, key, value, Event(features, label, event_id, ts))
    partition, offset, key, value, reason, detail = row
    return FetchedRecord(partition, offset, key, value, Rejection(RejectReason(reason), detail))


if __name__ == "__main__":
    # Run the imported module's main, so what crosses the pipe is service.fetcher's types.
    from service.fetcher import main as fetcher_main

    fetcher_main()
