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
from dataclasses import dataclass, field
from typing import Any

from river import metrics

from service.drift.data import FeatureDrift
from service.drift.log import DriftKind
from service.drift.watch import DriftWatch
from service.errors import DriftlineError
from service.events import Event, FeatureValue, Label, RejectReason
from service.models import Task
from service.rolling import RollingMean
from service.strategies.config import StrategyConfig
from service.strategies.manager import ManagerStats, ModelManager
from service.strategies.promotion import PromotionDecision
from service.strategies.versions import ModelVersion

__all__ = ["DriftValues", "LabelError", "Learner", "MetricValues", "Prediction", "metric_names"]


def _class_keys(classes: tuple[Label, ...] | None) -> frozenset[tuple[bool, Label]] | None:
    """Labels as set keys where ``1`` is not ``true`` (JSON keeps them apart; hashing does not)."""
    if classes is None:
        return None
    return frozenset((isinstance(c, bool), c) for c in classes)


class LabelError(DriftlineError):
    """An event's label cannot be learned by this model (e.g. a string for a regressor)."""

    def __init__(self, message: str, reason: RejectReason = RejectReason.WRONG_TYPE) -> None:
        super().__init__(message)
        self.reason = reason


_CLASSIFICATION_METRICS = ("accuracy", "log_loss")
_REGRESSION_METRICS = ("mae", "rmse")


def metric_names(task: Task) -> tuple[str, ...]:
    """The prequential metrics reported for a task, in the order River's ``Metrics`` holds them."""
    return _CLASSIFICATION_METRICS if task == "classification" else _REGRESSION_METRICS


@dataclass(frozen=True, slots=True)
class Prediction:
    """What the live model says about one instance."""

    prediction: Label | None
    probabilities: dict[Label, float] | None


@dataclass(frozen=True, slots=True)
class MetricValues:
    """A consistent reading of the learner's progress, taken under its lock."""

    events_learned: int
    events_unlabelled: int
    model_version: int
    positions: dict[int, int]
    cumulative: dict[str, float]
    rolling: dict[str, float]
    rolling_count: int
    learned_at: float | None = field(default=None)


@dataclass(frozen=True, slots=True)
class DriftValues:
    """A consistent reading of the drift watch, taken under the learner's lock."""

    alarms: dict[tuple[str, DriftKind], int]
    warnings: dict[str, int]
    active: dict[str, bool]
    last_alarm_times: dict[DriftKind, float]
    concept_state: dict[str, float]
    features: list[FeatureDrift]
    distribution_psi: dict[str, float]
    events: list[dict[str, Any]]


