"""The fetch process: Kafka polling and event decoding on the second core, beside the learner.

kafka-python spends about 10 µs of pure Python per record on this project's machines (fetch
responses, record batches, consumer records), and decoding and validating an event another
4 µs: together more than half of what a logistic regression needs to learn one event. In the
learner's process that work would hold the GIL too. So a child process (``python -m
service.ingest.fetcher``) owns the fetching consumer: it polls the assigned partitions from the
offsets the learner gives it, puts several partitions in the merge order
(:mod:`service.ingest.ordering`), decodes and validates every message, and sends the learner
ready-made events in order, with the refused ones (and their raw bytes, for the dead-letter
topic) in their place.

The two talk over the child's stdin and stdout as :class:`multiprocessing.connection.Connection`
frames, in the format of :mod:`service.ingest.wire`: one plan, then ``stop``, one way; batches
of records with the child's status, the other. A full pipe blocks the child, so a slow learner
holds the fetching back instead of piling records up in memory. The child keeps no state worth
saving: the learner's positions say where the next child starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import OffsetOutOfRangeError

from service.errors import DriftlineError
from service.events import Rejection, RejectReason, decode_event
from service.ingest import kafka_records
from service.ingest.kafka_records import UnreadableHeaders
from service.ingest.ordering import PollOrder
from service.ingest.wire import (
    Failure,
    FetchedRecord,
    FetchPlan,
    FetchStatus,
    Place,
    batch_frame,
    event_row,
    failure_frame,
    read_frame,
    refused_row,
)

__all__ = ["OFFSETS_LOST_EXIT", "FetchError", "FetchProcess", "child_environment"]

log = logging.getLogger(__name__)

# How often the child reads its consumer's connection count (building its metrics costs ~0.1 ms).
_CONNECTION_CHECK_S = 1.0
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


# --- the learner's side -------------------------------------------------------------------------


class FetchProcess:
    """The learner's handle on one fetch process; not thread-safe (the ingest thread owns it)."""

    def __init__(self, plan: FetchPlan) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "service.ingest.fetcher"],
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
        loaded = read_frame(frame)
        if isinstance(loaded, Failure):
            code = self._process.wait(timeout=_STOP_TIMEOUT_S)
            raise FetchError(f"the fetch process failed: {loaded.reason}", code)
        return loaded

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
        # The event topic's partitions first, then the feedback topic's: the merge's rank order.
        starts = {TopicPartition(plan.topic, p): o for p, o in sorted(plan.start.items())}
        if plan.feedback_topic is not None:
            for p, offset in sorted(plan.feedback_start.items()):
                starts[TopicPartition(plan.feedback_topic, p)] = offset
        self.partitions = list(starts)
        self.consumer.assign(self.partitions)
        for tp, offset in starts.items():
            self.consumer.seek(tp, offset)
        self.order = PollOrder(self.consumer, self.partitions, plan.max_poll_records)
        self.connected = True
        self._next_connection_check = 0.0
        self._lost: dict[Place, int] = {}
        self._skipped_to: dict[Place, int] = {}
        # Records kafka-python could not parse, by (topic, partition, offset), until sent.
        self._unreadable: set[tuple[str, int, int]] = set()
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
                self.records.send_bytes(batch_frame(rows, self._status(fetched=bool(batch))))
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
                    self._unreadable.add((record.topic, record.partition, record.offset))

    def _decode_checked(self, record: Any) -> tuple[Any, ...]:
        """:meth:`_decode`, but a record kafka-python could not parse is a ``bad_record``."""
        place = (record.topic, record.partition, record.offset)
        if place not in self._unreadable:
            return self._decode(record)
        self._unreadable.discard(place)
        problem = getattr(record.headers, "problem", "its headers were read again")
        rejection = Rejection(
            RejectReason.BAD_RECORD, f"the Kafka client cannot parse this record: {problem}"
        )
        return self._refused(record, rejection)

    def _decode(self, record: Any) -> tuple[Any, ...]:
        """The wire row of one record: its event, or why it is refused."""
        plan = self.plan
        decoded = decode_event(
            record.value, max_features=plan.max_features, max_magnitude=plan.max_magnitude
        )
        if isinstance(decoded, Rejection):
            return self._refused(record, decoded)
        at = record.timestamp / 1000 if record.timestamp >= 0 else None
        feedback = record.topic == plan.feedback_topic
        return event_row(
            record.partition,
            record.offset,
            record.key,
            record.value,
            decoded,
            at,
            feedback=feedback,
        )

    def _refused(self, record: Any, rejection: Rejection) -> tuple[Any, ...]:
        at = record.timestamp / 1000 if record.timestamp >= 0 else None
        return refused_row(
            record.partition,
            record.offset,
            record.key,
            record.value,
            rejection,
            at,
            feedback=record.topic == self.plan.feedback_topic,
        )

    def _status(self, fetched: bool = False) -> FetchStatus:
        now = time.monotonic()
        if fetched:
            # Records just came from the broker: that is the proof. The connection count lags
            # behind a new consumer's first fetches (it read 0 for ~1 s), which made /ready
            # answer 503 "Kafka unreachable" while the backlog was being learned.
            self.connected = True
            self._next_connection_check = now + _CONNECTION_CHECK_S
        elif now >= self._next_connection_check:
            metrics = self.consumer.metrics().get("consumer-metrics", {})
            count = metrics.get("connection-count", 0.0)
            self.connected = bool(count and count > 0)
            self._next_connection_check = now + _CONNECTION_CHECK_S
        highwater = {}
        for tp in self.partitions:
            mark = self.consumer.highwater(tp)
            if mark is not None:
                highwater[tp.topic, tp.partition] = mark
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
            first_unsent = None if merge is None else merge.truncate(tp, 0)
            if first_unsent is not None:
                offset = first_unsent
            lost = max(0, earliest[tp] - offset)
            place = (tp.topic, tp.partition)
            self._lost[place] = self._lost.get(place, 0) + lost
            log.error(
                "%s partition %d: offset %d is out of the topic's range (oldest is %d): "
                "%d record(s) were never learned",
                tp.topic,
                tp.partition,
                offset,
                earliest[tp],
                lost,
            )
            if self.plan.offset_lost_policy == "stop":
                # Tell the learner what was lost before going (the status carries it).
                self.records.send_bytes(batch_frame([], self._status()))
                log.error(
                    "offset %d of %s partition %d is out of range and "
                    "DRIFTLINE_OFFSET_LOST_POLICY=stop: stopping",
                    offset,
                    tp.topic,
                    tp.partition,
                )
                raise SystemExit(OFFSETS_LOST_EXIT)
            self.consumer.seek(tp, earliest[tp])
            if lost:
                self._skipped_to[place] = earliest[tp]

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
            records.send_bytes(failure_frame(repr(error)[:_FAILURE_CHARS]))
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


if __name__ == "__main__":
    # Run the imported module's main, so what crosses the pipe is the imported modules' types.
    from service.ingest.fetcher import main as fetcher_main

    fetcher_main()
