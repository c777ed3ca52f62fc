"""The metric families of questions and answers, read from one :class:`FeedbackValues`.

The service's collector yields these at scrape time beside the learner's own (README's
"Metrics" table is their contract). The label-delay histogram is kept by the learner as bucket
counts, part of the checkpoint, so it survives a restart exactly; here it becomes Prometheus'
cumulative buckets.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from service.feedback.joins import LABEL_DELAY_BUCKETS
from service.readings import METRIC_SUFFIXES, FeedbackValues

__all__ = ["feedback_families"]


def feedback_families(values: FeedbackValues) -> Iterator[Metric]:
    """Questions, answers, the pending store and the accuracy of what was served."""
    yield _gauge(
        "driftline_pending_questions",
        "Questions kept in the pending store, waiting for their labels.",
        values.pending,
    )
    questions = CounterMetricFamily(
        "driftline_questions",
        "Questions predicted and kept until their labels, by source (served, streamed).",
        labels=["source"],
    )
    joined = CounterMetricFamily(
        "driftline_answers_joined",
        "Answers joined to their questions, by the question's source.",
        labels=["source"],
    )
    for source, count in values.questions.items():
        questions.add_metric([source], count)
        joined.add_metric([source], values.joined[source])
    yield questions
    yield joined
    expired = CounterMetricFamily(
        "driftline_questions_expired",
        "Questions that expired unanswered, by cause (ttl, capacity).",
        labels=["cause"],
    )
    for cause, count in values.expired.items():
        expired.add_metric([cause], count)
    yield expired
    delay = HistogramMetricFamily(
        "driftline_label_delay_seconds",
        "Time from a question to its answer, by the records' own clocks.",
    )
    cumulative, buckets = 0, []
    for bound, count in zip((*LABEL_DELAY_BUCKETS, math.inf), values.delay_counts, strict=True):
        cumulative += count
        buckets.append((_bound(bound), cumulative))
    delay.add_metric([], buckets, sum_value=values.delay_sum)
    yield delay
    by_metric: dict[str, GaugeMetricFamily] = {}
    for source, joined_values in values.joined_metrics.items():
        for key, value in joined_values.items():
            family = by_metric.get(key)
            if family is None:
                family = by_metric[key] = GaugeMetricFamily(
                    f"driftline_joined_{METRIC_SUFFIXES[key]}",
                    f"Prequential {key} of predictions joined to their labels, by source.",
                    labels=["source"],
                )
            family.add_metric([source], value)
    yield from by_metric.values()


def _bound(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(float(bound))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