class Learner:
    """Owns one River model and its prequential metrics; learns labelled events in order."""

    def __init__(
        self,
        manager: ModelManager,
        rolling_window: int,
        drift: DriftWatch | None = None,
        classes: tuple[Label, ...] | None = None,
    ) -> None:
        self.manager = manager
        # The labels a classifier may learn: a label outside them would silently teach the model
        # a class nobody asked for (or, for a binary model, be read as True).
        self.classes = classes
        if classes is None and getattr(manager.model, "_multiclass", True) is False:
            # River's binary models read any truthy label as the positive class: 0/1 and
            # false/true are what they can learn faithfully.
            self.classes = (True, False, 0, 1)
        self._class_keys = _class_keys(self.classes)
        self.spec = manager.spec
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
            self._step = self._test_classifier
        else:
            self.cumulative = metrics.MAE() + metrics.RMSE()
            self._step = self._test_regressor
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
    ) -> Learner:
        """A learner for a registry model, kept fresh by ``strategy`` (online by default)."""
        config = strategy or StrategyConfig()
        manager = ModelManager.from_config(config, model=model, seed=seed)
        return cls(manager, rolling_window, drift, classes)

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

    # --- checkpoints ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything learning changed; the lock is per process and is made anew on restore."""
        state = self.__dict__.copy()
        del state["lock"], state["_step"]
        state["_reader_waiting"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.lock = threading.Lock()
        if not isinstance(self._rolling_label, RollingMean):
            # An older checkpoint, with River's rolling wrappers: the windows start afresh.
            self._rolling_label = RollingMean(self.rolling_window)
            self._rolling_score = RollingMean(self.rolling_window)
            self._class_keys = _class_keys(self.classes)
        self._step = (
            self._test_classifier if self.task == "classification" else self._test_regressor
        )

    # --- writing (the consumer thread only) ---------------------------------------------------

    def learn(self, event: Event, partition: int, offset: int) -> float | None:
        """Test-then-train one event and advance the partition's position past ``offset``.

        Returns the prequential error (1.0 wrong / 0.0 right for a classifier, the absolute
        error for a regressor), or ``None`` when the event has no label or the model had no
        prediction yet.
        """
        label = event.label
        if self.task == "regression" and (isinstance(label, bool | str)):
            raise LabelError(f"label {label!r} is not a number; a regression model needs one")
        keys = self._class_keys
        if label is not None and keys is not None and (label.__class__ is bool, label) not in keys:
            raise LabelError(
                f"label {label!r} is not one of the model's classes", RejectReason.UNKNOWN_LABEL
            )
        with self.lock:
            if label is None:
                self.events_unlabelled += 1
                predicted = error = None
            else:
                predicted, error = self._step(event.features, label)
                self.events_learned += 1
                self.learned_at = event.ts
            drift_alarm = False
            if self.drift is not None:
                alarms_before = self.drift.concept.alarms
                self.drift.observe(event.features, label, predicted, error, offset)
                drift_alarm = self.drift.concept.alarms > alarms_before
            if label is not None:
                self._after_prediction(event.features, label, predicted, error, offset, drift_alarm)
            self.positions[partition] = offset + 1
        if self._reader_waiting:
            # threading.Lock is not fair: hand the lock to a waiting request before the next
            # event, or a busy consumer could starve /predict.
            self._reader_waiting = False
            time.sleep(0)
        return error

    def skip(self, partition: int, offset: int) -> None:
        """Advance past a message that was not learned (it went to the dead-letter topic)."""
        with self.lock:
            self.positions[partition] = offset + 1

    def _after_prediction(
        self,
        x: dict[str, FeatureValue],
        y: Label,
        predicted: Any,
        error: float | None,
        offset: int,
        drift_alarm: bool,
    ) -> None:
        """Let the strategy learn the event (and rebuild, promote, roll back)."""
        manager = self.manager
        version = manager.version
        # Only a rebuilding strategy reads the rolling metric (its metric trigger).
        rolling = self._rolling_label.get() if manager.strategy.rebuilds else math.nan
        manager.after_prediction(x, y, predicted, error, offset, rolling, drift_alarm)
        if manager.version != version and self.drift is not None:
            # A new model serves: its world is the new reference for data drift.
            self.drift.reset_references()

    def _test_classifier(self, x: dict[str, FeatureValue], y: Label) -> tuple[Any, float | None]:
        proba = self.model.predict_proba_one(x)
        predicted = error = None
        if proba:
            predicted = max(proba, key=proba.get)
            self._label_metric.update(y, predicted)
            # LogLoss.update is the mean of _eval's per-event loss: compute it once, use it twice.
            loss = self._score_metric._eval(y, proba)
            self._score_metric._mean.update(loss)
            error = 0.0 if predicted == y else 1.0
            self._rolling_label.add(1.0 - error)
            self._rolling_score.add(loss)
        return predicted, error

    def _test_regressor(self, x: dict[str, FeatureValue], y: Label) -> tuple[Any, float | None]:
        predicted = self.model.predict_one(x)
        error = None
        if predicted is not None:
            self._label_metric.update(y, predicted)
            self._score_metric.update(y, predicted)
            error = abs(float(y) - float(predicted))
            self._rolling_label.add(error)
            self._rolling_score.add(error * error)
        return predicted, error

    # --- reading (any thread) -----------------------------------------------------------------

    def predict(self, features: dict[str, FeatureValue]) -> Prediction:
        """Ask the live model about one instance; never learns from it."""
        return self.predict_many([features])[0]

    def predict_many(self, instances: list[dict[str, FeatureValue]]) -> list[Prediction]:
        """Predict several instances against one consistent model state."""
        self._reader_waiting = True
        with self.lock:
            return [self._predict_unlocked(x) for x in instances]

    def _predict_unlocked(self, x: dict[str, FeatureValue]) -> Prediction:
        if self.task == "classification":
            proba = self.model.predict_proba_one(x)
            if not proba:
                return Prediction(None, {})
            return Prediction(max(proba, key=proba.get), dict(proba))
        return Prediction(self.model.predict_one(x), None)

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
                features=drift.feature_drift(top_features),
                distribution_psi=drift.distribution_psi(),
                events=drift.log.to_list(),
            )

    def describe(self) -> dict[str, Any]:
        """Static facts about the model, for ``GET /model``."""
        return {"name": self.spec.name, "task": self.task, "estimator": repr(self.model)}
