"""The Kafka adapter: a worker thread that feeds the learner what the fetch process polled.

The worker is the learner's only writer. It reads every partition of the topic by explicit
assignment (one global model must never be split by a consumer-group rebalance): it decides
where each partition starts (the learner's positions, else ``start_from``) and hands that plan
to a :class:`~service.fetcher.FetchProcess`, which polls, orders and decodes on the other core
and sends back ready events. The worker learns them in the order they come, sends every
message the gate refused to the dead-letter topic before moving past it, checkpoints, and
commits the learned positions. Offsets are committed to the consumer group only so that lag is
visible to Kafka's tools; correctness does not depend on them.

The run loop has explicit stop conditions (a stop event, ``max_events``, ``idle_timeout``) so
tests can say "consume exactly N, then return".
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tenacity
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, MessageSizeTooLargeError
from kafka.structs import OffsetAndMetadata

from service.config import Settings
from service.errors import DriftlineError
from service.events import Event, Rejection, RejectReason
from service.fetcher import FetchedRecord, FetchError, FetchPlan, FetchProcess, FetchStatus
from service.learner import EventError, Learner
from service.metrics import ConsumerState, ServiceMetrics
from service.state.checkpoint import (
    CheckpointError,
    CheckpointStore,
    Owner,
    StateMismatchError,
    pickle_state,
)
from service.topics import ensure_topics

__all__ = ["DEAD_LETTER_HEADERS", "CheckpointRequest", "IngestWorker", "kafka_client_config"]

log = logging.getLogger(__name__)

DEAD_LETTER_HEADERS = (
    "driftline.reason",
    "driftline.detail",
    "driftline.topic",
    "driftline.partition",
    "driftline.offset",
)
# A dead letter is acknowledged before its offset is passed; wait this long per attempt.
_DEAD_LETTER_ACK_TIMEOUT_S = 10.0
# Between attempts to reach the broker or find the topic.
_RETRY_PAUSE_S = 1.0
# The learn-latency histogram times one event in this many: a sample is enough for quantiles.
LEARN_TIMING_EVERY = 16
# No max_events: more events than any stream will ever hold.
_UNLIMITED = 2**62
# A fetch process that died is replaced after a pause that doubles with each death in a row
# (1 s, 2 s, 4 s, ... at most 30 s): a record or a fault that kills every child costs a
# restart every 30 s, not a busy loop, and its cause stays in the log and on /ready.
_FETCH_RESTART_WAIT = tenacity.wait_exponential(multiplier=_RETRY_PAUSE_S, max=30.0)
_FETCH_RESTARTS = tenacity.Retrying(wait=_FETCH_RESTART_WAIT)


@dataclass
class CheckpointRequest:
    """A checkpoint asked for by another thread; the worker fills ``path`` and sets ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None


def kafka_client_config(settings: Settings) -> dict[str, Any]:
    """Options every Kafka client of the service shares: where the brokers are, and how to talk."""
    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": "driftline",
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism is not None:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    for option in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(settings, option)
        if path is not None:
            config[option] = str(path)
    return config


