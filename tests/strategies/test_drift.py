"""On an abrupt change, rebuilding strategies beat the model trained once, by a wide margin,
in the service's own learner (the strategy comparison's numbers)."""

from __future__ import annotations

import pytest

from bench.compare import StrategyResult, compare, load_stream
from service.config import Settings
from service.strategies import STRATEGY_NAMES

# The static model is right about half the time after the change, the others relearn: over the
# whole stream triggered and hybrid must be at least ten accuracy points ahead of it (measured:
# seventeen and nineteen).
MARGIN = 0.10
N = 6_000


@pytest.fixture(scope="module")
def results() -> dict[str, StrategyResult]:
    stream = load_stream(scenario="abrupt", n=N, position=N // 2, seed=42)
    outcome = compare(stream, Settings(rolling_window=500))
    return {result.strategy: result for result in outcome}


@pytest.mark.parametrize("strategy", ["triggered", "hybrid"])
def test_rebuilding_beats_static_by_a_wide_margin(
    results: dict[str, StrategyResult], strategy: str
) -> None:
    static, adaptive = results["static"], results[strategy]
    assert adaptive.metric >= static.metric + MARGIN
    assert adaptive.worst_after_change[0] >= static.worst_after_change[0]
    assert adaptive.count("promoted") >= 1
    promoted = [d for d in adaptive.decisions if d.outcome == "promoted"]
    assert all(d.seq >= N // 2 for d in promoted if d.trigger == "drift")


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_every_strategy_learns_every_event(
    results: dict[str, StrategyResult], strategy: str
) -> None:
    assert results[strategy].events_learned == N
    assert len(results[strategy].rolling) == N
    assert results[strategy].refused == 0
