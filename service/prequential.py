"""Prequential evaluation of one model: every answer scored before its label is learned.

:class:`Prequential` keeps River's cumulative metrics (``Accuracy() + LogLoss()`` for a
classifier, ``MAE() + RMSE()`` for a regressor) and the same two over a rolling window, and
scores one answer at a time exactly as ``evaluate.progressive_val_score`` updates its metric:
an answer that is no prediction (``None`` or ``{}``) updates nothing.

For a classifier it also keeps two agreements that autocorrelation cannot fool, cumulative and
rolling: Cohen's kappa (against chance) and kappa-temporal (Žliobaitė et al., 2015: against
the no-change classifier, which predicts the previous label). On a stream whose labels come in
runs, a model can be 90% accurate and still worse than repeating the last label: its
kappa-temporal is then negative.

Examples
--------
>>> evaluation = Prequential("classification", window=2)
>>> evaluation.score(True, {True: 0.9, False: 0.1}), evaluation.score(False, {True: 0.6})
((True, 0.0), (True, 1.0))
>>> evaluation.cumulative_values()["accuracy"], evaluation.rolling_values()["accuracy"]
(0.5, 0.5)
>>> evaluation.agreement_values()["kappa_temporal"]  # no-change was never right: p0
0.5
"""

from __future__ import annotations

import math
from collections import Counter, deque
from typing import Any

from river import metrics, stats

from service.events import Label
from service.models import Task
from service.readings import metric_names
from service.rolling import RollingMean

__all__ = ["Prequential"]

_NO_LABEL: Any = object()
"""The no-change classifier's prediction before the first label."""


class Prequential:
    """Cumulative and rolling prequential metrics of one model; plain, picklable state."""

    def __init__(self, task: Task, window: int) -> None:
        self.task: Task = task
        self.window = window
        self.cumulative: metrics.base.Metrics
        if task == "classification":
            self.cumulative = metrics.Accuracy() + metrics.LogLoss()
        else:
            self.cumulative = metrics.MAE() + metrics.RMSE()
        # River's Metrics.update gives accuracy the arg-max label and log loss the
        # probabilities; updating the two directly does the same, minus its dispatch cost.
        self._label_metric, self._score_metric = self.cumulative
        # The rolling metrics are means of a per-event value: right (1.0) or wrong and the log
        # loss for a classifier, the absolute and the squared error for a regressor.
        self.rolling_label = RollingMean(window)
        self._rolling_score = RollingMean(window)
        if task == "classification":
            # (label, prediction) counts: kappa is computed from them when read, so an event
            # costs a count and an append (River's CohenKappa, rolling, cost ~3 µs an event).
            self._pairs: Counter[tuple[Any, Any]] = Counter()
            self._recent_pairs: deque[tuple[Any, Any]] = deque(maxlen=window)
            self._previous: Any = _NO_LABEL
            self._nochange = stats.Mean()  # right (1.0) or wrong, the no-change classifier
            self._rolling_nochange = RollingMean(window)

    def score(self, y: Label, answer: Any) -> tuple[Any, float | None]:
        """Update the metrics with one answer; the prediction and its prequential error
        (1.0 wrong / 0.0 right, or the absolute error), ``None`` for no prediction."""
        if self.task == "classification":
            previous, self._previous = self._previous, y
            if not answer:
                return None, None
            predicted = max(answer, key=answer.get)
            nochange = 1.0 if previous is not _NO_LABEL and previous == y else 0.0
            self._nochange.update(nochange)
            self._rolling_nochange.add(nochange)
            self._pairs[y, predicted] += 1
            self._recent_pairs.append((y, predicted))
            self._label_metric.update(y, predicted)
            # LogLoss.update is the mean of _eval's per-event loss: compute it once, use it twice.
            loss = self._score_metric._eval(y, answer)
            self._score_metric._mean.update(loss)
            error = 0.0 if predicted == y else 1.0
            self.rolling_label.add(1.0 - error)
            self._rolling_score.add(loss)
            return predicted, error
        if answer is None:
            return None, None
        self._label_metric.update(y, answer)
        self._score_metric.update(y, answer)
        error = abs(float(y) - answer)
        self.rolling_label.add(error)
        self._rolling_score.add(error * error)
        return answer, error

    def cumulative_values(self) -> dict[str, float]:
        names = metric_names(self.task)
        return {n: m.get() for n, m in zip(names, self.cumulative, strict=True)}

    def rolling_values(self) -> dict[str, float]:
        """The rolling metrics under their names; 0 while the window is empty, as River's."""
        names = metric_names(self.task)
        if not len(self.rolling_label):
            return dict.fromkeys(names, 0.0)
        label, score = self.rolling_label.get(), self._rolling_score.get()
        if self.task == "regression":
            score = math.sqrt(score)  # the mean squared error's root
        return {names[0]: label, names[1]: score}

    def agreement_values(self) -> dict[str, float]:
        """Cohen's kappa and kappa-temporal, cumulative and rolling (a classifier's; 0 before
        the first prediction, and 0 where the no-change classifier is never wrong)."""
        if self.task != "classification":
            return {}
        accuracy = self._label_metric.get()
        rolling_accuracy = self.rolling_label.get() if len(self.rolling_label) else 0.0
        rolling_nochange = self._rolling_nochange.get() if len(self._rolling_nochange) else 0.0
        return {
            "kappa": _cohen_kappa(self._pairs),
            "kappa_temporal": _kappa_temporal(accuracy, self._nochange.get()),
            "rolling_kappa": _cohen_kappa(Counter(self._recent_pairs)),
            "rolling_kappa_temporal": _kappa_temporal(rolling_accuracy, rolling_nochange),
        }

    @classmethod
    def restored(cls, state: dict[str, Any]) -> Prequential:
        """The evaluation a learner of an earlier release kept in fields of its own."""
        evaluation = cls(state["task"], state["rolling_window"])
        evaluation.cumulative = state.pop("cumulative")
        evaluation._label_metric, evaluation._score_metric = evaluation.cumulative
        rolling_label, rolling_score = state.pop("_rolling_label"), state.pop("_rolling_score")
        if isinstance(rolling_label, RollingMean):  # older ones held River's: start afresh
            evaluation.rolling_label, evaluation._rolling_score = rolling_label, rolling_score
        state.pop("_label_metric", None)
        state.pop("_score_metric", None)
        return evaluation


def _cohen_kappa(pairs: Counter[tuple[Any, Any]]) -> float:
    """Cohen's kappa of (label, prediction) counts, as River's ``CohenKappa`` computes it."""
    total = sum(pairs.values())
    if not total:
        return 0.0
    agreed = sum(count for (label, predicted), count in pairs.items() if label == predicted)
    rows: Counter[Any] = Counter()
    columns: Counter[Any] = Counter()
    for (label, predicted), count in pairs.items():
        rows[label] += count
        columns[predicted] += count
    chance = sum(rows[c] / total * columns[c] / total for c in rows.keys() | columns.keys())
    if chance == 1.0:
        return 0.0
    return (agreed / total - chance) / (1.0 - chance)


def _kappa_temporal(accuracy: float, nochange_accuracy: float) -> float:
    """(p0 − p_nochange) / (1 − p_nochange); 0 when the no-change classifier is never wrong."""
    if nochange_accuracy >= 1.0:
        return 0.0
    return (accuracy - nochange_accuracy) / (1.0 - nochange_accuracy)
