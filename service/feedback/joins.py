"""What joined answers measure: prequential metrics by source, and how long labels take.

The learner's cumulative and rolling metrics score every labelled outcome, joined or not, so a
delayed stream is read where an immediate one is. These are apart for each source of
questions, so the accuracy of what ``/predict`` *served* is on the dashboard beside that of
questions streamed to the topic; the label delay (answer time minus question time, by the
records' own clocks) is kept as histogram buckets. Plain, picklable state: part of the
checkpoint, so the figures survive a restart exactly.

Examples
--------
>>> joins = JoinMetrics("classification")
>>> joins.observe("served", True, {True: 0.8, False: 0.2}, delay=3.0)
>>> values = joins.values(PendingStore(10, 60.0), {"served": 1, "streamed": 0})
>>> values.joined_metrics["served"]["accuracy"], values.delay_counts[LABEL_DELAY_BUCKETS.index(5.0)]
(1.0, 1)
"""

from __future__ import annotations

import bisect
from typing import Any

from river import metrics

from service.events import Label
from service.feedback.pending import SOURCES, PendingStore, Source
from service.models import Task
from service.readings import FeedbackValues, metric_names

__all__ = ["LABEL_DELAY_BUCKETS", "JoinMetrics"]

#: Upper bounds of the label-delay histogram, in seconds: from a second to a month.
LABEL_DELAY_BUCKETS = (
    0.1, 1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0,
    30 * 86400.0,
)  # fmt: skip


class JoinMetrics:
    """Prequential metrics of joined predictions by source, and the label-delay histogram."""

    def __init__(self, task: Task) -> None:
        self.task: Task = task
        self.by_source: dict[Source, metrics.base.Metrics] = {
            source: _metrics(task) for source in SOURCES
        }
        self.delay_counts = [0] * (len(LABEL_DELAY_BUCKETS) + 1)  # the last one: +Inf
        self.delay_sum = 0.0

    def observe(self, source: Source, y: Label, answer: Any, delay: float | None) -> None:
        """One answer joined to a question of ``source`` that was answered ``answer``."""
        label_metric, score_metric = self.by_source[source]
        if self.task == "classification":
            if answer:
                label_metric.update(y, max(answer, key=answer.get))
                score_metric.update(y, answer)
        elif answer is not None:
            label_metric.update(y, answer)
            score_metric.update(y, answer)
        if delay is not None:
            delay = max(delay, 0.0)
            self.delay_counts[bisect.bisect_left(LABEL_DELAY_BUCKETS, delay)] += 1
            self.delay_sum += delay

    def values(self, pending: PendingStore, questions: dict[Source, int]) -> FeedbackValues:
        """These figures with the store's and the question counts, as one reading."""
        names = metric_names(self.task)
        return FeedbackValues(
            pending=len(pending),
            questions=dict(questions),
            joined=dict(pending.joined),
            expired=dict(pending.expired),
            joined_metrics={
                source: {n: m.get() for n, m in zip(names, joined, strict=True)}
                for source, joined in self.by_source.items()
            },
            delay_counts=list(self.delay_counts),
            delay_sum=self.delay_sum,
        )


def _metrics(task: Task) -> metrics.base.Metrics:
    if task == "classification":
        return metrics.Accuracy() + metrics.LogLoss()
    return metrics.MAE() + metrics.RMSE()
