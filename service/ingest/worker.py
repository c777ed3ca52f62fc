"""The ingest worker: a thread that feeds the learner what the fetch process polled.

The worker is the learner's only writer. Through :class:`~service.ingest.kafka.KafkaLink` it
takes every partition of the event topic (and of the feedback topic, when one is set) and
decides where each starts (the learner's positions, else ``start_from``), and hands that plan
to a :class:`~service.ingest.fetcher.FetchProcess`, which polls, orders and decodes on the
other core and sends back ready events. The worker learns them in the order they come, sends
every message the gate refused to the dead-letter topic before moving past it, checkpoints on
the :class:`~service.state.checkpointer.Checkpointer`'s cadence, and commits the learned
positions.

The run loop has explicit stop conditions (a stop event, ``max_events``, ``idle_timeout``) so
tests can say "consume exactly N, then return".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

import tenacity

from service.config import Settings
from service.errors import DriftlineError
from service.events import Answer, Event, Rejection, RejectReason
from service.ingest.dead_letters import DeadLetterSink
from service.ingest.fetcher import FetchError, FetchProcess
from service.ingest.kafka import RETRY_PAUSE_S, KafkaLink, kafka_client_config
from service.ingest.status import ConsumerState
from service.ingest.wire import FetchedRecord, FetchPlan, FetchStatus, Place
from service.learner import EventError, Learner
from service.metrics import ServiceMetrics
from service.state.checkpoint import StateMismatchError
from service.state.checkpointer import Checkpointer
from service.state.owner import Owner

__all__ = ["LEARN_TIMING_EVERY", "IngestWorker"]

log = logging.getLogger(__name__)

# The learn-latency histogram times one event in this many: a sample is enough for quantiles.
LEARN_TIMING_EVERY = 16
# No max_events: more events than any stream will ever hold.
_UNLIMITED = 2**62
# A fetch process that died is replaced after a pause that doubles with each death in a row
# (1 s, 2 s, 4 s, ... at most 30 s): a record or a fault that kills every child costs a
# restart every 30 s, not a busy loop, and its cause stays in the log and on /ready.
_FETCH_RESTART_WAIT = tenacity.wait_exponential(multiplier=RETRY_PAUSE_S, max=30.0)


def _fetch_restart_pause(failures: int) -> float:
    attempt = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
    attempt.attempt_number = failures
    return _FETCH_RESTART_WAIT(attempt)


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
    checkpointer
        Writes the learner's checkpoints (``None``: checkpoints are off).
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
        checkpointer: Checkpointer | None = None,
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
        self.checkpointer = checkpointer
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
        self._kafka = KafkaLink(settings, self._stop)
        self._fetch: FetchProcess | None = None
        self._dead_letters: DeadLetterSink | None = None
        # The learn-latency histogram observes one event in this many (see _handle).
        self._timing_countdown = 1
        self._highwater: dict[Place, int] = {}
        # Where each partition of each topic starts when nothing of it is learned yet.
        self._start: dict[str, dict[int, int]] = {}

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

    # --- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        checkpointer = self.checkpointer
        if checkpointer is not None:
            checkpointer.accepting = True
        try:
            if self._connect():
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
                self._final_checkpoint()
                self._kafka.commit(self._learned())
            finally:
                self._close()

    def _final_checkpoint(self) -> None:
        checkpointer = self.checkpointer
        if checkpointer is None:
            return
        checkpointer.serve_requests()
        checkpointer.refuse_requests()
        positions = dict(self.learner.positions)
        if not checkpointer.cadence.unsaved:
            log.info("final checkpoint at offsets %s: already written, nothing since", positions)
        elif checkpointer.write() is not None:
            log.info("final checkpoint at offsets %s", positions)

    def _connect(self) -> bool:
        """Create the Kafka clients and take every partition; ``False`` if stopped."""
        kafka, settings = self._kafka, self.settings
        if kafka.connect() is None:
            return False
        if settings.create_topics:
            kafka.create_topics()
        partitions: dict[str, set[int]] = {}
        for topic in self._topics():
            found = kafka.partitions(topic)
            if found is None:
                return False
            partitions[topic] = found
        self._dead_letters = DeadLetterSink(
            kafka.dead_letter_producer(),
            settings.dead_letter_topic,
            settings.topic,
            self._stop,
            feedback_topic=settings.feedback_topic,
        )
        if self.checkpointer is not None:
            feedback = partitions.get(settings.feedback_topic or "")
            self._claim_state(len(partitions[settings.topic]), len(feedback) if feedback else None)
        for topic, found in partitions.items():  # so the series exist at 0 before any loss
            for partition in found:
                self.metrics.records_lost.labels(topic, str(partition))
        self._start = kafka.assign(partitions, self._learned())
        self._fetch = self._start_fetch()
        self.state.assigned = True
        self.state.connected = True
        for topic, found in partitions.items():
            log.info("reading %s partitions %s", topic, sorted(found))
        return True

    def _topics(self) -> list[str]:
        """The topics read: the event topic, and the feedback topic if there is one."""
        feedback = self.settings.feedback_topic
        return [self.settings.topic] if feedback is None else [self.settings.topic, feedback]

    def _learned(self) -> dict[str, dict[int, int]]:
        """The learner's positions, by topic."""
        learner, settings = self.learner, self.settings
        learned = {settings.topic: dict(learner.positions)}
        if settings.feedback_topic is not None:
            learned[settings.feedback_topic] = dict(learner.feedback_positions)
        return learned

    def _claim_state(self, partitions: int, feedback_partitions: int | None) -> None:
        """Check the restored state is this cluster's and this topic's, now that Kafka answers.

        A mismatch raises :class:`StateMismatchError`, or with ``start_fresh`` moves the
        checkpoints aside and makes the learner a fresh one before anything is read.
        """
        assert self.checkpointer is not None
        current = Owner(
            topic=self.settings.topic,
            model=self.settings.model,
            task=self.learner.task,
            partitions=partitions,
            cluster_id=self._kafka.cluster_id(),
            feedback_topic=self.settings.feedback_topic,
            feedback_partitions=feedback_partitions,
        )
        aside = self.checkpointer.store.claim(current, self.settings.state_mismatch)
        if aside is not None:
            if self._new_learner is None:
                raise DriftlineError("cannot start fresh: the worker has no new_learner")
            self.learner.start_over(self._new_learner())

    def _start_fetch(self) -> FetchProcess:
        """A fetch process from the learned positions (where nothing is learned yet: the start)."""
        settings = self.settings
        start = {
            topic: {**self._start[topic], **learned} for topic, learned in self._learned().items()
        }
        feedback = settings.feedback_topic
        return FetchProcess(
            FetchPlan(
                client_config=kafka_client_config(settings),
                topic=settings.topic,
                start=start[settings.topic],
                max_poll_records=settings.max_poll_records,
                poll_timeout_ms=settings.poll_timeout_ms,
                max_features=settings.max_features,
                max_magnitude=settings.max_magnitude,
                offset_lost_policy=settings.offset_lost_policy,
                feedback_topic=feedback,
                feedback_start={} if feedback is None else start[feedback],
            )
        )

    def _consume(self) -> None:
        fetch = self._fetch
        assert fetch is not None
        checkpointer = self.checkpointer
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
            if checkpointer is not None:
                # Commit what a checkpoint holds, never more: a restart resumes from it.
                if checkpointer.serve_requests() | checkpointer.maybe_write(now):
                    self._kafka.commit(self._learned())
            elif now >= next_commit:
                self._kafka.commit(self._learned())
                next_commit = now + self.settings.commit_interval_s

    def _fetch_failed(self, error: FetchError) -> None:
        """Count a dead fetch process, publish why, and wait before the next (or until stopped)."""
        self.metrics.fetch_restarts.inc()
        state = self.state
        state.fetch_failures += 1
        state.fetch_problem = str(error)
        pause = _fetch_restart_pause(state.fetch_failures)
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
        for (topic, partition), lost in status.lost.items():
            self.metrics.records_lost.labels(topic, str(partition)).inc(lost)
        learned = self._learned()
        for (topic, partition), offset in status.skipped_to.items():
            # The lost records are passed for good: the position (and the next checkpoint)
            # says so, so a restart does not count them again and the lag is against the log.
            start = self._start.get(topic, {}).get(partition, 0)
            if learned.get(topic, {}).get(partition, start) < offset:
                feedback = topic == self.settings.feedback_topic
                self.learner.skip(partition, offset - 1, feedback=feedback)
                self._note_changes(1)

    def _note_changes(self, events: int) -> None:
        if self.checkpointer is not None:
            self.checkpointer.cadence.note(events)

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
                if isinstance(event, Rejection):
                    self._reject(record, event)
                    continue
                assert isinstance(event, Event | Answer)
                countdown -= 1
                started = time.perf_counter() if not countdown else 0.0
                try:
                    learner.learn(
                        event,
                        record.partition,
                        record.offset,
                        record.timestamp,
                        feedback=record.feedback,
                    )
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
                if event.label is not None:
                    learned += 1  # an event learned at once, or an answer joined
                elif event.id is None:  # an answer always has a label
                    unlabelled += 1
        except BaseException:
            handled -= 1  # the record in hand when an error escapes was not handled
            raise
        finally:
            self._timing_countdown = max(countdown, 1)
            self.handled += handled
            self._note_changes(handled)
            metrics.events_consumed.inc(handled)
            if learned:
                metrics.events_learned.inc(learned)
                self.state.last_learned_wall_time = self._clock()
            if unlabelled:
                metrics.events_unlabelled.inc(unlabelled)
        return handled

    def _reject(self, record: FetchedRecord, rejection: Rejection) -> None:
        """Dead-letter a refused message (acknowledged), then move past it."""
        assert self._dead_letters is not None
        self._dead_letters.send(record, rejection)
        self.learner.skip(record.partition, record.offset, feedback=record.feedback)
        self.metrics.events_rejected[rejection.reason].inc()
        log.debug("rejected offset %d: %s", record.offset, rejection.detail)

    def _reached_max_events(self) -> bool:
        return self.max_events is not None and self.handled >= self.max_events

    def _update_lag(self) -> None:
        learned = self._learned()
        lag = {}
        for (topic, partition), highwater in self._highwater.items():
            position = learned.get(topic, {}).get(partition)
            if position is not None:
                lag[topic, partition] = max(0, highwater - position)
        self.state.lag = lag

    def _close(self) -> None:
        if self._fetch is not None:
            self._fetch.stop()
        if self._dead_letters is not None:
            self._dead_letters.close()
        self._kafka.close()
