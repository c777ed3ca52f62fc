"""One rebuild: train a challenger from a snapshot of the history, inline or in a thread.

The manager hands a :class:`RebuildJob` a model to train (a fresh build, or a copy of the
champion for a warm start) and a *copy* of the history: the job never touches the champion or
the live history, so the consumer thread goes on learning and ``/predict`` goes on answering
while it runs.

Events that arrive during a background rebuild are handed to :meth:`RebuildJob.offer` with the
champion's error on them and buffered. When the job has learned the snapshot it works through
the buffer itself, test-then-train, round after round, and stops when fewer than
:data:`HANDOFF_BACKLOG` events are left or a round no longer halves the buffer (the stream is
nearly as fast as the job). :meth:`RebuildJob.finish` then hands the rest to the manager, whose
consumer thread replays it a few events at a time alongside the new ones, so that it never
stalls. Either way the challenger learns every event the champion saw, in order, once, and
each buffered event also gives a pair of errors for the promotion gate, since both models
predicted it before learning it.

The CPU time of the job is measured with ``time.thread_time()`` in its own thread (or in the
consumer thread when it runs inline).

Examples
--------
>>> import random
>>> from river import linear_model
>>> from service.strategies.history import Labelled, make_history
>>> history = make_history("window", size=100)
>>> for seq in range(50):
...     history.append(Labelled({"x": float(seq % 2)}, seq % 2 == 1, offset=seq, seq=seq))
>>> job = RebuildJob(7, "manual", linear_model.LogisticRegression(), history.snapshot(),
...                  history, task="classification", rng=random.Random(0), since_seq=None)
>>> job.run()
>>> job.finish()
[]
>>> job.learned, job.first_offset, job.last_offset, job.last_seq, job.error
(50, 0, 49, 49, None)
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from service.models import ModelSpec, Task
from service.strategies.base import Trigger
from service.strategies.defaults import MAX_REBUILD_BACKLOG
from service.strategies.history import HistoryPolicy, Labelled, accepts_weight
from service.strategies.promotion import NO_JUDGEMENT, PromotionDecision
from service.strategies.scoring import prediction_error

__all__ = ["CANCEL_CHECK_EVERY", "HANDOFF_BACKLOG", "RebuildCancelled", "RebuildJob", "Rebuilder"]

logger = logging.getLogger(__name__)

# The job stops catching up and hands over when fewer buffered events than this are left.
HANDOFF_BACKLOG = 64
# How often (in events learned) a background job looks at its cancel flag.
CANCEL_CHECK_EVERY = 256


class RebuildCancelled(Exception):
    """Raised inside a job's thread when it is told to stop."""


class RebuildJob:
    """Train one challenger on a history snapshot, then on the events buffered meanwhile.

    Parameters
    ----------
    challenger_id
        The id the challenger (and, if promoted, its version) takes.
    trigger
        Why it is built.
    model
        The estimator to train; the job owns it from now on.
    events
        The snapshot of the history to learn from (a list the job owns).
    history
        The policy that decides weights (or the weighted sample) for those events.
    task
        ``classification`` or ``regression``, for scoring buffered events.
    rng
        Seeded RNG for a weighted sample; each job gets its own, so results do not depend on
        thread timing.
    since_seq
        The first event a drift- or metric-triggered rebuild may learn (``None``: all).
    max_pairs
        Pairs of errors kept for the gate (its K): the decision rests on the first K events
        after the snapshot, whoever replays them.
    """

    def __init__(
        self,
        challenger_id: int,
        trigger: Trigger,
        model: Any,
        events: list[Labelled],
        history: HistoryPolicy,
        *,
        task: Task,
        rng: random.Random,
        since_seq: int | None,
        max_pairs: int = 0,
    ) -> None:
        self.challenger_id = challenger_id
        self.trigger = trigger
        self.model = model
        self.task: Task = task
        self.since_seq = since_seq
        self._events = events
        self.snapshot_size = len(events)
        self._history = history
        self._rng = rng
        self.first_offset = events[0].offset if events else None
        self.last_offset = events[-1].offset if events else None
        self.last_seq = events[-1].seq if events else -1
        self.learned_to_offset = self.last_offset
        self.learned = 0
        self.replayed = 0
        """Buffered events learned after the snapshot (by the job's thread or :meth:`finish`)."""
        self.cpu_seconds = 0.0
        self.error: BaseException | None = None
        self.pairs: list[tuple[float, float]] = []
        """(champion error, challenger error) on the first buffered events the challenger
        replayed, up to ``max_pairs``."""
        self.max_pairs = max_pairs
        self._lock = threading.Lock()
        self._buffer: list[tuple[Labelled, float | None]] = []
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the consumer thread --------------------------------------------------------------------

    def start(self) -> None:
        """Run in a background thread (non-daemon; :meth:`cancel` stops it within a few ms)."""
        self._thread = threading.Thread(
            target=self.run, name=f"driftline-rebuild-{self.challenger_id}"
        )
        self._thread.start()

    def offer(self, event: Labelled, champion_error: float | None) -> None:
        """Buffer an event that arrived while the job runs, with the champion's error on it."""
        with self._lock:
            self._buffer.append((event, champion_error))

    @property
    def backlog(self) -> int:
        """Buffered events not learned yet."""
        return len(self._buffer)

    @property
    def done(self) -> bool:
        """Whether the job's thread has finished (it touches nothing of the job after this)."""
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job's thread to finish; ``True`` if it has."""
        return self._done.wait(timeout)

    def finish(self) -> list[tuple[Labelled, float | None]]:
        """Wait for the thread; the buffered events it did not learn, with the champion's errors."""
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            remaining, self._buffer = self._buffer, []
        return remaining

    def cancel(self, timeout: float | None = None) -> None:
        """Tell a running job to stop and wait up to ``timeout`` seconds for its thread."""
        self._cancel.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def failure(
        self, champion_id: int, offset: int, seq: int, decided_at: float
    ) -> PromotionDecision:
        """The record of a job that finished with an :attr:`error` (cancelled, or a model's)."""
        return PromotionDecision.of(
            NO_JUDGEMENT,
            challenger_id=self.challenger_id,
            champion_id=champion_id,
            trigger=self.trigger,
            outcome="failed",
            shadow_events=0,
            offset=offset,
            seq=seq,
            decided_at=decided_at,
            detail=f"the rebuild failed: {self.error!r}",
        )

    # --- the job's own thread (or inline) -------------------------------------------------------

    def run(self) -> None:
        """Learn the snapshot, then catch up with the buffer; record an error rather than raise."""
        started = time.thread_time()
        try:
            weighted = accepts_weight(self.model)
            for event, weight in self._history.plan(self._events, weighted=weighted, rng=self._rng):
                if weight is None:
                    self.model.learn_one(event.x, event.y)
                else:
                    self.model.learn_one(event.x, event.y, w=weight)
                self.learned += 1
                self._check_cancel()
            self._events = []
            chunk: list[tuple[Labelled, float | None]] = []
            while True:
                with self._lock:
                    backlog = len(self._buffer)
                    if backlog < HANDOFF_BACKLOG or (chunk and 2 * backlog > len(chunk)):
                        break
                    chunk, self._buffer = self._buffer, []
                self._replay(chunk)
        except RebuildCancelled:
            self.error = RebuildCancelled("cancelled")
        except Exception as error:  # a model's bug must not kill the consumer: record it
            logger.exception("rebuild of challenger %d failed", self.challenger_id)
            self.error = error
        finally:
            self.cpu_seconds += time.thread_time() - started
            self._done.set()

    def _replay(self, chunk: list[tuple[Labelled, float | None]]) -> None:
        for event, champion in chunk:
            challenger = prediction_error(self.task, self.model, event.x, event.y)
            if champion is not None and challenger is not None and len(self.pairs) < self.max_pairs:
                self.pairs.append((champion, challenger))
            self.model.learn_one(event.x, event.y)
            self.learned += 1
            self.replayed += 1
            self.last_seq = event.seq
            self.learned_to_offset = event.offset
            self._check_cancel()

    def _check_cancel(self) -> None:
        if self.learned % CANCEL_CHECK_EVERY == 0 and self._cancel.is_set():
            raise RebuildCancelled


