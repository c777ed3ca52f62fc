"""The test-then-train core: predict, score, learn, one event at a time, with no I/O.

:meth:`Learner.learn` does exactly what River's ``evaluate.progressive_val_score`` does for
one labelled event (``predict_proba_one`` or ``predict_one``, scored by
:class:`~service.prequential.Prequential`), so the service's metrics equal River's own
evaluation of the same model on the same events; then the retraining strategy's
:class:`~service.strategies.manager.ModelManager` takes the event: with the default ``online``
strategy that is ``learn_one``, other strategies rebuild, shadow and promote models from it.

A *question* (an ``id``, features, no label) is predicted when read and kept
(:class:`~service.feedback.loop.FeedbackLoop`); its *answer* (``{"id", "label"}``) is scored
with the answer kept, then the model learns the kept features: River's
``progressive_val_score(..., delay=...)``. Candidates (:mod:`service.candidates`) take the same
step beside the serving model.

An event is learned wholly or not at all. What the model cannot take is refused before
anything changes (a label outside its classes, a feature of another kind than it learned), and
the model learns before the learner's own counters, metrics and drift watch move. Numbers are
bounded at the gate (:data:`~service.events.DEFAULT_MAX_MAGNITUDE`), a regressor's prediction
is clipped to the same bound, and a prediction that is not a finite number counts as none.

The consumer thread is the only writer. HTTP requests read the same model under
:attr:`Learner.lock`, which the writer holds for one event at a time, so a request waits behind
at most one ``learn_one`` and never sees a half-applied update.

Examples
--------
>>> from service.events import Event
>>> learner = Learner.for_model("logreg", rolling_window=100)
>>> for i in range(20):
...     _ = learner.learn(Event({"x": float(i % 2)}, label=bool(i % 2)), partition=0, offset=i)
>>> learner.events_learned, learner.positions
(20, {0: 20})
>>> learner.predict({"x": 1.0}).prediction
True
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from service.candidates import CandidateRow, Candidates
from service.drift.watch import DriftWatch
from service.events import (
    DEFAULT_MAX_MAGNITUDE,
    Answer,
    Event,
    FeatureValue,
    Label,
    RejectReason,
)
from service.feature_kinds import FeatureKindError, FeatureKinds
from service.feedback.loop import FeedbackLoop
from service.feedback.pending import (
    DEFAULT_PENDING_MAX,
    DEFAULT_PENDING_TTL_SECONDS,
    PendingStore,
    Question,
    Source,
)
from service.labels import BINARY_CLASSES, EventError, LabelError, LabelGate
from service.models import Task
from service.prequential import Prequential
from service.readings import (
    Answers,
    DriftValues,
    FeedbackValues,
    MetricValues,
    Prediction,
    finite_answer,
    kept,
    metric_names,
    served_answer,
)
from service.strategies.config import StrategyConfig, manager_from_config
from service.strategies.manager import ModelManager
from service.strategies.promotion import PromotionDecision
from service.strategies.stats import ManagerStats
from service.strategies.versions import ModelVersion
from service.upgrade import upgrade_learner_state

__all__ = [
    "Answers",
    "DriftValues",
    "EventError",
    "LabelError",
    "Learner",
    "MetricValues",
    "Prediction",
    "metric_names",
]

log = logging.getLogger(__name__)


class Learner:
    """Owns one River model and its prequential metrics; learns labelled events in order."""

    def __init__(
        self,
        manager: ModelManager,
        rolling_window: int,
        drift: DriftWatch | None = None,
        classes: tuple[Label, ...] | None = None,
        max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
        pending: PendingStore | None = None,
        candidates: Candidates | None = None,
    ) -> None:
        self.manager = manager
        # A regressor's prediction is clipped to the labels' bound: never further from any
        # label it may be scored on, and its error squared stays finite.
        self.max_magnitude = max_magnitude
        binary = getattr(manager.model, "_multiclass", True) is False
        if classes is None and manager.task == "classification" and binary:
            classes = BINARY_CLASSES  # River's binary models read any truthy label as True
        self.labels = LabelGate(manager.task, classes)
        self.spec = manager.spec
        self._kinds = FeatureKinds()
        self.drift = drift
        self.task: Task = manager.task
        self.lock = threading.Lock()
        self.events_learned = 0
        self.events_unlabelled = 0
        self.positions: dict[int, int] = {}
        # Per partition of DRIFTLINE_FEEDBACK_TOPIC, the next offset to read (empty without it).
        self.feedback_positions: dict[int, int] = {}
        self.learned_at: float | None = None
        self._reader_waiting = False
        self.evaluation = Prequential(self.task, rolling_window)
        if pending is None:
            pending = PendingStore(DEFAULT_PENDING_MAX, DEFAULT_PENDING_TTL_SECONDS)
        self.feedback = FeedbackLoop(self.task, pending)
        self.candidates = candidates

    @classmethod
    def for_model(
        cls,
        model: str,
        *,
        rolling_window: int = 1000,
        seed: int = 42,
        drift: DriftWatch | None = None,
        strategy: StrategyConfig | None = None,
        classes: tuple[Label, ...] | None = None,
        max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    ) -> Learner:
        """A learner for a registry model, kept fresh by ``strategy`` (online by default)."""
        config = strategy or StrategyConfig()
        manager = manager_from_config(config, model=model, seed=seed)
        return cls(manager, rolling_window, drift, classes, max_magnitude)

    @property
    def model(self) -> Any:
        """The serving (champion) River model. River types estimators loosely, hence Any."""
        return self.manager.model

    @property
    def rolling_window(self) -> int:
        """Events the rolling metrics cover."""
        return self.evaluation.window

    @property
    def model_version(self) -> int:
        return self.manager.version

    def close(self) -> None:
        """Stop a background rebuild, if one runs (it is started again after a restore)."""
        self.manager.close()

    def start_over(self, fresh: Learner) -> None:
        """Become ``fresh``, in place: the API and the metrics keep reading this object."""
        with self.lock:
            self.manager.close()
            self.__dict__.update(fresh.__getstate__())  # all but the lock, which stays ours

    # --- checkpoints ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything learning changed; the lock is per process and is made anew on restore."""
        state = self.__dict__.copy()
        del state["lock"]
        state["_reader_waiting"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "labels" not in state:  # pickled by an earlier release
            upgrade_learner_state(state)
        state.setdefault("candidates", None)
        state.setdefault("feedback_positions", {})
        self.__dict__.update(state)
        self.lock = threading.Lock()

    # --- writing (the consumer thread only) ---------------------------------------------------

    def learn(
        self,
        event: Event | Answer,
        partition: int,
        offset: int,
        at: float | None = None,
        *,
        feedback: bool = False,
    ) -> float | None:
        """Take one event (or answer) and advance the partition's position past ``offset``.

        ``feedback``: the record is of the feedback topic, whose positions are kept apart from
        the event topic's; it holds answers only. A labelled event is learned test-then-train;
        a question is predicted and kept; an answer joins its question. ``at`` is the record's
        timestamp (seconds), the clock questions age by when the event has no ``ts``. Returns
        the prequential error (1.0 wrong / 0.0 right for a classifier, the absolute error for a
        regressor), or ``None`` when nothing was scored. Raises :class:`EventError` for an
        event this model cannot take (an answer nobody is waiting for included, anything but an
        answer on the feedback topic), and passes on a model's own error; either way nothing
        has changed.
        """
        if event.__class__ is Answer:
            assert isinstance(event, Answer)
            positions = self.feedback_positions if feedback else self.positions
            return self._join(event, positions, partition, offset, at)
        if feedback:
            raise EventError(
                "the feedback topic takes answers only: an id and a label, without features",
                RejectReason.NOT_AN_ANSWER,
            )
        assert isinstance(event, Event)
        x, label = event.features, event.label
        if label is not None:
            self.labels.check(label)
        if self._kinds.needs_check(x):
            self._check_kinds(x)
        drift = self.drift
        with self.lock:
            if label is not None:
                error = self._test_then_train(x, label, self._answer(x), offset, event.ts)
            elif event.id is not None:
                self._ask(event, offset, at)
                error = None
            else:
                error = None
                if drift is not None:
                    drift.observe_features(x, offset)
                self.events_unlabelled += 1
            self.positions[partition] = offset + 1
        self._yield_to_reader()
        return error

    def _test_then_train(
        self,
        x: dict[str, FeatureValue],
        label: Label,
        answer: Any,
        offset: int,
        ts: float | None,
        question: Question | None = None,
    ) -> float | None:
        """Score ``answer`` (given now, or kept by ``question``), learn, and tell the drift
        watch and the manager: the one step every labelled outcome takes."""
        self.manager.learn(x, label, offset)  # the only step that may fail
        self._kinds.remember(x)
        predicted, error = self.evaluation.score(label, answer)
        self.events_learned += 1
        self.learned_at = ts
        drift, manager = self.drift, self.manager
        alarm = False
        if drift is not None:
            if question is None:
                alarm = drift.observe(x, label, predicted, error, offset)
            else:  # its features were observed when it was asked
                alarm = drift.observe_outcome(label, predicted, error, offset)
        # Only a rebuilding strategy reads the rolling metric (its metric trigger).
        rolling = self.evaluation.rolling_label.get() if manager.reads_rolling_metric else math.nan
        asked = None if question is None else question.contenders
        swapped = manager.after_learning(x, label, error, offset, rolling, alarm, asked)
        candidates = self.candidates
        if candidates is not None:
            candidates.learn(x, label, None if question is None else question.candidates)
            if candidates.leader_turn():
                candidates.propose_leader(manager, self.evaluation.rolling_values())
        if swapped and drift is not None:
            # A new model serves: its world is the new reference for data drift.
            drift.reset_references()
        return error

    def _ask(self, event: Event, offset: int, at: float | None) -> None:
        """Predict a question (or take the prediction it was served) and keep it by id."""
        assert event.id is not None
        x, served = event.features, event.served
        source: Source
        if served is None:
            answer, source, version = kept(self._answer(x)), "streamed", self.model_version
        else:
            answer = served_answer(self.task, served, self.max_magnitude)
            source, version = "served", served.model_version
        asked_at = event.ts if event.ts is not None else at
        candidates = {} if self.candidates is None else self.candidates.ask(x)
        question = Question(
            dict(x), answer, asked_at, source, version, self.manager.ask(x), candidates
        )
        self.feedback.ask(event.id, question)
        if self.drift is not None:
            self.drift.observe_features(x, offset)

    def _join(
        self,
        answer: Answer,
        positions: dict[int, int],
        partition: int,
        offset: int,
        at: float | None,
    ) -> float | None:
        """Score the kept answer of ``answer``'s question, then learn its kept features."""
        label = answer.label
        self.labels.check(label)
        now = answer.ts if answer.ts is not None else at
        with self.lock:
            question = self.feedback.waiting(answer.id, now)
            x = question.x
            if self._kinds.needs_check(x):
                self._check_kinds(x)
            error = self._test_then_train(x, label, question.answer, offset, answer.ts, question)
            self.feedback.joined(answer.id, question, label, now)
            positions[partition] = offset + 1
        self._yield_to_reader()
        return error

    def _yield_to_reader(self) -> None:
        if self._reader_waiting:
            # threading.Lock is not fair: hand the lock to a waiting request before the next
            # event, or a busy consumer could starve /predict.
            self._reader_waiting = False
            time.sleep(0)

    def _check_kinds(self, x: dict[str, FeatureValue]) -> None:
        try:
            self._kinds.check(x)
        except FeatureKindError as error:
            raise EventError(str(error)) from None

    def skip(self, partition: int, offset: int, *, feedback: bool = False) -> None:
        """Advance past a message that was not learned (it went to the dead-letter topic)."""
        with self.lock:
            (self.feedback_positions if feedback else self.positions)[partition] = offset + 1

    def _answer(self, x: dict[str, FeatureValue]) -> Any:
        """The model's finite answer: a classifier's probabilities, a regressor's number."""
        return finite_answer(self.task, self.manager.model, x, self.max_magnitude)

    # --- reading (any thread) -----------------------------------------------------------------

    def predict(self, features: dict[str, FeatureValue]) -> Prediction:
        """Ask the live model about one instance; never learns from it."""
        return self.predict_many([features]).predictions[0]

    def predict_many(self, instances: list[dict[str, FeatureValue]]) -> Answers:
        """Predict several instances against one consistent model state.

        The version and the learned count come from the same hold of the lock as the
        predictions: read after it, a promotion in between would name the next model.
        Raises :class:`EventError` for an instance this model cannot take.
        """
        self._reader_waiting = True
        with self.lock:
            kinds = self._kinds
            for x in instances:  # a tree raises on a feature of the other kind
                if kinds.needs_check(x):
                    self._check_kinds(x)
            return Answers(
                [self._predict_unlocked(x) for x in instances],
                self.manager.version,
                self.events_learned,
            )

    def _predict_unlocked(self, x: dict[str, FeatureValue]) -> Prediction:
        answer = self._answer(x)
        if self.task == "classification":
            if answer is None:
                return Prediction(None, {})
            return Prediction(max(answer, key=answer.get), dict(answer))
        return Prediction(answer, None)

    def values(self) -> MetricValues:
        """A consistent snapshot of counts, positions and metrics."""
        with self.lock:
            return MetricValues(
                events_learned=self.events_learned,
                events_unlabelled=self.events_unlabelled,
                model_version=self.model_version,
                positions=dict(self.positions),
                feedback_positions=dict(self.feedback_positions),
                cumulative=self.evaluation.cumulative_values(),
                rolling=self.evaluation.rolling_values(),
                rolling_count=len(self.evaluation.rolling_label),
                agreement=self.evaluation.agreement_values(),
                learned_at=self.learned_at,
            )

    def leaderboard(self) -> list[CandidateRow]:
        """The candidates ranked, best first (empty without ``DRIFTLINE_CANDIDATES``)."""
        with self.lock:
            return [] if self.candidates is None else self.candidates.ranked()

    def feedback_values(self) -> FeedbackValues:
        """A consistent reading of the questions, the answers and the pending store."""
        with self.lock:
            return self.feedback.values()

    def strategy_stats(self) -> ManagerStats:
        """The retraining strategy's counters and scores, read under the lock."""
        with self.lock:
            return self.manager.stats()

    def versions(self) -> tuple[list[ModelVersion], list[PromotionDecision]]:
        """The kept model versions (serving one last) and the recent promotion decisions."""
        with self.lock:
            return self.manager.versions(), self.manager.decisions()

    def rollback(self, version_id: int) -> ModelVersion:
        """Serve a kept version again (as a new version); drift references start afresh."""
        with self.lock:
            version = self.manager.rollback(version_id)
            if self.drift is not None:
                self.drift.reset_references()
            return version

    def request_rebuild(self) -> None:
        """Ask the strategy for a rebuild (gated like any other) as soon as it is free."""
        with self.lock:
            self.manager.request_rebuild()

    def drift_values(self, top_features: int) -> DriftValues | None:
        """A consistent reading of the drift watch, or ``None`` when drift detection is off."""
        if self.drift is None:
            return None
        with self.lock:
            return self.drift.values(top_features)

    def describe(self) -> dict[str, Any]:
        """Static facts about the model, for ``GET /model``."""
        return {"name": self.spec.name, "task": self.task, "estimator": repr(self.model)}
