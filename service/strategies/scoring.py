"""One model's prequential error on one event, computed as the learner computes it.

The learner scores the champion with ``predict_proba_one`` and the arg-max of the probabilities
for a classifier (error 1.0 wrong, 0.0 right) and ``predict_one`` for a regressor (the absolute
error). Challengers, the previous champion on probation and the memory set are scored the same
way here, so that every comparison the manager makes is like for like.

A classifier that has no prediction yet (``{}``) counts as wrong: in a paired comparison, a
model that cannot answer has lost the event. A regressor with no prediction has no error to
pair, and the event is left out.

Examples
--------
>>> from river import linear_model
>>> model = linear_model.LogisticRegression()
>>> prediction_error("classification", model, {"x": 1.0}, True)
1.0
>>> model.learn_one({"x": 1.0}, True)
>>> prediction_error("classification", model, {"x": 1.0}, True)
0.0
>>> score("classification", [0.0, 1.0, 0.0, 0.0]), score("regression", [0.5, 1.5])
(0.75, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from service.events import FeatureValue, Label
from service.models import Task

__all__ = ["answer_error", "champion_error", "model_answer", "prediction_error", "score"]


def model_answer(task: Task, model: Any, x: dict[str, FeatureValue]) -> Any:
    """What ``model`` answers about ``x``: a classifier's probabilities (a copy, which later
    learning cannot change), a regressor's number."""
    if task == "classification":
        proba = model.predict_proba_one(x)
        return dict(proba) if proba else proba
    return model.predict_one(x)


def answer_error(task: Task, answer: Any, y: Label) -> float | None:
    """The error of an answer (:func:`model_answer`) against ``y``, given now or kept since."""
    if task == "classification":
        if not answer:
            return 1.0
        return 0.0 if max(answer, key=answer.get) == y else 1.0
    if answer is None:
        return None
    return abs(float(y) - float(answer))


def prediction_error(task: Task, model: Any, x: dict[str, FeatureValue], y: Label) -> float | None:
    """The error of ``model``'s prediction of ``x`` against ``y`` (see the module docstring)."""
    if task == "classification":
        proba = model.predict_proba_one(x)
        if not proba:
            return 1.0
        return 0.0 if max(proba, key=proba.get) == y else 1.0
    predicted = model.predict_one(x)
    if predicted is None:
        return None
    return abs(float(y) - float(predicted))


def champion_error(task: Task, error: float | None) -> float | None:
    """The learner's error for the champion, with "no prediction" read as above."""
    if error is None and task == "classification":
        return 1.0
    return error


def score(task: Task, errors: Sequence[float]) -> float:
    """Accuracy (classification) or MAE (regression) of a run of errors; NaN when empty."""
    if not errors:
        return math.nan
    mean = math.fsum(errors) / len(errors)
    return 1.0 - mean if task == "classification" else mean
