"""End to end on the real broker: the strategy comparison is the running service.

The same source goes once through the producer into a one-partition topic, learned by the
service with ``DRIFTLINE_REBUILD_BACKGROUND=false``, and once through ``python -m bench
compare``'s own loader and learner, in this process, with the same settings. With inline
rebuilds the comparison *is* the service's learner, so the prequential metrics must be equal to
1e-12, and every gate decision and model version the same.
"""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.compare import StrategyResult, load_stream, run_strategy
from service.config import Settings
from tests.system.streams import produce

pytestmark = pytest.mark.kafka

# Small knobs: a few rebuilds, shadow runs and gate decisions in a couple of thousand events.
PHISHING = {
    "model": "logreg",
    "initial_events": 200,
    "rebuild_every": 300,
    "history_size": 300,
    "shadow_events": 100,
    "rolling_window": 100,
}
ABRUPT = {
    "model": "logreg",
    "initial_events": 300,
    "rebuild_every": 800,
    "history_size": 600,
    "shadow_events": 150,
    "rebuild_collect_events": 150,
    "rolling_window": 200,
}


def _service_retrains(metrics_text: str) -> dict[str, float]:
    """``driftline_retrains_total`` on ``/metrics``, summed by outcome."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "driftline_retrains_total":
                outcome = sample.labels["outcome"]
                counts[outcome] = counts.get(outcome, 0.0) + sample.value
    return counts


def _decision(record: Any) -> tuple[Any, ...]:
    """What a decision says, whoever reports it (``decided_at`` is the clock's, not the data's)."""
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
    return tuple(
        get(name)
        for name in ("challenger_id", "champion_id", "trigger", "shadow_events", "test",
                     "outcome", "offset")
    )  # fmt: skip


def _version(record: Any) -> tuple[Any, ...]:
    get = record.get if isinstance(record, dict) else lambda name: getattr(record, name)
    return tuple(
        get(name)
        for name in ("id", "parent_id", "trigger", "first_offset", "last_offset",
                     "events_learned", "learned_to_offset")
    )  # fmt: skip


def _finite(value: float) -> float | None:
    return None if value != value else value  # the API reports NaN as null


@pytest.mark.parametrize(
    ("source", "load", "knobs", "count"),
    [
        (("dataset", "phishing"), {"dataset_name": "phishing"}, PHISHING, 1_250),
        (
            ("scenario", "abrupt", "--n", "3000", "--position", "1500", "--seed", "42"),
            {"scenario": "abrupt", "n": 3_000, "position": 1_500, "seed": 42},
            ABRUPT,
            3_000,
        ),
    ],
    ids=["phishing", "abrupt"],
)
def test_compare_equals_the_service_with_inline_rebuilds(
    kafka_broker,
    new_topic,
    service_factory,
    source: tuple[str, ...],
    load: dict[str, Any],
    knobs: dict[str, Any],
    count: int,
) -> None:
    topic = new_topic(partitions=1)
    produce(kafka_broker.bootstrap_servers, topic, *source)
    service = service_factory(
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        strategy="hybrid",
        rebuild_background="false",
        **knobs,
    )
    model = service.wait_handled(count)
    history = service.http.get("/model/versions").json()
    retrains = _service_retrains(service.metrics_text())

    stream = load_stream(**load)
    ours: StrategyResult = run_strategy("hybrid", stream, Settings(**knobs))

    assert model["events_learned"] == ours.events_learned == count
    assert model["metrics"]["cumulative"].keys() == ours.cumulative.keys()
    for name, value in ours.cumulative.items():
        assert model["metrics"]["cumulative"][name] == pytest.approx(value, abs=1e-12), name
    assert ours.decisions, "no gate decision: the test would prove nothing about rebuilds"
    assert [_decision(d) for d in history["decisions"]] == [_decision(d) for d in ours.decisions]
    for theirs, mine in zip(history["decisions"], ours.decisions, strict=True):
        for name in ("champion_score", "challenger_score", "statistic", "p_value"):
            expected = _finite(getattr(mine, name))
            assert theirs[name] == (
                None if expected is None else pytest.approx(expected, abs=1e-12)
            )
    assert [_version(v) for v in history["versions"]] == [_version(v) for v in ours.versions]
    assert {o: retrains.get(o, 0.0) for o in ours.retrains} == {
        o: float(n) for o, n in ours.retrains.items()
    }
