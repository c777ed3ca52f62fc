"""What readers get from the learner: predictions and readings, each taken under its lock.

The learner's writer thread and the API's readers meet only here: every value a route or the
metrics collector reads is one of these frozen records, built in one hold of the learner's lock.
The two helpers keep what a model answers finite (see the learner's docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from service.drift.watch import DriftValues
from service.events import Label, ServedPrediction
from service.feedback.pending import Source
from service.models import Task

__all__ = [
    "METRIC_SUFFIXES",
    "Answers",
    "DriftValues",
    "FeedbackValues",
    "MetricValues",
    "Prediction",
    "bounded",
    "finite_answer",
    "finite_probabilities",
    "kept",
    "metric_names",
    "served_answer",
]


#: How each prequential metric is named in Prometheus: ``driftline_<scope>_<suffix>``.
METRIC_SUFFIXES = {
    "accuracy": "accuracy_ratio",
    "log_loss": "log_loss",
    "mae": "mae",
    "rmse": "rmse",
}

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
class Answers:
    """Predictions and the model state that made them, read under one hold of the lock."""

    predictions: list[Prediction]
    model_version: int
    events_learned: int


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
    agreement: dict[str, float] = field(default_factory=dict)
    """A classifier's Cohen's kappa and kappa-temporal, cumulative and rolling."""
    feedback_positions: dict[int, int] = field(default_factory=dict)
    """Per partition of the feedback topic, the next offset to read (empty without one)."""


@dataclass(frozen=True, slots=True)
class FeedbackValues:
    """Questions, answers and the pending store, read under the learner's lock."""

    pending: int
    questions: dict[Source, int]
    """Questions kept, by source (``served``, ``streamed``)."""
    joined: dict[Source, int]
    """Answers joined to their questions, by the question's source."""
    expired: dict[str, int]
    """Questions that expired unanswered, by cause (``ttl``, ``capacity``)."""
    joined_metrics: dict[Source, dict[str, float]]
    """Prequential metrics over joined predictions, by source."""
    delay_counts: list[int]
    """Label delays per bucket of :data:`~service.feedback.joins.LABEL_DELAY_BUCKETS` (+Inf
    last), not cumulative."""
    delay_sum: float


def finite_probabilities(proba: dict[Label, float] | None) -> dict[Label, float] | None:
    """The probabilities, or ``None`` when there are none or any is not a finite number."""
    if not proba:
        return None
    try:
        total = sum(proba.values())
    except TypeError:
        return None
    return proba if math.isfinite(total) else None


def bounded(predicted: Any, bound: float) -> float | None:
    """A regressor's prediction clipped to ``[-bound, bound]``; ``None`` unless a number."""
    if predicted is None or isinstance(predicted, bool):
        return None
    try:
        value = float(predicted)
    except (TypeError, ValueError, OverflowError):
        return None
    if value != value:  # NaN
        return None
    return max(-bound, min(bound, value))


def finite_answer(task: Task, model: Any, x: dict[str, Any], bound: float) -> Any:
    """A model's finite answer: a classifier's probabilities, a regressor's clipped number."""
    if task == "classification":
        return finite_probabilities(model.predict_proba_one(x))
    return bounded(model.predict_one(x), bound)


def kept(answer: Any) -> Any:
    """An answer to keep: a copy of a classifier's probabilities (a model may reuse its dict)."""
    return dict(answer) if isinstance(answer, dict) else answer


def served_answer(task: Task, served: ServedPrediction, bound: float) -> Any:
    """The answer a served prediction stands for, kept finite as a fresh one would be."""
    if task == "classification":
        return finite_probabilities(dict(served.probabilities or ()))
    return bounded(served.prediction, bound)
