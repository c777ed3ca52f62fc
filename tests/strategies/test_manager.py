"""The manager's triggers, schedules, memory set, costs, failures and configuration."""

from __future__ import annotations

import math
from functools import partial

import pytest

from producer.scenarios import make_scenario
from service.models import ModelSpec, build_model
from service.strategies import (
    ModelManager,
    PeriodicStrategy,
    PrequentialRun,
    StrategyConfig,
    StrategyConfigurationError,
)
from service.strategies.history import make_history
from tests.strategies.streams import FixedClock, replay_all, small_manager


def test_periodic_rebuilds_by_the_clock() -> None:
    clock = FixedClock()
    manager = ModelManager(
        partial(build_model, "logreg", 1),
        PeriodicStrategy(every_seconds=60.0),
        make_history("window", size=100),
        initial_events=50,
        shadow_events=20,
        background=False,
        clock=clock,
    )
    run = PrequentialRun(manager, rolling_window=50)
    events = list(make_scenario("stationary", n=400, seed=2))
    for offset, (x, y) in enumerate(events):
        if offset == 200:
            clock.now += 61.0
        run.learn(x, y, offset)
    assert manager.stats()["rebuilds_started"] == 1
    (decision,) = manager.decisions()
    assert decision.trigger == "periodic" and decision.seq == 200 + 20


def test_a_drift_alarm_during_a_busy_spell_is_acted_on_afterwards() -> None:
    manager = small_manager("hybrid", rebuild_every=10_000)
    events = list(make_scenario("stationary", n=600, seed=3))
    run = PrequentialRun(manager, rolling_window=100)
    for offset, (x, y) in enumerate(events[:300]):
        run.learn(x, y, offset)
    manager.request_rebuild()  # a manual rebuild at 300, in shadow until 350
    x, y = events[300]
    run.learn(x, y, 300)
    for offset in range(301, 600):
        x, y = events[offset]
        error = 0.0
        manager.after_prediction(x, y, y, error, offset, 0.9, drift_alarm=offset == 310)
    triggers = [(d.trigger, d.seq) for d in manager.decisions()]
    assert triggers[0] == ("manual", 350)
    # The alarm at 310 waited: a rebuild from the events since 310, started once the shadow run
    # ended and 50 events had been collected (at 360), decided 50 events later.
    assert triggers[1] == ("drift", 410)


def test_the_metric_trigger_fires_below_the_threshold_after_the_cooldown() -> None:
    manager = small_manager("triggered", rebuild_on_drift=False, rebuild_metric_threshold=0.8)
    events = list(make_scenario("stationary", n=400, seed=4))
    for offset, (x, y) in enumerate(events):
        rolling = 0.9 if offset < 250 else 0.7
        manager.after_prediction(x, y, y, 0.0, offset, rolling, drift_alarm=False)
    # Initial phase to 100, cooldown to 200, metric poor from 250: collect 50, shadow 50.
    (decision,) = manager.decisions()
    assert (decision.trigger, decision.seq) == ("metric", 350)


def test_the_memory_set_measures_forgetting() -> None:
    # Recurring A, B, A, B: what the online model knows of everything seen drops after each
    # change while its prequential accuracy recovers.
    events = list(make_scenario("recurring", n=4_000, position=1_000, seed=5))
    manager = small_manager("online", memory_set_size=300, memory_set_every=200)
    run = PrequentialRun(manager, rolling_window=200)
    scores = {}
    for offset, (x, y) in enumerate(events):
        run.learn(x, y, offset)
        scores[offset] = manager.memory_score
    assert math.isnan(scores[150])
    assert scores[999] > 0.85  # all A, learned
    assert scores[3_999] < 0.8  # half A, half B: the last concept wins
    assert run.rolling_metric > 0.85


def test_costs_are_counted_by_kind() -> None:
    manager = small_manager("hybrid")
    replay_all(manager, list(make_scenario("abrupt", n=3_000, position=1_500, seed=6)))
    cpu = manager.stats()["cpu_seconds"]
    assert set(cpu) == {"rebuild", "online", "shadow", "memory"}
    assert cpu["rebuild"] > 0 and cpu["online"] > 0 and cpu["shadow"] > 0
    assert manager.stats()["rebuilds_started"] >= 5


class _Exploding:
    """A model whose learning fails, to check that a broken rebuild is recorded, not raised."""

    def learn_one(self, x: object, y: object) -> None:
        raise RuntimeError("boom")


def test_a_failed_rebuild_is_recorded_and_the_champion_serves_on() -> None:
    builds = [0]

    def builder() -> ModelSpec:
        builds[0] += 1
        spec = build_model("logreg", 1)
        if builds[0] == 1:
            return spec
        return ModelSpec("exploding", "classification", _Exploding())  # type: ignore[arg-type]

    manager = ModelManager(
        builder, PeriodicStrategy(every_events=100), make_history("window", size=50),
        initial_events=50, background=False,
    )  # fmt: skip
    replay_all(manager, list(make_scenario("stationary", n=200, seed=7)))
    decision = manager.decisions()[0]
    assert decision.outcome == "failed" and "boom" in decision.detail
    assert manager.version == 1
    assert manager.stats()["retrains"][("periodic", "failed")] >= 1


def test_config_builds_every_strategy_and_refuses_nonsense() -> None:
    for name in ("online", "static", "periodic", "triggered", "hybrid"):
        manager = ModelManager.from_config(StrategyConfig(strategy=name), model="gnb", seed=3)
        assert manager.strategy.name == name
        assert manager.spec.name == "gnb"
    with pytest.raises(StrategyConfigurationError, match="needs every_events"):
        ModelManager.from_config(StrategyConfig(strategy="periodic", rebuild_every=None))
    with pytest.raises(StrategyConfigurationError, match="needs on_drift"):
        ModelManager.from_config(
            StrategyConfig(
                strategy="triggered", rebuild_on_drift=False, rebuild_metric_threshold=None
            )
        )
    with pytest.raises(ValueError, match="extra"):
        StrategyConfig(rebuild_evry=3)  # type: ignore[call-arg]