class Rebuilder:
    """Starts each rebuild, inline or in a thread, and feeds the one running until it is done.

    A rebuild trains a fresh build of ``spec_builder`` (or, for a ``warm_start``, a copy of the
    champion) on a snapshot of the history; ``seed`` seeds each job's weighted sample, and
    ``max_pairs`` is the gate's K. Plain, picklable state: a job still running is dropped when
    pickled (the manager keeps its trigger, so a restored manager starts it again).
    """

    def __init__(
        self,
        spec_builder: Callable[[], ModelSpec],
        task: Task,
        *,
        warm_start: bool,
        background: bool,
        seed: int,
        max_pairs: int,
    ) -> None:
        self.spec_builder = spec_builder
        self.task: Task = task
        self.warm_start = warm_start
        self.background = background
        self.seed = seed
        self.max_pairs = max_pairs
        self.job: RebuildJob | None = None
        """The background job not handed over yet."""
        self.started = 0

    def start(
        self,
        challenger_id: int,
        trigger: Trigger,
        since_seq: int | None,
        history: HistoryPolicy,
        champion: Any,
    ) -> RebuildJob | None:
        """Start a rebuild of challenger ``challenger_id``; the finished job if it ran inline,
        ``None`` if it runs in a thread (:meth:`offer` hands it over once done)."""
        model = copy.deepcopy(champion) if self.warm_start else self.spec_builder().estimator
        job = RebuildJob(
            challenger_id,
            trigger,
            model,
            history.snapshot(since_seq),
            history,
            task=self.task,
            rng=random.Random(f"{self.seed}/rebuild/{challenger_id}"),
            since_seq=since_seq,
            max_pairs=self.max_pairs,
        )
        self.started += 1
        logger.info(
            "rebuild of challenger %d started (%s, %d events of history)",
            challenger_id,
            trigger,
            job.snapshot_size,
        )
        if not self.background:
            job.run()
            return job
        self.job = job
        job.start()
        return None

    def offer(self, event: Labelled, champion_error: float | None) -> RebuildJob | None:
        """Buffer ``event`` for the running job; the job, once, when its thread has finished.

        A backlog past :data:`~service.strategies.defaults.MAX_REBUILD_BACKLOG` cancels it (it
        then finishes with an error): a rebuild slower than the stream never catches up.
        """
        job = self.job
        if job is None:
            return None
        job.offer(event, champion_error)
        if job.backlog > MAX_REBUILD_BACKLOG:
            job.cancel(timeout=0)
        if not job.done:
            return None
        self.job = None
        return job

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background job's thread; ``True`` when none is running any more."""
        return self.job is None or self.job.wait(timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop a background job (abandoned, not handed over) and wait for its thread."""
        if self.job is not None:
            self.job.cancel(timeout)
            self.job = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "job": None}