class IngestWorker:
    """Polls the event topic on its own thread and learns test-then-train.

    Parameters
    ----------
    settings
        The service settings (topic, group, dead-letter topic, poll sizes).
    learner
        The learner this worker alone writes to.
    metrics
        Counters and histograms to move.
    state
        Where the worker publishes assignment, lag and liveness for readers.
    new_learner
        Builds a fresh learner of these settings: with ``DRIFTLINE_STATE_MISMATCH=start_fresh``
        the restored one becomes it when Kafka shows the state is another cluster's or topic's.
    stop_service
        Called when the worker refuses to go on (a state folder of another cluster or topic),
        so the process stops with the refusal rather than serve without learning.
    max_events
        Stop after handling this many messages (for tests and benchmarks).
    idle_timeout
        Stop after this many seconds without a message (for tests and benchmarks).
    """

    def __init__(
        self,
        settings: Settings,
        learner: Learner,
        metrics: ServiceMetrics,
        state: ConsumerState,
        *,
        checkpoints: CheckpointStore | None = None,
        new_learner: Callable[[], Learner] | None = None,
        stop_service: Callable[[], None] | None = None,
        max_events: int | None = None,
        idle_timeout: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.learner = learner
        self.metrics = metrics
        self.state = state
        self.checkpoints = checkpoints
        self._new_learner = new_learner
        self._stop_service = stop_service
        self.max_events = max_events
        self.idle_timeout = idle_timeout
        self.handled = 0
        self.error: BaseException | None = None
        # When the first and the last message were handled (monotonic), for throughput figures.
        self.first_record_at: float | None = None
        self.last_record_at: float | None = None
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="driftline-ingest")
        self._consumer: KafkaConsumer | None = None
        self._fetch: FetchProcess | None = None
        self._dead_letters: KafkaProducer | None = None
        self._checkpoint_requests: queue.SimpleQueue[CheckpointRequest] = queue.SimpleQueue()
        self._since_checkpoint = 0
        self._next_checkpoint = time.monotonic() + settings.checkpoint_every_s
        # After a checkpoint that could not be written, none is tried again before this.
        self._checkpoint_retry_at = 0.0
        # The learn-latency histogram observes one event in this many (see _handle).
        self._timing_countdown = 1
        self._highwater: dict[int, int] = {}
        # Where each partition starts when nothing of it is learned yet (see _seek_start).
        self._start: dict[int, int] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to finish the current event, checkpoint, commit and close Kafka; wait."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("ingest worker did not stop within %.1f s", timeout)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def request_checkpoint(self, timeout: float = 30.0) -> Path:
        """Have the worker (the model's owner) write a checkpoint now; wait for its path."""
        if self.checkpoints is None:
            raise DriftlineError("checkpoints are off: set DRIFTLINE_STATE_DIR")
        if not self.running:
            raise DriftlineError("the ingest worker is not running")
        request = CheckpointRequest()
        self._checkpoint_requests.put(request)
        if not request.done.wait(timeout):
            raise DriftlineError(f"no checkpoint within {timeout:.0f} s")
        if request.path is None:
            raise DriftlineError("the checkpoint could not be written; see the service log")
        return request.path

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._connect()
            if self._fetch is not None:
                self._consume()
        except StateMismatchError as error:
            self.error = error
            self.state.refusal = str(error)
            log.error("not learning: %s", error)
            if self._stop_service is not None:
                self._stop_service()
        except BaseException as error:
            self.error = error
            log.exception("ingest worker stopped by an error")
        finally:
            self.state.assigned = False
            self.state.connected = False
            try:
                if self.checkpoints is not None and not self._since_checkpoint:
                    log.info(
                        "final checkpoint at offsets %s: already written, nothing since",
                        dict(self.learner.positions),
                    )
                elif self._since_checkpoint and self._checkpoint() is not None:
                    log.info("final checkpoint at offsets %s", dict(self.learner.positions))
                self._commit()
            finally:
                self._close()

    def _connect(self) -> None:
        """Create the Kafka clients and take every partition, retrying until stopped."""
        settings = self.settings
        while not self._stop.is_set():
            try:
                consumer = KafkaConsumer(
                    **kafka_client_config(settings),
                    group_id=settings.group_id,
                    enable_auto_commit=False,
                    # Never jump silently: a lost offset raises, and the policy decides.
                    auto_offset_reset="none",
                    max_poll_records=settings.max_poll_records,
                )
            except KafkaError as error:
                log.warning("cannot reach Kafka at %s: %s", settings.bootstrap_servers, error)
                self._stop.wait(_RETRY_PAUSE_S)
                continue
            self._consumer = consumer
            break
        if self._consumer is not None and settings.create_topics:
            self._create_topics()
        while self._consumer is not None and not self._stop.is_set():
            partitions = self._consumer.partitions_for_topic(settings.topic)
            if partitions:
                break
            log.info("waiting for topic %s to exist", settings.topic)
            self._stop.wait(_RETRY_PAUSE_S)
        else:
            return
        self._dead_letters = KafkaProducer(
            **kafka_client_config(settings), acks="all", enable_idempotence=True
        )
        if self.checkpoints is not None:
            self._claim_state(len(partitions))
        assignment = [TopicPartition(settings.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assignment)
        for tp in assignment:  # so the series exist at 0 before anything is lost
            self.metrics.records_lost.labels(str(tp.partition))
        self._seek_start(assignment)
        self._start = {tp.partition: self._consumer.position(tp) for tp in assignment}
        self._fetch = self._start_fetch()
        self.state.assigned = True
        self.state.connected = True
        log.info("reading %s partitions %s", settings.topic, sorted(partitions))

    def _claim_state(self, partitions: int) -> None:
        """Check the restored state is this cluster's and this topic's, now that Kafka answers.

        A mismatch raises :class:`StateMismatchError`, or with ``start_fresh`` moves the
        checkpoints aside and makes the learner a fresh one before anything is read.
        """
        assert self.checkpoints is not None
        current = Owner(
            topic=self.settings.topic,
            model=self.settings.model,
            task=self.learner.task,
            partitions=partitions,
            cluster_id=self._cluster_id(),
        )
        aside = self.checkpoints.claim(current, self.settings.state_mismatch)
        if aside is not None:
            if self._new_learner is None:
                raise DriftlineError("cannot start fresh: the worker has no new_learner")
            self.learner.start_over(self._new_learner())

    def _cluster_id(self) -> str | None:
        """The Kafka cluster's id, or ``None`` when it cannot be read (then it is not checked)."""
        try:
            admin = KafkaAdminClient(**kafka_client_config(self.settings))
            try:
                cluster_id = admin.describe_cluster().get("cluster_id")
            finally:
                admin.close()
        except KafkaError as error:
            log.warning("cannot read the Kafka cluster id (not checked): %s", error)
            return None
        return cluster_id if isinstance(cluster_id, str) else None

    def _start_fetch(self) -> FetchProcess:
        """A fetch process from the learned positions (where nothing is learned yet: the start)."""
        settings = self.settings
        return FetchProcess(
            FetchPlan(
                client_config=kafka_client_config(settings),
                topic=settings.topic,
                start={**self._start, **self.learner.positions},
                max_poll_records=settings.max_poll_records,
                poll_timeout_ms=settings.poll_timeout_ms,
                max_features=settings.max_features,
                max_magnitude=settings.max_magnitude,
                offset_lost_policy=settings.offset_lost_policy,
            )
        )

    def _create_topics(self) -> None:
        settings = self.settings
        topics = {settings.topic: settings.topic_partitions, settings.dead_letter_topic: 1}
        while not self._stop.is_set():
            try:
                admin = KafkaAdminClient(**kafka_client_config(self.settings))
                try:
                    ensure_topics(admin, topics)
                finally:
                    admin.close()
                return
            except KafkaError as error:
                log.warning("cannot create topics %s: %s", sorted(topics), error)
                self._stop.wait(_RETRY_PAUSE_S)

    def _seek_start(self, assignment: list[TopicPartition]) -> None:
        """Continue where the (restored) learner stopped; elsewhere follow ``start_from``."""
        consumer = self._consumer
        assert consumer is not None
        positions = self.learner.positions
        fresh = []
        for tp in assignment:
            if tp.partition in positions:
                consumer.seek(tp, positions[tp.partition])
            else:
                fresh.append(tp)
        if positions:
            log.info("continuing from learned offsets %s", dict(sorted(positions.items())))
        if not fresh:
            return
        assignment = fresh
        start_from = self.settings.start_from
        if start_from == "latest":
            consumer.seek_to_end(*assignment)
            return
        if start_from == "committed":
            for tp in assignment:
                committed = consumer.committed(tp)
                if committed is None:
                    consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, committed)
            return
        consumer.seek_to_beginning(*assignment)

    def _consume(self) -> None:
        fetch = self._fetch
        assert fetch is not None
        last_message = time.monotonic()
        next_commit = time.monotonic() + self.settings.commit_interval_s
        wait = self.settings.poll_timeout_ms / 1000
        while not self._stop.is_set():
            try:
                received = fetch.receive(wait)
            except FetchError as error:
                if error.offsets_lost:
                    raise DriftlineError(
                        "an offset to learn from is out of the topic's range and "
                        "DRIFTLINE_OFFSET_LOST_POLICY=stop"
                    ) from error
                # Nothing it held was learned, so nothing is lost: start another from here.
                self._fetch_failed(error)
                if self._stop.is_set():
                    break
                fetch = self._fetch = self._start_fetch()
                continue
            now = time.monotonic()
            self.state.last_poll_wall_time = self._clock()
            records: list[FetchedRecord] = []
            if received is not None:
                records, status = received
                if self.state.fetch_failures:
                    self.state.fetch_failures, self.state.fetch_problem = 0, None
                self._apply(status)
            handled = self._handle(records) if records else 0
            if received is not None:
                self._update_lag()  # once a batch: after learning it, with its high watermarks
            if handled:
                last_message = now
                if self.first_record_at is None:
                    self.first_record_at = now
                self.last_record_at = time.monotonic()
                if self._reached_max_events():
                    break
            elif self.idle_timeout is not None and now - last_message > self.idle_timeout:
                log.info("no message for %.1f s: stopping", self.idle_timeout)
                break
            self._serve_checkpoint_requests()
            if self.checkpoints is not None:
                if self._checkpoint_due(now) and self._checkpoint() is not None:
                    self._commit()
            elif now >= next_commit:
                self._commit()
                next_commit = now + self.settings.commit_interval_s

    def _fetch_failed(self, error: FetchError) -> None:
        """Count a dead fetch process, publish why, and wait before the next (or until stopped)."""
        self.metrics.fetch_restarts.inc()
        state = self.state
        state.fetch_failures += 1
        state.fetch_problem = str(error)
        retry = tenacity.RetryCallState(_FETCH_RESTARTS, None, (), {})
        retry.attempt_number = state.fetch_failures
        pause = _FETCH_RESTART_WAIT(retry)
        log.warning(
            "%s (%d in a row without a batch): starting another from the learned offsets in %.0f s",
            error,
            state.fetch_failures,
            pause,
        )
        self._stop.wait(pause)

    def _apply(self, status: FetchStatus) -> None:
        """Take in the fetch process's view: connection, high watermarks, records lost."""
        self.state.connected = status.connected
        self._highwater = status.highwater
        for partition, lost in status.lost.items():
            self.metrics.records_lost.labels(str(partition)).inc(lost)
        for partition, offset in status.skipped_to.items():
            # The lost records are passed for good: the position (and the next checkpoint)
            # says so, so a restart does not count them again and the lag is against the log.
            if self.learner.positions.get(partition, self._start.get(partition, 0)) < offset:
                self.learner.skip(partition, offset - 1)
                self._since_checkpoint += 1

    def _handle(self, records: Sequence[FetchedRecord]) -> int:
        """Test-then-train ``records`` in the order given until done, stopped or at max_events.

        Only records handled (learned, counted unlabelled, or dead-lettered) are counted; the
        stop and ``max_events`` checks come before a record is handled, never after. What is
        left of the batch is dropped: the learner's positions say where to fetch it again.
        Returns how many were handled.
        """
        learner, metrics = self.learner, self.metrics
        observe = metrics.learn_duration.observe
        learned = unlabelled = handled = 0
        stop = self._stop
        allowed = _UNLIMITED if self.max_events is None else self.max_events - self.handled
        countdown = self._timing_countdown
        try:
            for record in records:
                if handled >= allowed or stop.is_set():
                    # Finish the current event only; the learner's positions say where to resume.
                    break
                handled += 1
                event = record.event
                if not isinstance(event, Event):
                    self._reject(record, event)
                    continue
                countdown -= 1
                started = time.perf_counter() if not countdown else 0.0
                try:
                    learner.learn(event, record.partition, record.offset)
                except EventError as error:
                    self._reject(record, Rejection(error.reason, str(error)))
                    continue
                except Exception as error:  # a model that cannot take these features
                    log.warning("model refused offset %d: %r", record.offset, error)
                    detail = f"the model cannot learn this event: {error!r}"[:300]
                    self._reject(record, Rejection(RejectReason.MODEL_ERROR, detail))
                    continue
                if not countdown:
                    # Timing every event would cost more than a third of the budget per event.
                    observe(time.perf_counter() - started)
                    countdown = LEARN_TIMING_EVERY
                if event.label is None:
                    unlabelled += 1
                else:
                    learned += 1
        except BaseException:
            handled -= 1  # the record in hand when an error escapes was not handled
            raise
        finally:
            self._timing_countdown = max(countdown, 1)
            self.handled += handled
            self._since_checkpoint += handled
            metrics.events_consumed.inc(handled)
            if learned:
                metrics.events_learned.inc(learned)
                self.state.last_learned_wall_time = self._clock()
            if unlabelled:
                metrics.events_unlabelled.inc(unlabelled)
        return handled

    def _reject(self, record: FetchedRecord, rejection: Rejection) -> None:
        """Send a refused message to the dead-letter topic and wait for the broker's ack."""
        assert self._dead_letters is not None
        detail = rejection.detail
        # kafka-python sends no record without a key and a value: a tombstone without a key
        # goes as an empty value (its reason, null_value, says what it was).
        value = b"" if record.value is None and record.key is None else record.value
        while True:
            headers = [
                (name, text.encode())
                for name, text in zip(
                    DEAD_LETTER_HEADERS,
                    (
                        rejection.reason.value,
                        detail,
                        self.settings.topic,
                        str(record.partition),
                        str(record.offset),
                    ),
                    strict=True,
                )
            ]
            try:
                future = self._dead_letters.send(
                    self.settings.dead_letter_topic, value=value, key=record.key, headers=headers
                )
                future.get(timeout=_DEAD_LETTER_ACK_TIMEOUT_S)
                break
            except MessageSizeTooLargeError:
                if not value:
                    raise
                # The headers tipped it over the limit: the value cannot travel, its place can.
                detail = f"{rejection.detail} (the {len(value)}-byte value was too large to copy)"
                value = b"" if record.key is None else None
            except KafkaError as error:
                # The offset must not be passed before its dead letter is safe: keep trying.
                log.warning("dead letter for offset %d not acknowledged: %s", record.offset, error)
                if self._stop.wait(_RETRY_PAUSE_S):
                    raise DriftlineError("stopped before a dead letter was acknowledged") from error
        self.learner.skip(record.partition, record.offset)
        self.metrics.events_rejected[rejection.reason].inc()
        log.debug("rejected offset %d: %s", record.offset, rejection.detail)

    def _reached_max_events(self) -> bool:
        return self.max_events is not None and self.handled >= self.max_events

    def _update_lag(self) -> None:
        positions = self.learner.positions
        self.state.lag = {
            partition: max(0, highwater - positions[partition])
            for partition, highwater in self._highwater.items()
            if partition in positions
        }

    def _commit(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        positions = dict(self.learner.positions)
        if not positions:
            return
        offsets = {
            TopicPartition(self.settings.topic, p): OffsetAndMetadata(offset, "", -1)
            for p, offset in positions.items()
        }
        try:
            consumer.commit(offsets)
        except KafkaError as error:
            log.warning("offset commit failed (lag view only, nothing lost): %s", error)

    def _serve_checkpoint_requests(self) -> None:
        while not self._checkpoint_requests.empty():
            request = self._checkpoint_requests.get()
            try:
                request.path = self._checkpoint()
                self._commit()
            finally:
                request.done.set()

    def _checkpoint_due(self, now: float) -> bool:
        """Something is unsaved, its cadence has come, and no failed write is being waited out."""
        return bool(self._since_checkpoint) and (
            now >= self._checkpoint_retry_at
            and (
                self._since_checkpoint >= self.settings.checkpoint_every_events
                or now >= self._next_checkpoint
            )
        )

    def _checkpoint(self) -> Path | None:
        """Pickle the learner under its lock (the only pause), then write the file unlocked.

        A checkpoint that cannot be written (a full disk, a folder by the file's name) is
        logged and counted, and learning goes on: the older checkpoints still stand, and the
        next one is tried after ``checkpoint_every_s``. ``None`` when none was written.
        """
        if self.checkpoints is None:
            return None
        learner = self.learner
        started = time.perf_counter()
        with learner.lock:
            payload = pickle_state(learner)
            positions = dict(learner.positions)
            learned = learner.events_learned
        paused = time.perf_counter() - started
        try:
            path = self.checkpoints.save(payload, positions, learned)
        except CheckpointError as error:
            log.error("checkpoint failed, learning goes on: %s", error)
            self.metrics.checkpoint_failures.inc()
            self._checkpoint_retry_at = time.monotonic() + self.settings.checkpoint_every_s
            return None
        self.metrics.checkpoint_pause.observe(paused)
        self.metrics.checkpoint_duration.observe(time.perf_counter() - started)
        self.metrics.checkpoints.inc()
        self.state.last_checkpoint_wall_time = self._clock()
        self.state.last_checkpoint_bytes = len(payload)
        self._since_checkpoint = 0
        self._next_checkpoint = time.monotonic() + self.settings.checkpoint_every_s
        log.debug("checkpoint %s: %d bytes, paused %.1f ms", path.name, len(payload), paused * 1e3)
        return path

    def _close(self) -> None:
        if self._fetch is not None:
            self._fetch.stop()
        if self._dead_letters is not None:
            self._dead_letters.close(timeout=5)
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
