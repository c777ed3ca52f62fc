"""The test-then-train core: predict, score, learn, one event at a time, with no I/O.

:meth:`Learner.learn` does exactly what River's ``evaluate.progressive_val_score`` does for
one labelled event, so the service's metrics equal River's own evaluation of the same model on
the same events. For a classifier that is ``predict_proba_one``; the cumulative metric is
``Accuracy() + LogLoss()`` (River gives accuracy the arg-max of the probabilities, which is
what ``Classifier.predict_one`` returns); no metric is updated while the model has no
prediction yet (``None`` or ``{}``); then the retraining strategy's
:class:`~service.strategies.manager.ModelManager` takes the event: with the default ``online``
strategy that is ``learn_one``, other strategies rebuild, shadow and promote models from it.
Regressors use ``predict_one`` with ``MAE() + RMSE()``.

An event is learned wholly or not at all. What the model cannot take is refused before
anything changes (a label outside its classes, a string feature for a model that needs
numbers), and the model learns before the learner's own counters, metrics and drift watch
move: a model that raises leaves all of them as they were. Numbers are bounded at the gate
(:data:`~service.events.DEFAULT_MAX_MAGNITUDE`), and what the model answers is kept finite:
a regressor's prediction is clipped to the same bound (so an error is at most twice it), a
prediction that is not a finite number counts as none.

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

import math
import threading
import time
from typing import Any

from river import metrics

from service.drift.watch import DriftWatch
from service.errors import DriftlineError
from service.events import DEFAULT_MAX_MAGNITUDE, Event, FeatureValue, Label, RejectReason
from service.feature_kinds import FeatureKindError, FeatureKinds
from service.models import Task
from service.readings import (
    Answers,
    DriftValues,
    MetricValues,
    Prediction,
    bounded,
    finite_probabilities,
    metric_names,
)
from service.rolling import RollingMean
from service.strategies.config import StrategyConfig, manager_from_config
from service.strategies.manager import ModelManager
from service.strategies.promotion import PromotionDecision
from service.strategies.stats import ManagerStats
from service.strategies.versions import ModelVersion

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


def _class_keys(classes: tuple[Label, ...] | None) -> frozenset[tuple[bool, Label]] | None:
    """Labels as set keys where ``1`` is not ``true`` (JSON keeps them apart; hashing does not)."""
    if classes is None:
        return None
    return frozenset((isinstance(c, bool), c) for c in classes)


class EventError(DriftlineError):
    """This model cannot learn the event; refused before anything learned from it."""

    def __init__(self, message: str, reason: RejectReason = RejectReason.WRONG_TYPE) -> None:
        super().__init__(message)
        self.reason = reason


class LabelError(EventError):
    """An event's label cannot be learned by this model (e.g. a string for a regressor)."""


