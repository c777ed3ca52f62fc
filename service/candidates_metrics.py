"""The candidates' metric families, one series per candidate (the list is a setting, so the
``candidate`` label is bounded by it). Nothing is exported without ``DRIFTLINE_CANDIDATES``."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from service.candidates import CandidateRow
from service.readings import METRIC_SUFFIXES

__all__ = ["candidate_families"]


def candidate_families(rows: list[CandidateRow]) -> Iterator[Metric]:
    """Prequential, rolling and agreement figures, rank, state and CPU of each candidate."""
    if not rows:
        return
    families: dict[str, GaugeMetricFamily] = {}

    def gauge(name: str, documentation: str) -> GaugeMetricFamily:
        if name not in families:
            families[name] = GaugeMetricFamily(name, documentation, labels=["candidate"])
        return families[name]

    cpu = CounterMetricFamily(
        "driftline_candidate_cpu_seconds",
        "CPU seconds of a candidate's test-then-train steps.",
        labels=["candidate"],
    )
    for row in rows:
        label = [row.name]
        for key, value in row.cumulative.items():
            name = f"driftline_candidate_prequential_{METRIC_SUFFIXES[key]}"
            gauge(name, f"A candidate's prequential {key} over every outcome.").add_metric(
                label, value
            )
        for key, value in row.rolling.items():
            name = f"driftline_candidate_rolling_{METRIC_SUFFIXES[key]}"
            gauge(name, f"A candidate's {key} over the rolling window.").add_metric(label, value)
        if "rolling_kappa_temporal" in row.agreement:
            gauge(
                "driftline_candidate_rolling_kappa_temporal",
                "A candidate's kappa-temporal over the rolling window.",
            ).add_metric(label, row.agreement["rolling_kappa_temporal"])
        gauge("driftline_candidate_rank", "A candidate's rank, 1 for the best.").add_metric(
            label, row.rank
        )
        gauge(
            "driftline_candidate_active", "1 while a candidate learns, 0 once it is paused."
        ).add_metric(label, 0.0 if row.paused else 1.0)
        cpu.add_metric(label, row.cpu_us_per_event * row.events_learned / 1e6)
    yield from families.values()
    yield cpu
