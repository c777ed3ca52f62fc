"""The model manager: the serving model, its challengers, versions and rollback, orchestrated.

A :class:`ModelManager` owns the *champion* (the model ``/predict`` uses) and runs one
:class:`~service.strategies.base.Strategy` (when to learn online, when to rebuild) over small
parts: the history (which events a rebuild learns), the :class:`~service.strategies.schedule.
RebuildSchedule` (when it starts), the :class:`~service.strategies.rebuild.Rebuilder` (building
a model, inline or in a thread), :mod:`~service.strategies.shadow` (shadow runs, probations),
:mod:`~service.strategies.promotion` (the gate's judgements and the decision log), the
:class:`~service.strategies.versions.VersionStore`, the memory set and the CPU meter.

The learner predicts and scores each labelled event, then calls :meth:`~ModelManager.learn`
(with ``online``, exactly ``learn_one`` on the champion, so the service stays River's
progressive validation event for event) and :meth:`~ModelManager.after_learning`, which answers
whether another model serves from now on::

    trigger ──(collect events, drift/metric only)──> rebuild (events arriving meanwhile are
    replayed test-then-train) ──> challenger in shadow for K events ──> McNemar / Wilcoxon gate
      ──> rejected   or   promoted: a new ModelVersion, the old champion on probation for K
                          events ──> kept, or rolled back

Every call runs under the learner's lock (the consumer thread writes, an admin request takes
the same lock); a background rebuild touches only its own model and history copy, and is handed
over in the consumer thread. Everything pickles; a background rebuild still running is
abandoned and its trigger kept, so the restored manager starts the same rebuild again.

Examples
--------
>>> from functools import partial
>>> from producer.scenarios import make_scenario
>>> from service.models import build_model
>>> from service.strategies.history import make_history
>>> from service.strategies.online import OnlineStrategy
>>> from service.strategies.scoring import prediction_error
>>> manager = ModelManager(partial(build_model, "logreg", 42), OnlineStrategy(),
...                        make_history("window", size=500), background=False, seed=42)
>>> for offset, (x, y) in enumerate(make_scenario("stationary", n=300, seed=1)):
...     error = prediction_error("classification", manager.model, x, y)
...     manager.learn(x, y, offset)
...     changed = manager.after_learning(x, y, error, offset, rolling_metric=0.9,
...                                      drift_alarm=False)
>>> stats = manager.stats()
>>> changed, manager.version, stats["events_seen"], stats["model_events_learned"]
(False, 1, 300, 300)
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from typing import Any

from service.events import FeatureValue, Label
from service.models import ModelSpec, Task
from service.strategies import defaults
from service.strategies.base import Strategy, Trigger
from service.strategies.costs import CpuMeter
from service.strategies.errors import StrategyConfigurationError, StrategyError
from service.strategies.history import HistoryPolicy, Labelled
from service.strategies.memory import MemorySet
from service.strategies.promotion import DecisionLog, Judgement, PromotionDecision
from service.strategies.rebuild import Rebuilder, RebuildJob
from service.strategies.schedule import RebuildSchedule, Scheduled
from service.strategies.scoring import champion_error
from service.strategies.shadow import (
    Challenger,
    Probation,
    Served,
    ShadowStage,
    Verdict,
    challenger_from,
)
from service.strategies.stats import ManagerStats
from service.strategies.upgrade import upgrade_manager_state
from service.strategies.versions import ModelVersion, VersionStore

__all__ = ["ManagerStats", "ModelManager"]

logger = logging.getLogger(__name__)


class ModelManager:
    """The champion, its challengers and versions, under one retraining strategy.

    ``spec_builder`` builds a fresh, untrained model (the first champion, and each rebuild that
    is not a warm start) and must pickle (``functools.partial(build_model, name, seed)``);
    ``background=False`` rebuilds inline, for deterministic comparisons and tests; ``clock``
    (wall-clock time for versions, decisions and ``every_seconds``) must pickle too. The other
    parameters are the strategy settings of the same names, described in
    :class:`~service.strategies.config.StrategyConfig` (``shadow_events`` is K, also the length
    of a probation; ``seed`` seeds the memory set and the weighted samples of rebuilds).
    """

    def __init__(
        self,
        spec_builder: Callable[[], ModelSpec],
        strategy: Strategy,
        history: HistoryPolicy,
        *,
        shadow_events: int = defaults.DEFAULT_SHADOW_EVENTS,
        significance: float = defaults.DEFAULT_SIGNIFICANCE,
        margin: float = defaults.DEFAULT_MARGIN,
        rollback_margin: float = defaults.DEFAULT_ROLLBACK_MARGIN,
        keep_versions: int = defaults.DEFAULT_KEEP_VERSIONS,
        memory_size: int = defaults.DEFAULT_MEMORY_SIZE,
        memory_every: int = defaults.DEFAULT_MEMORY_EVERY,
        initial_events: int = defaults.DEFAULT_INITIAL_EVENTS,
        warm_start: bool = False,
        background: bool = True,
        seed: int = 42,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if initial_events < 0:
            raise StrategyConfigurationError("initial_events cannot be negative")
        self.spec = spec_builder()
        self.task: Task = self.spec.task
        self.strategy = strategy
        self.history = history
        self.initial_events = initial_events
        self._clock = clock
        self._memory = MemorySet(memory_size, memory_every, seed)
        self._store = VersionStore(keep_versions)
        self._serving = Served(self.spec.estimator)
        self._store.add(ModelVersion(1, None, clock(), strategy.name, "initial"), self._serving)
        self._next_id = 2
        self._events_seen = 0
        self._schedule = RebuildSchedule(initial_events, clock())
        self._rebuilder = Rebuilder(
            spec_builder,
            self.task,
            warm_start=warm_start,
            background=background,
            seed=seed,
            max_pairs=shadow_events,
        )
        self._shadow = ShadowStage(self.task, shadow_events, significance, margin, rollback_margin)
        self._decisions = DecisionLog(defaults.DECISION_LOG_SIZE)
        self._costs = CpuMeter()

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

    @property
    def reads_rolling_metric(self) -> bool:
        """Whether :meth:`after_learning` uses the rolling metric (a rebuilding strategy's
        metric trigger): the learner computes it only then."""
        return self.strategy.rebuilds

    # --- the consumer thread ------------------------------------------------------------------

    def learn(self, x: dict[str, FeatureValue], y: Label, offset: int) -> None:
        """The serving model learns one labelled event, if the strategy learns online.

        The only step a model's own error can stop: when ``learn_one`` raises, nothing of the
        manager has changed, so the learner can refuse the event whole. :meth:`after_learning`
        must follow for the same event.
        """
        seq = self._events_seen
        if seq < self.initial_events or self.strategy.learns_online:
            started = self._costs.start(seq)
            self._serving.model.learn_one(x, y)
            self._serving.learned += 1
            self._serving.learned_to_offset = offset
            self._costs.charge("online", started)
        self._events_seen = seq + 1

    def after_learning(
        self,
        x: dict[str, FeatureValue],
        y: Label,
        error: float | None,
        offset: int,
        rolling_metric: float,
        drift_alarm: bool,
        asked: dict[int, Any] | None = None,
    ) -> bool:
        """The rest of one event, after :meth:`learn` took it; whether another model serves.

        The history and the memory set take a copy of it (``x`` is never modified or kept);
        the shadow stage scores and teaches it; a finished background rebuild is handed over;
        the schedule asks the strategy. ``error`` is the champion's prequential error as the
        learner computed it (``None``: no prediction); ``rolling_metric`` is read only when
        :attr:`reads_rolling_metric`; a ``drift_alarm`` that comes while the manager is busy is
        kept until it is free (and dropped if the serving model changes meanwhile); ``asked``
        is what :meth:`ask` answered when the event was a question.
        """
        serving = self._serving
        seq = self._events_seen - 1
        event = Labelled(dict(x), y, offset, seq)
        champion = champion_error(self.task, error)
        if self._shadow.busy:
            started = self._costs.start(seq)
            for verdict in self._shadow.step(event, champion, self.strategy.learns_online, asked):
                self._act_on(verdict, event)
            self._costs.charge("shadow", started)

        self.history.append(event)
        started = self._costs.start(seq)
        self._memory.observe(event, self._serving.model, self.task)
        self._costs.charge("memory", started)

        finished = self._rebuilder.offer(event, champion)
        if finished is not None:
            self._hand_over(finished, event)
        schedule = self._schedule
        if seq + 1 >= self.initial_events and (
            self.strategy.rebuilds or schedule.requested or schedule.scheduled is not None
        ):
            if drift_alarm:
                schedule.note_alarm(seq)
            busy = self._rebuilder.job is not None or self._shadow.busy
            schedule.plan(
                self.strategy,
                self.task,
                seq=seq,
                busy=busy,
                rolling_metric=rolling_metric,
                now=self._clock(),
            )
            due = schedule.due(seq)
            if due is not None:
                self._start_rebuild(due, event)
        return self._serving is not serving

    def ask(self, x: dict[str, FeatureValue]) -> dict[int, Any]:
        """The shadow stage's answers to a question, kept until its label comes: the gate then
        scores each contender's prediction made at question time, as the champion's is."""
        return self._shadow.ask(x) if self._shadow.busy else {}

    def request_rebuild(self) -> None:
        """Ask for a ``manual`` rebuild; it starts at the next event once nothing else runs."""
        self._schedule.requested = True

    def propose(self, model: Any, trigger: Trigger = "manual") -> int:
        """Put a ready model in shadow as a challenger (it learns on from here); returns its id.

        Raises :class:`StrategyError` when a rebuild, shadow run or probation is under way.
        """
        if self._busy:
            raise StrategyError("a rebuild, shadow run or probation is already under way")
        challenger_id = self._take_id()
        self._shadow.challenger = Challenger(challenger_id, trigger, Served(model), None, None)
        return challenger_id

    def rollback(self, version_id: int) -> ModelVersion:
        """Serve a copy of a kept version's model again, as a new version (trigger ``rollback``).

        Its ``parent_id`` is ``version_id``; a probation under way ends, a challenger in shadow
        carries on. Raises :class:`UnknownVersionError` for a version not kept, and
        :class:`StrategyError` for the one serving.
        """
        if version_id == self.version:
            raise StrategyError(f"version {version_id} is already serving")
        served: Served = self._store.restore(version_id)
        self._shadow.probation = None
        restored = self._serve(served, "rollback", parent_id=version_id)
        logger.info("rolled back to version %d as version %d", version_id, restored.id)
        return restored

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop a background rebuild (abandoned, not recorded) and wait for its thread."""
        self._rebuilder.close(timeout)

    def join_rebuild(self, timeout: float | None = None) -> bool:
        """Wait for a background rebuild's thread to finish (it is handed over at the next
        event); ``True`` when none is running any more."""
        return self._rebuilder.wait(timeout)

    # --- reading --------------------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        """The kept versions, oldest first; the last one is serving."""
        return self._store.records()

    def decisions(self) -> list[PromotionDecision]:
        """The last :data:`~service.strategies.defaults.DECISION_LOG_SIZE` gate decisions and
        rollbacks, oldest first."""
        return self._decisions.recent()

    def stats(self) -> ManagerStats:
        """Every exportable value (see :class:`ManagerStats`)."""
        return ManagerStats(
            strategy=self.strategy.name,
            history=self.history.name,
            version=self.version,
            events_seen=self._events_seen,
            model_events_learned=self._serving.learned,
            rebuilds_started=self._rebuilder.started,
            rebuild_running=self._rebuilder.job is not None,
            **self._shadow.scores(),
            memory_score=self._memory.score,
            memory_events=len(self._memory),
            retrains=self._decisions.retrains(),
            cpu_seconds=self._costs.seconds(),
        )

    # --- pickling -------------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        job = self._rebuilder.job
        if job is not None:
            # A thread does not pickle: the restored manager starts this rebuild again.
            schedule = state["_schedule"] = copy.copy(self._schedule)
            schedule.scheduled = Scheduled(job.trigger, start_seq=0, since_seq=job.since_seq)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_rebuilder" not in state:
            upgrade_manager_state(state)
        self.__dict__.update(state)

    # --- internals ------------------------------------------------------------------------------

    @property
    def _busy(self) -> bool:
        return (
            self._schedule.scheduled is not None
            or self._rebuilder.job is not None
            or self._shadow.busy
        )

    def _take_id(self) -> int:
        taken = self._next_id
        self._next_id += 1
        return taken

    def _start_rebuild(self, scheduled: Scheduled, event: Labelled) -> None:
        self._schedule.started(self._events_seen, self._clock())
        finished = self._rebuilder.start(
            self._take_id(), scheduled.trigger, scheduled.since_seq, self.history, self.model
        )
        if finished is not None:
            self._hand_over(finished, event)

    def _hand_over(self, job: RebuildJob, event: Labelled) -> None:
        remaining = job.finish()
        self._costs.add("rebuild", job.cpu_seconds)
        if job.error is None:
            self._shadow.challenger = challenger_from(job, remaining)
            return
        failed = job.failure(self.version, event.offset, event.seq, self._clock())
        self._decisions.record(failed)

    def _act_on(self, verdict: Verdict, event: Labelled) -> None:
        """Serve what a verdict says should serve, and record the decision."""
        champion_id, restored_id = self.version, None
        if verdict.kind == "roll_back":
            probation = verdict.probation
            assert probation is not None
            restored = copy.deepcopy(probation.previous)
            restored_id = self._serve(restored, "rollback", parent_id=probation.previous_id).id
        elif verdict.kind == "promote":
            challenger = verdict.challenger
            assert challenger is not None
            previous = self._serving
            self._serve(
                challenger.served, challenger.trigger, champion_id, challenger, verdict.judgement
            )
            self._shadow.probation = Probation(
                challenger.id, challenger.trigger, champion_id, previous
            )
        self._decisions.record(
            verdict.decision(
                champion_id,
                restored_id,
                offset=event.offset,
                seq=event.seq,
                decided_at=self._clock(),
            )
        )

    def _serve(
        self,
        served: Served,
        trigger: Trigger,
        parent_id: int,
        challenger: Challenger | None = None,
        judgement: Judgement | None = None,
    ) -> ModelVersion:
        """Make ``served`` the champion, as a new version: a promoted ``challenger``'s (with
        its lineage and the ``judgement`` that promoted it), or a new id."""
        version = ModelVersion(
            id=challenger.id if challenger else self._take_id(),
            parent_id=parent_id,
            created_at=self._clock(),
            strategy=self.strategy.name,
            trigger=trigger,
            first_offset=challenger.first_offset if challenger else None,
            last_offset=challenger.last_offset if challenger else None,
            validation_score=judgement.challenger_score if judgement else None,
            champion_score=judgement.champion_score if judgement else None,
            events_learned=served.learned,
            learned_to_offset=served.learned_to_offset,
        )
        self._serving = served
        self._store.add(version, served)
        self._schedule.served(self._events_seen)
        return version