class Learner:
    """Owns one River model and its prequential metrics; learns labelled events in order."""

    def __init__(
        self,
        manager: ModelManager,
        rolling_window: int,
        drift: DriftWatch | None = None,
        classes: tuple[Label, ...] | None = None,
        max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
    ) -> None:
        self.manager = manager
        # A regressor's prediction is clipped to the labels' bound: never further from any
        # label it may be scored on, and its error squared stays finite.
        self.max_magnitude = max_magnitude
        # The labels a classifier may learn: a label outside them would silently teach the model
        # a class nobody asked for (or, for a binary model, be read as True).
        self.classes = classes
        if classes is None and getattr(manager.model, "_multiclass", True) is False:
            # River's binary models read any truthy label as the positive class: 0/1 and
            # false/true are what they can learn faithfully.
            self.classes = (True, False, 0, 1)
        self._class_keys = _class_keys(self.classes)
        self.spec = manager.spec
        self._kinds = FeatureKinds(manager.spec.numeric_only, manager.spec.name)
        self.drift = drift
        self.task: Task = manager.task
        self.lock = threading.Lock()
        self.events_learned = 0
        self.events_unlabelled = 0
        self.positions: dict[int, int] = {}
        self.learned_at: float | None = None
        self.rolling_window = rolling_window
        self._reader_waiting = False
        self.cumulative: metrics.base.Metrics
        if self.task == "classification":
            self.cumulative = metrics.Accuracy() + metrics.LogLoss()
        else:
            self.cumulative = metrics.MAE() + metrics.RMSE()
        # River's Metrics.update gives accuracy the arg-max label and log loss the
        # probabilities; updating the two directly does the same, minus its dispatch cost.
        self._label_metric, self._score_metric = self.cumulative
        # The rolling metrics are means of a per-event value: right (1.0) or wrong and the log
        # loss for a classifier, the absolute and the squared error for a regressor.
        self._rolling_label = RollingMean(rolling_window)
        self._rolling_score = RollingMean(rolling_window)

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
        state.setdefault("max_magnitude", DEFAULT_MAX_MAGNITUDE)
        if "_kinds" not in state:  # an earlier release kept the kinds in fields of its own
            kinds = FeatureKinds(state["spec"].numeric_only, state["spec"].name)
            kinds.numeric = state.pop("_numeric_features", set())
            kinds.nominal = state.pop("_nominal_features", set())
            state.pop("_numeric_only", None)
            state["_kinds"] = kinds
        self.__dict__.update(state)
        self.lock = threading.Lock()
        if not isinstance(self._rolling_label, RollingMean):
            # An older checkpoint, with River's rolling wrappers: the windows start afresh.
            self._rolling_label = RollingMean(self.rolling_window)
            self._rolling_score = RollingMean(self.rolling_window)
            self._class_keys = _class_keys(self.classes)

    # --- writing (the consumer thread only) ---------------------------------------------------

    def learn(self, event: Event, partition: int, offset: int) -> float | None:
        """Test-then-train one event and advance the partition's position past ``offset``.

        Returns the prequential error (1.0 wrong / 0.0 right for a classifier, the absolute
        error for a regressor), or ``None`` when the event has no label or the model had no
        prediction yet. Raises :class:`EventError` for an event this model cannot learn, and
        passes on a model's own error; either way nothing has changed.
        """
        x, label = event.features, event.label
        if self.task == "regression" and (isinstance(label, bool | str)):
            raise LabelError(f"label {label!r} is not a number; a regression model needs one")
        keys = self._class_keys
        if label is not None and keys is not None and (label.__class__ is bool, label) not in keys:
            raise LabelError(
                f"label {label!r} is not one of the model's classes", RejectReason.UNKNOWN_LABEL
            )
        if self._kinds.needs_check(x):
            self._check_kinds(x)
        drift = self.drift
        with self.lock:
            if label is None:
                predicted = error = None
                if drift is not None:
                    drift.observe(x, None, None, None, offset)
                self.events_unlabelled += 1
            else:
                answer = self._answer(x)
                self.manager.learn(x, label, offset)  # the only step that may fail
                self._kinds.remember(x)
                predicted, error = self._score(label, answer)
                self.events_learned += 1
                self.learned_at = event.ts
                alarm = drift is not None and drift.observe(x, label, predicted, error, offset)
                manager = self.manager
                # Only a rebuilding strategy reads the rolling metric (its metric trigger).
                rolling = self._rolling_label.get() if manager.reads_rolling_metric else math.nan
                swapped = manager.after_learning(x, label, error, offset, rolling, alarm)
                if swapped and drift is not None:
                    # A new model serves: its world is the new reference for data drift.
                    drift.reset_references()
            self.positions[partition] = offset + 1
        if self._reader_waiting:
            # threading.Lock is not fair: hand the lock to a waiting request before the next
            # event, or a busy consumer could starve /predict.
            self._reader_waiting = False
            time.sleep(0)
        return error

    def _check_kinds(self, x: dict[str, FeatureValue]) -> None:
        try:
            self._kinds.check(x)
        except FeatureKindError as error:
            raise EventError(str(error)) from None

    def skip(self, partition: int, offset: int) -> None:
        """Advance past a message that was not learned (it went to the dead-letter topic)."""
        with self.lock:
            self.positions[partition] = offset + 1

    def _answer(self, x: dict[str, FeatureValue]) -> Any:
        """The model's finite answer: a classifier's probabilities, a regressor's number."""
        if self.task == "classification":
            return finite_probabilities(self.model.predict_proba_one(x))
        return bounded(self.model.predict_one(x), self.max_magnitude)

    def _score(self, y: Label, answer: Any) -> tuple[Any, float | None]:
        """Update the metrics with one answer; the prediction and its prequential error."""
        if answer is None:
            return None, None
        if self.task == "classification":
            predicted = max(answer, key=answer.get)
            self._label_metric.update(y, predicted)
            # LogLoss.update is the mean of _eval's per-event loss: compute it once, use it twice.
            loss = self._score_metric._eval(y, answer)
            self._score_metric._mean.update(loss)
            error = 0.0 if predicted == y else 1.0
            self._rolling_label.add(1.0 - error)
            self._rolling_score.add(loss)
            return predicted, error
        self._label_metric.update(y, answer)
        self._score_metric.update(y, answer)
        error = abs(float(y) - answer)
        self._rolling_label.add(error)
        self._rolling_score.add(error * error)
        return answer, error

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
            if not kinds.numeric_only:  # a scaler scores an unseen string as 0, a tree raises
                for x in instances:
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
        names = metric_names(self.task)
        with self.lock:
            return MetricValues(
                events_learned=self.events_learned,
                events_unlabelled=self.events_unlabelled,
                model_version=self.model_version,
                positions=dict(self.positions),
                cumulative={n: m.get() for n, m in zip(names, self.cumulative, strict=True)},
                rolling=self._rolling_values(),
                rolling_count=len(self._rolling_label),
                learned_at=self.learned_at,
            )

    def _rolling_values(self) -> dict[str, float]:
        """The rolling metrics under their names; 0 while the window is empty, as River's."""
        names = metric_names(self.task)
        if not len(self._rolling_label):
            return dict.fromkeys(names, 0.0)
        label, score = self._rolling_label.get(), self._rolling_score.get()
        if self.task == "regression":
            score = math.sqrt(score)  # the mean squared error's root
        return {names[0]: label, names[1]: score}

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
        drift = self.drift
        with self.lock:
            return DriftValues(
                alarms=drift.alarm_counts(),
                warnings=drift.warning_counts(),
                active=drift.active_kinds(),
                last_alarm_times=drift.last_alarm_times(),
                concept_state=drift.concept_state(),
                concept_reading=drift.concept_reading(),
                features=drift.feature_drift(top_features),
                distribution_psi=drift.distribution_psi(),
                events=drift.log.to_list(),
            )

    def describe(self) -> dict[str, Any]:
        """Static facts about the model, for ``GET /model``."""
        return {"name": self.spec.name, "task": self.task, "estimator": repr(self.model)}
