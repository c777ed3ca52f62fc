"""The model manager: the serving model, its challengers, versions, rollback, and what they cost.

A :class:`ModelManager` owns the *champion* (the model ``/predict`` uses), the training history,
the challenger being built or shadowed, the previous champion on probation, the kept versions,
the memory set and the cost counters. One :class:`~service.strategies.base.Strategy` decides
whether the champion learns online and when a rebuild is due; everything else is the same for
every strategy.

How the learner uses it. For each labelled event the learner does what it always did: the
champion predicts (``predict_proba_one``, or ``predict_one`` for a regressor) and the
prequential metrics are updated. Then, instead of ``learn_one``, it calls
:meth:`ModelManager.after_prediction` with the prediction's error, its rolling metric and
whether its drift detector alarmed. With the ``online`` strategy that call is exactly
``learn_one`` on the champion (plus bookkeeping that never touches it), so the service stays
River's progressive validation event for event.

Life of a rebuild::

    trigger ──(collect events, drift/metric only)──> rebuild (inline, or in a thread on a copy
    of the history; events arriving meanwhile are buffered and replayed test-then-train)
      ──> challenger in shadow for K events ──> McNemar / Wilcoxon gate
      ──> rejected (recorded)   or   promoted: a new ModelVersion, the old champion on probation
                                     for K events ──> kept, or automatic rollback

Thread-safety. Every method that changes state (:meth:`~ModelManager.after_prediction`,
:meth:`~ModelManager.rollback`, :meth:`~ModelManager.request_rebuild`,
:meth:`~ModelManager.propose`, :meth:`~ModelManager.close`) and every read of the champion must
run under one lock, the learner's: the consumer thread is the only writer, an admin request
takes the same lock. A background rebuild thread only ever touches its own model and its copy of
the history, never the champion; the hand-over happens in the consumer thread.

Pickling. Everything pickles (the service checkpoints the learner by pickling it), except a
background rebuild that is still running: it is *abandoned* and its trigger kept, so the
restored manager starts the same rebuild again, from its own history, at its first event.
Restoring is therefore deterministic whatever the thread had done when the checkpoint was taken.

Examples
--------
>>> from functools import partial
>>> from producer.scenarios import make_scenario
>>> from service.models import build_model
>>> from service.strategies.online import OnlineStrategy
>>> from service.strategies.history import make_history
>>> manager = ModelManager(partial(build_model, "logreg", 42), OnlineStrategy(),
...                        make_history("window", size=500), background=False, seed=42)
>>> for offset, (x, y) in enumerate(make_scenario("stationary", n=300, seed=1)):
...     error = prediction_error("classification", manager.model, x, y)
...     manager.after_prediction(x, y, None, error, offset, rolling_metric=0.9, drift_alarm=False)
>>> manager.version, manager.stats()["events_seen"], manager.stats()["model_events_learned"]
(1, 300, 300)
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from service.events import FeatureValue, Label
from service.models import ModelSpec, Task
from service.strategies.base import (
    OUTCOMES,
    Outcome,
    Strategy,
    StrategyName,
    StrategyStatus,
    Trigger,
)
from service.strategies.errors import StrategyConfigurationError, StrategyError
from service.strategies.history import HistoryPolicy, Labelled
from service.strategies.memory import MemorySet
from service.strategies.promotion import PromotionDecision, judge, worse_by
from service.strategies.rebuild import RebuildJob
from service.strategies.scoring import champion_error, prediction_error, score
from service.strategies.versions import ModelVersion, VersionStore

if TYPE_CHECKING:
    from service.strategies.config import StrategyConfig

__all__ = [
    "CPU_SAMPLE_EVERY",
    "DECISION_LOG_SIZE",
    "DEFAULT_INITIAL_EVENTS",
    "DEFAULT_KEEP_VERSIONS",
    "DEFAULT_MARGIN",
    "DEFAULT_MEMORY_EVERY",
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_ROLLBACK_MARGIN",
    "DEFAULT_SHADOW_EVENTS",
    "DEFAULT_SIGNIFICANCE",
    "MAX_REBUILD_BACKLOG",
    "REBUILD_TRIGGERS",
    "REPLAY_PER_EVENT",
    "ManagerStats",
    "ModelManager",
]

logger = logging.getLogger(__name__)

# A shadow run (and a probation) of 300 events: McNemar's test then detects a 10-point accuracy
# gap between two models at the 5% level with high power, and a drifting champion is replaced
# within seconds at the demo's 50 events/s.
DEFAULT_SHADOW_EVENTS = 300
DEFAULT_SIGNIFICANCE = 0.05
# One accuracy point (or 1% of the MAE): a challenger must be worth the switch.
DEFAULT_MARGIN = 0.01
# Two points (2% of the MAE) worse than the model it replaced, over the probation: roll back.
DEFAULT_ROLLBACK_MARGIN = 0.02
DEFAULT_KEEP_VERSIONS = 3
DEFAULT_MEMORY_SIZE = 500
# A pass costs ``memory_set_size`` predictions: 500 every 5,000 events is a tenth of a prediction
# per event, about 1 µs for a linear model (every 1,000 events would be 5 µs, a third of what
# learning online costs).
DEFAULT_MEMORY_EVERY = 5_000
# Every strategy's first model learns the first events online (for ``static``, only these).
DEFAULT_INITIAL_EVENTS = 1_000
# Decisions kept for ``decisions()``.
DECISION_LOG_SIZE = 100
# ``time.thread_time()`` costs about 1.5 µs here, a tenth of a linear model's ``learn_one``: the
# per-event costs (online learning, shadow and probation runs, memory scoring) are measured on
# one event in this many, less the clock's own cost, and scaled up. Rebuilds are measured whole.
CPU_SAMPLE_EVERY = 16
# A background rebuild that falls this many events behind the stream is abandoned (``failed``).
MAX_REBUILD_BACKLOG = 100_000
# Events of its backlog a challenger replays per new event: the backlog shrinks by three per
# event, and an event never waits for more than four of the challenger's steps.
REPLAY_PER_EVENT = 4

REBUILD_TRIGGERS: tuple[Trigger, ...] = ("periodic", "drift", "metric", "manual")
"""The triggers that start a rebuild (``initial`` and ``rollback`` make versions directly)."""
CPU_BUCKETS = ("rebuild", "online", "shadow", "memory")


def _clock_cost() -> float:
    """What one ``time.thread_time()`` call adds to a measurement: the least of a few tries."""
    least = math.inf
    for _ in range(_CLOCK_CALIBRATION_TRIES):
        started = time.thread_time()
        least = min(least, time.thread_time() - started)
    return least


_CLOCK_CALIBRATION_TRIES = 64
_CLOCK_COST = _clock_cost()


class ManagerStats(TypedDict):
    """The values to export, read in one go (under the learner's lock)."""

    strategy: StrategyName
    history: str
    version: int
    events_seen: int
    """Labelled events handed to the manager."""
    model_events_learned: int
    """Labelled events the serving model has learned (its rebuild history included)."""
    rebuilds_started: int
    rebuild_running: bool
    challenger_id: int | None
    challenger_shadow_events: int
    challenger_shadow_score: float
    """The challenger's accuracy (MAE) over its shadow run so far; NaN when there is none."""
    champion_shadow_score: float
    """The champion's score over the same events."""
    probation_events: int
    probation_score: float
    """The newly promoted champion's score over its probation so far; NaN when none."""
    previous_champion_score: float
    """The previous champion's score over the same events."""
    memory_score: float
    memory_events: int
    retrains: dict[tuple[Trigger, Outcome], int]
    """Rebuilds by (trigger, outcome); ``rolled_back`` ones were counted ``promoted`` first."""
    cpu_seconds: dict[str, float]
    """CPU seconds by kind of work: ``rebuild``, ``online``, ``shadow``, ``memory``."""


@dataclass(slots=True)
class _Served:
    """A model with the count of events it has learned, as kept by the version store."""

    model: Any
    learned: int = 0
    learned_to_offset: int | None = None


@dataclass(slots=True)
class _Challenger:
    """A rebuilt model in its shadow run."""

    id: int
    trigger: Trigger
    served: _Served
    first_offset: int | None
    last_offset: int | None
    champion_errors: list[float] = field(default_factory=list)
    challenger_errors: list[float] = field(default_factory=list)
    events: int = 0
    backlog: deque[tuple[Labelled, float | None]] = field(default_factory=deque)
    """Events (with the champion's error) it has yet to replay: those that arrived during a
    background rebuild and the job did not catch up with."""


@dataclass(slots=True)
class _Probation:
    """The previous champion, shadowing the newly promoted one."""

    new_id: int
    trigger: Trigger
    previous_id: int
    previous: _Served
    new_errors: list[float] = field(default_factory=list)
    previous_errors: list[float] = field(default_factory=list)
    events: int = 0


@dataclass(frozen=True, slots=True)
class _Scheduled:
    """A rebuild waiting for its start (after the events a drift rebuild collects)."""

    trigger: Trigger
    start_seq: int
    since_seq: int | None


class ModelManager:
    """The champion, its challengers and versions, under one retraining strategy.

    Parameters
    ----------
    spec_builder
        Builds a fresh, untrained model (called for the first champion and each rebuild that
        is not a warm start); must pickle (``functools.partial(build_model, name, seed)``).
    strategy
        When the champion learns online and when to rebuild.
    history
        Which past events a rebuild learns from (bounded).
    shadow_events
        K: labelled events a challenger is shadowed on before the gate decides; also the length
        of a new champion's probation.
    significance
        The gate's p-value threshold.
    margin
        By how much a challenger must be ahead (accuracy points; fraction of MAE).
    rollback_margin
        By how much a new champion may fall behind its predecessor during probation before it is
        rolled back.
    keep_versions
        Versions whose model is kept for rollback, the serving one included.
    memory_size, memory_every
        The memory set's size, and how often (in events) the serving model is scored on it.
    initial_events
        Labelled events the first model learns online before the strategy takes over (the
        ``static`` model learns only these); no rebuild is triggered before.
    warm_start
        Rebuild from a copy of the champion instead of a fresh model.
    background
        Rebuild in a background thread (the service); ``False`` rebuilds inline, for
        deterministic comparisons and tests.
    seed
        Seeds the memory set's reservoir and the weighted samples of rebuilds.
    clock
        Wall-clock time for versions, decisions and ``every_seconds`` (must pickle).
    """

    def __init__(
        self,
        spec_builder: Callable[[], ModelSpec],
        strategy: Strategy,
        history: HistoryPolicy,
        *,
        shadow_events: int = DEFAULT_SHADOW_EVENTS,
        significance: float = DEFAULT_SIGNIFICANCE,
        margin: float = DEFAULT_MARGIN,
        rollback_margin: float = DEFAULT_ROLLBACK_MARGIN,
        keep_versions: int = DEFAULT_KEEP_VERSIONS,
        memory_size: int = DEFAULT_MEMORY_SIZE,
        memory_every: int = DEFAULT_MEMORY_EVERY,
        initial_events: int = DEFAULT_INITIAL_EVENTS,
        warm_start: bool = False,
        background: bool = True,
        seed: int = 42,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if shadow_events < 1:
            raise StrategyConfigurationError(f"shadow_events must be >= 1, not {shadow_events}")
        if not 0.0 < significance < 1.0:
            raise StrategyConfigurationError(f"significance must be in (0, 1), not {significance}")
        if margin < 0 or rollback_margin < 0 or initial_events < 0:
            raise StrategyConfigurationError(
                "margin, rollback_margin and initial_events cannot be negative"
            )
        self._spec_builder = spec_builder
        self.spec = spec_builder()
        self.task: Task = self.spec.task
        self.strategy = strategy
        self.history = history
        self.shadow_events = shadow_events
        self.significance = significance
        self.margin = margin
        self.rollback_margin = rollback_margin
        self.initial_events = initial_events
        self.warm_start = warm_start
        self.background = background
        self.seed = seed
        self._clock = clock
        self._memory = MemorySet(memory_size, memory_every, seed)
        self._store = VersionStore(keep_versions)
        self._serving = _Served(self.spec.estimator)
        self._store.add(ModelVersion(1, None, clock(), strategy.name, "initial"), self._serving)
        self._next_id = 2
        self._events_seen = 0
        self._anchor_seq = initial_events
        self._anchor_time = clock()
        self._change_seq = initial_events
        self._alarm_seq: int | None = None
        self._requested = False
        self._scheduled: _Scheduled | None = None
        self._job: RebuildJob | None = None
        self._challenger: _Challenger | None = None
        self._probation: _Probation | None = None
        self._decisions: deque[PromotionDecision] = deque(maxlen=DECISION_LOG_SIZE)
        self._rebuilds_started = 0
        self._retrains: dict[tuple[Trigger, Outcome], int] = {
            (trigger, outcome): 0 for trigger in REBUILD_TRIGGERS for outcome in OUTCOMES
        }
        self._cpu = dict.fromkeys(CPU_BUCKETS, 0.0)

    @classmethod
    def from_config(
        cls,
        config: StrategyConfig,
        *,
        model: str = "logreg",
        seed: int = 42,
        clock: Callable[[], float] = time.time,
    ) -> ModelManager:
        """Build a manager from a :class:`~service.strategies.config.StrategyConfig`.

        ``model`` and ``seed`` are the service's own ``DRIFTLINE_MODEL`` and ``DRIFTLINE_SEED``.
        """
        from service.strategies.config import manager_from_config

        return manager_from_config(config, model=model, seed=seed, clock=clock)

    def clone(self) -> ModelManager:
        """A fresh manager with the same parameters: untrained, empty history, version 1."""
        return ModelManager(
            self._spec_builder,
            self.strategy,
            self.history.empty_copy(),
            shadow_events=self.shadow_events,
            significance=self.significance,
            margin=self.margin,
            rollback_margin=self.rollback_margin,
            keep_versions=self._store.keep,
            memory_size=self._memory.size,
            memory_every=self._memory.every,
            initial_events=self.initial_events,
            warm_start=self.warm_start,
            background=self.background,
            seed=self.seed,
            clock=self._clock,
        )

    # --- serving (under the learner's lock) ---------------------------------------------------

    @property
    def model(self) -> Any:
        """The serving champion's estimator."""
        return self._serving.model

    @property
    def version(self) -> int:
        """The serving version's id."""
        current = self._store.current
        assert current is not None  # the initial version is added on construction
        return current.id

    def predict_proba_one(self, x: dict[str, FeatureValue]) -> dict[Label, float]:
        """The champion's class probabilities (classifiers)."""
        return self._serving.model.predict_proba_one(x)

    def predict_one(self, x: dict[str, FeatureValue]) -> Label | None:
        """The champion's prediction."""
        return self._serving.model.predict_one(x)

    # --- the consumer thread ------------------------------------------------------------------

    def after_prediction(
        self,
        x: dict[str, FeatureValue],
        y: Label,
        y_pred: Any,
        error: float | None,
        offset: int,
        rolling_metric: float,
        drift_alarm: bool,
    ) -> None:
        """Everything that follows the champion's prediction of one labelled event.

        The champion learns it if the strategy learns online (or the initial model is still
        training); the history and the memory set take a copy of it; the challenger and the
        previous champion on probation are scored on it and learn it; a finished background
        rebuild is handed over; the gate, the probation check and the strategy's trigger run.
        ``x`` is never modified, and nothing keeps a reference to it.

        Parameters
        ----------
        x, y
            The event's features and label.
        y_pred
            The champion's prediction (informational: the comparison uses ``error``).
        error
            The champion's prequential error on it, as the learner computed it (1.0/0.0, or the
            absolute error; ``None`` when it had no prediction).
        offset
            The event's offset, recorded as lineage of the models built from it.
        rolling_metric
            The learner's rolling accuracy (MAE for a regressor), for the metric trigger.
        drift_alarm
            Whether the learner's concept drift detector alarmed on this event. An alarm that
            comes while a rebuild, shadow run or probation is under way is kept until the
            manager is free (and dropped if the serving model changes meanwhile).
        """
        self.learn(x, y, offset)
        self.after_learning(x, y, y_pred, error, offset, rolling_metric, drift_alarm)

    def learn(self, x: dict[str, FeatureValue], y: Label, offset: int) -> None:
        """The serving model learns one labelled event, if the strategy learns online.

        The first half of :meth:`after_prediction`, and the only step a model's own error can
        stop: when ``learn_one`` raises, nothing of the manager has changed, so the learner can
        refuse the event whole. :meth:`after_learning` must follow for the same event.
        """
        seq = self._events_seen
        if seq < self.initial_events or self.strategy.learns_online:
            sample = seq % CPU_SAMPLE_EVERY == 0
            started = time.thread_time() if sample else 0.0
            self._serving.model.learn_one(x, y)
            self._serving.learned += 1
            self._serving.learned_to_offset = offset
            if sample:
                self._charge("online", started)
        self._events_seen = seq + 1

    def after_learning(
        self,
        x: dict[str, FeatureValue],
        y: Label,
        y_pred: Any,
        error: float | None,
        offset: int,
        rolling_metric: float,
        drift_alarm: bool,
    ) -> None:
        """The rest of :meth:`after_prediction`, after :meth:`learn` took the event."""
        seq = self._events_seen - 1
        sample = seq % CPU_SAMPLE_EVERY == 0
        event = Labelled(dict(x), y, offset, seq)
        champion = champion_error(self.task, error)
        if self._probation is not None or self._challenger is not None:
            started = time.thread_time() if sample else 0.0
            if self._probation is not None:
                self._probation_step(event, champion)
            if self._challenger is not None:
                self._shadow_step(event, champion)
            if sample:
                self._charge("shadow", started)

        self.history.append(event)
        started = time.thread_time() if sample else 0.0
        self._memory.observe(event, self._serving.model, self.task)
        if sample:
            self._charge("memory", started)

        if self._job is not None:
            self._job.offer(event, champion)
            if self._job.backlog > MAX_REBUILD_BACKLOG:
                self._job.cancel(timeout=0)
            if self._job.done:
                job, self._job = self._job, None
                self._hand_over(job, event)
        if seq + 1 >= self.initial_events and (
            self.strategy.rebuilds or self._requested or self._scheduled is not None
        ):
            self._maybe_rebuild(event, rolling_metric, drift_alarm)

    def request_rebuild(self) -> None:
        """Ask for a ``manual`` rebuild; it starts at the next event once nothing else runs."""
        self._requested = True

    def propose(self, model: Any, trigger: Trigger = "manual") -> int:
        """Put a ready model in shadow as a challenger (it learns on from here); returns its id.

        Raises
        ------
        StrategyError
            If a rebuild, shadow run or probation is already under way.
        """
        if self._busy:
            raise StrategyError("a rebuild, shadow run or probation is already under way")
        challenger_id = self._take_id()
        self._challenger = _Challenger(challenger_id, trigger, _Served(model), None, None)
        return challenger_id

    def rollback(self, version_id: int) -> ModelVersion:
        """Serve a copy of a kept version's model again, as a new version (trigger ``rollback``).

        The new version's ``parent_id`` is ``version_id``; a probation under way ends. A
        challenger in shadow carries on against the restored model.

        Raises
        ------
        UnknownVersionError
            If ``version_id`` is not among :meth:`versions` (never existed or no longer kept).
        StrategyError
            If it is the version serving now.
        """
        if version_id == self.version:
            raise StrategyError(f"version {version_id} is already serving")
        served: _Served = self._store.restore(version_id)
        self._probation = None
        restored = self._serve(served, "rollback", parent_id=version_id)
        logger.info("rolled back to version %d as version %d", version_id, restored.id)
        return restored

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop a background rebuild (abandoned, not recorded) and wait for its thread."""
        if self._job is not None:
            self._job.cancel(timeout)
            self._job = None

    def join_rebuild(self, timeout: float | None = None) -> bool:
        """Wait for a background rebuild's thread to finish (it is handed over at the next
        event); ``True`` when none is running any more."""
        job = self._job
        if job is None:
            return True
        return job.wait(timeout)

    # --- reading --------------------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        """The kept versions, oldest first; the last one is serving."""
        return self._store.records()

    def decisions(self) -> list[PromotionDecision]:
        """The last :data:`DECISION_LOG_SIZE` gate decisions and rollbacks, oldest first."""
        return list(self._decisions)

    @property
    def memory_score(self) -> float:
        """The serving model's accuracy (MAE) on the memory set; NaN before the first pass."""
        return self._memory.score

    @property
    def events_seen(self) -> int:
        """Labelled events handed to :meth:`after_prediction`."""
        return self._events_seen

    @property
    def rebuild_running(self) -> bool:
        """Whether a background rebuild has not been handed over yet."""
        return self._job is not None

    def stats(self) -> ManagerStats:
        """Every exportable value (see :class:`ManagerStats`)."""
        challenger, probation = self._challenger, self._probation
        return ManagerStats(
            strategy=self.strategy.name,
            history=self.history.name,
            version=self.version,
            events_seen=self._events_seen,
            model_events_learned=self._serving.learned,
            rebuilds_started=self._rebuilds_started,
            rebuild_running=self._job is not None,
            challenger_id=challenger.id if challenger else None,
            challenger_shadow_events=challenger.events if challenger else 0,
            challenger_shadow_score=(
                score(self.task, challenger.challenger_errors) if challenger else math.nan
            ),
            champion_shadow_score=(
                score(self.task, challenger.champion_errors) if challenger else math.nan
            ),
            probation_events=probation.events if probation else 0,
            probation_score=score(self.task, probation.new_errors) if probation else math.nan,
            previous_champion_score=(
                score(self.task, probation.previous_errors) if probation else math.nan
            ),
            memory_score=self._memory.score,
            memory_events=len(self._memory),
            retrains=dict(self._retrains),
            cpu_seconds=dict(self._cpu),
        )

    # --- pickling -------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        job: RebuildJob | None = state.pop("_job")
        state["_job"] = None
        if job is not None:
            # A thread does not pickle: the restored manager starts this rebuild again.
            state["_scheduled"] = _Scheduled(job.trigger, start_seq=0, since_seq=job.since_seq)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # --- internals ------------------------------------------------------------------------------

    @property
    def _busy(self) -> bool:
        return (
            self._scheduled is not None
            or self._job is not None
            or self._challenger is not None
            or self._probation is not None
        )

    def _charge(self, bucket: str, started: float) -> None:
        """Add a sampled measurement, less the clock's own cost, scaled to every event."""
        spent = time.thread_time() - started - _CLOCK_COST
        self._cpu[bucket] += max(spent, 0.0) * CPU_SAMPLE_EVERY

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken

    def _maybe_rebuild(self, event: Labelled, rolling_metric: float, drift_alarm: bool) -> None:
        if drift_alarm and self._alarm_seq is None:
            # Kept until the manager is free to act on it: an alarm is never lost to a busy spell.
            self._alarm_seq = event.seq
        if not self._busy:
            trigger: Trigger | None = "manual" if self._requested else None
            if trigger is None:
                trigger = self.strategy.check(self._status(rolling_metric))
            if trigger is not None:
                self._requested = False
                self._scheduled = self._schedule(trigger, event.seq)
        scheduled = self._scheduled
        if scheduled is not None and event.seq >= scheduled.start_seq:
            self._scheduled = None
            self._start_rebuild(scheduled, event)

    def _schedule(self, trigger: Trigger, seq: int) -> _Scheduled:
        """When a rebuild starts and which events it learns: a drift or metric rebuild waits for
        ``collect`` events after its trigger (the alarm, for a pending one) and learns only those
        and later ones; the others start now, from the whole history."""
        collect = self.strategy.collect_events
        if trigger not in ("drift", "metric") or collect == 0:
            return _Scheduled(trigger, seq, None)
        since = seq
        if trigger == "drift" and self._alarm_seq is not None:
            since = self._alarm_seq
            self._alarm_seq = None
        return _Scheduled(trigger, max(seq, since + collect), since)

    def _status(self, rolling_metric: float) -> StrategyStatus:
        return StrategyStatus(
            task=self.task,
            events_seen=self._events_seen,
            events_since_rebuild=self._events_seen - self._anchor_seq,
            seconds_since_rebuild=self._clock() - self._anchor_time,
            events_since_change=self._events_seen - self._change_seq,
            rolling_metric=rolling_metric,
            drift_alarm=self._alarm_seq is not None,
        )

    def _start_rebuild(self, scheduled: _Scheduled, event: Labelled) -> None:
        challenger_id = self._take_id()
        if self.warm_start:
            model = copy.deepcopy(self._serving.model)
        else:
            model = self._spec_builder().estimator
        job = RebuildJob(
            challenger_id,
            scheduled.trigger,
            model,
            self.history.snapshot(scheduled.since_seq),
            self.history,
            task=self.task,
            rng=random.Random(f"{self.seed}/rebuild/{challenger_id}"),
            since_seq=scheduled.since_seq,
            max_pairs=self.shadow_events,
        )
        self._rebuilds_started += 1
        self._anchor_seq = self._events_seen
        self._anchor_time = self._clock()
        logger.info(
            "rebuild of challenger %d started (%s, %d events of history)",
            challenger_id,
            scheduled.trigger,
            job.snapshot_size,
        )
        if self.background:
            self._job = job
            job.start()
        else:
            job.run()
            self._hand_over(job, event)

    def _hand_over(self, job: RebuildJob, event: Labelled) -> None:
        remaining = job.finish()
        self._cpu["rebuild"] += job.cpu_seconds
        if job.error is not None:
            self._decide_failed(job, event)
            return
        self._challenger = _Challenger(
            job.challenger_id,
            job.trigger,
            _Served(job.model, job.learned, job.learned_to_offset),
            job.first_offset,
            job.last_offset,
            [pair[0] for pair in job.pairs],
            [pair[1] for pair in job.pairs],
            job.replayed,
            deque(remaining),
        )

    def _shadow_step(self, event: Labelled, champion: float | None) -> None:
        challenger = self._challenger
        assert challenger is not None
        challenger.backlog.append((event, champion))
        served = challenger.served
        for _ in range(min(REPLAY_PER_EVENT, len(challenger.backlog))):
            item, item_champion = challenger.backlog.popleft()
            error = prediction_error(self.task, served.model, item.x, item.y)
            paired = len(challenger.champion_errors) < self.shadow_events
            if paired and item_champion is not None and error is not None:
                challenger.champion_errors.append(item_champion)
                challenger.challenger_errors.append(error)
            served.model.learn_one(item.x, item.y)
            served.learned += 1
            served.learned_to_offset = item.offset
            challenger.events += 1
        # Judged on its first K pairs, whatever the threads' timing, once it has caught up: a
        # promoted model has seen every event the champion saw.
        if challenger.events >= self.shadow_events and not challenger.backlog:
            self._decide(challenger, event)

    def _probation_step(self, event: Labelled, champion: float | None) -> None:
        probation = self._probation
        assert probation is not None
        error = prediction_error(self.task, probation.previous.model, event.x, event.y)
        if champion is not None and error is not None:
            probation.new_errors.append(champion)
            probation.previous_errors.append(error)
        if self.strategy.learns_online:
            probation.previous.model.learn_one(event.x, event.y)
            probation.previous.learned += 1
            probation.previous.learned_to_offset = event.offset
        probation.events += 1
        if probation.events < self.shadow_events:
            return
        self._probation = None
        new_score = score(self.task, probation.new_errors)
        old_score = score(self.task, probation.previous_errors)
        if not worse_by(self.task, new_score, old_score, self.rollback_margin):
            return
        restored = self._serve(
            copy.deepcopy(probation.previous), "rollback", parent_id=probation.previous_id
        )
        self._record(
            PromotionDecision(
                challenger_id=probation.new_id,
                champion_id=probation.previous_id,
                trigger=probation.trigger,
                shadow_events=len(probation.new_errors),
                champion_score=old_score,
                challenger_score=new_score,
                statistic=new_score - old_score,
                p_value=math.nan,
                test="probation",
                outcome="rolled_back",
                offset=event.offset,
                seq=event.seq,
                decided_at=self._clock(),
                detail=(
                    f"version {probation.new_id} scored {new_score:.4f} against "
                    f"{old_score:.4f} for version {probation.previous_id} over its probation; "
                    f"restored as version {restored.id}"
                ),
            )
        )

    def _decide(self, challenger: _Challenger, event: Labelled) -> None:
        self._challenger = None
        judgement = judge(
            self.task,
            challenger.champion_errors,
            challenger.challenger_errors,
            significance=self.significance,
            margin=self.margin,
        )
        outcome: Outcome = "promoted" if judgement.promoted else "rejected"
        champion_id = self.version
        if judgement.promoted:
            previous_id, previous = champion_id, self._serving
            self._serve(
                challenger.served,
                challenger.trigger,
                parent_id=champion_id,
                version_id=challenger.id,
                first_offset=challenger.first_offset,
                last_offset=challenger.last_offset,
                validation_score=judgement.challenger_score,
                champion_score=judgement.champion_score,
            )
            self._probation = _Probation(challenger.id, challenger.trigger, previous_id, previous)
        self._record(
            PromotionDecision(
                challenger_id=challenger.id,
                champion_id=champion_id,
                trigger=challenger.trigger,
                shadow_events=len(challenger.champion_errors),
                champion_score=judgement.champion_score,
                challenger_score=judgement.challenger_score,
                statistic=judgement.statistic,
                p_value=judgement.p_value,
                test=judgement.test,
                outcome=outcome,
                offset=event.offset,
                seq=event.seq,
                decided_at=self._clock(),
            )
        )

    def _decide_failed(self, job: RebuildJob, event: Labelled) -> None:
        self._record(
            PromotionDecision(
                challenger_id=job.challenger_id,
                champion_id=self.version,
                trigger=job.trigger,
                shadow_events=0,
                champion_score=math.nan,
                challenger_score=math.nan,
                statistic=math.nan,
                p_value=math.nan,
                test="none",
                outcome="failed",
                offset=event.offset,
                seq=event.seq,
                decided_at=self._clock(),
                detail=f"the rebuild failed: {job.error!r}",
            )
        )

    def _serve(
        self,
        served: _Served,
        trigger: Trigger,
        *,
        parent_id: int,
        version_id: int | None = None,
        first_offset: int | None = None,
        last_offset: int | None = None,
        validation_score: float | None = None,
        champion_score: float | None = None,
    ) -> ModelVersion:
        version = ModelVersion(
            id=self._take_id() if version_id is None else version_id,
            parent_id=parent_id,
            created_at=self._clock(),
            strategy=self.strategy.name,
            trigger=trigger,
            first_offset=first_offset,
            last_offset=last_offset,
            validation_score=validation_score,
            champion_score=champion_score,
            events_learned=served.learned,
            learned_to_offset=served.learned_to_offset,
        )
        self._serving = served
        self._store.add(version, served)
        self._change_seq = self._events_seen
        # The alarm was about the model that has just been replaced.
        self._alarm_seq = None
        return version

    def _record(self, decision: PromotionDecision) -> None:
        self._decisions.append(decision)
        if decision.outcome == "rolled_back":
            # It was counted ``promoted`` when it was; this counts what became of it.
            self._retrains[(decision.trigger, "rolled_back")] += 1
        elif decision.trigger in REBUILD_TRIGGERS:
            self._retrains[(decision.trigger, decision.outcome)] += 1
        logger.info(
            "challenger %d (%s) %s: %.4f against %.4f, %s p=%.3g over %d events %s",
            decision.challenger_id,
            decision.trigger,
            decision.outcome,
            decision.challenger_score,
            decision.champion_score,
            decision.test,
            decision.p_value,
            decision.shadow_events,
            decision.detail,
        )
