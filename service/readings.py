"""What readers get from the learner: predictions and readings, each taken under its lock.

The learner's writer thread and the API's readers meet only here: every value a route or the
metrics collector reads is one of these frozen records, built in one hold of the learner's lock.
The two helpers keep what a model answers finite (see the learner's docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from service.drift.concept import ConceptReading
from service.drift.data import FeatureDrift
from service.drift.log import DriftKind
from service.events import Label
from service.models import Task

__all__ = [
    "Answers",
    "DriftValues",
    "MetricValues",
    "Prediction",
    "bounded",
    "finite_probabilities",
    "metric_names",
]


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


@dataclass(frozen=True, slots=True)
class DriftValues:
    """A consistent reading of the drift watch, taken under the learner's lock."""

    alarms: dict[tuple[str, DriftKind], int]
    warnings: dict[str, int]
    active: dict[str, bool]
    last_alarm_times: dict[DriftKind, float]
    concept_state: dict[str, float]
    concept_reading: ConceptReading
    features: list[FeatureDrift]
    distribution_psi: dict[str, float]
    events: list[dict[str, Any]]


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
