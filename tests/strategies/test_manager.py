"""The manager's triggers, schedules, memory set, costs, failures and configuration, driven
through the service's learner."""

from __future__ import annotations

import math
from functools import partial

import pytest

from producer.scenarios import make_scenario
from service.learner import Learner
from service.models import ModelSpec, build_model
from service.strategies import (
    ModelManager,
    PeriodicStrategy,
    StrategyConfig,
    StrategyConfigurationError,
)
from service.strategies.config import manager_from_config
from service.strategies.history import make_history
from tests.strategies.streams import SMALL, FixedClock, learn, small_learner


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
    # The service's learner around a manager whose clock the test moves.
    learner = Learner(manager, rolling_window=50)
    events = list(make_scenario("stationary", n=400, seed=2))
    learn(learner, events[:200])
    clock.now += 61.0
    learn(learner, events[200:], start=200)
    assert manager.stats()["rebuilds_started"] == 1
    (decision,) = manager.decisions()
    assert decision.trigger == "periodic" and decision.seq == 200 + 20


def test_a_drift_alarm_during_a_busy_spell_is_acted_on_afterwards() -> None:
    events = list(make_scenario("abrupt", n=2_000, position=1_000, seed=3))
    # Alone, the first alarm after the change starts a rebuild from the events since it: the
    # history of the version it made begins at the alarm.
    alone = small_learner("hybrid", rebuild_every=10_000)
    learn(alone, events)
    versions, (reference,) = alone.versions()
    alarm = versions[-1].first_offset
    assert reference.trigger == "drift" and alarm is not None and alarm > 1_000
    # The same stream with a manual rebuild asked for just before: its shadow run is under way
    # when the same alarm comes (the champion is the same until the run is decided).
    busy = small_learner("hybrid", rebuild_every=10_000)
    request = alarm - 10
    learn(busy, events[:request])
    busy.request_rebuild()
    learn(busy, events[request:], start=request)
    versions, (manual, drift) = busy.versions()
    assert (manual.trigger, manual.outcome) == ("manual", "rejected")
    assert request < alarm <= manual.seq
    # The alarm was kept until the manager was free: the same rebuild, from the same events,
    # judged the same, as without the busy spell.
    same = ("trigger", "outcome", "seq", "shadow_events", "champion_score", "challenger_score")
    assert [getattr(drift, name) for name in same] == [getattr(reference, name) for name in same]
    assert versions[-1].first_offset == alarm


def test_the_metric_trigger_fires_below_the_threshold_after_the_cooldown() -> None:
    # Triggered only by the rolling accuracy: the static champion of the first 100 events
    # falls below 0.8 by chance before the change at 800, and for good after it.
    learner = small_learner(
        "triggered", rebuild_on_drift=False, rebuild_metric_threshold=0.8, rolling_window=100
    )
    rolling = []
    for offset, event in enumerate(make_scenario("abrupt", n=1_400, position=800, seed=4)):
        learn(learner, [event], start=offset)
        rolling.append(learner.values().rolling["accuracy"])
    collect, shadow = SMALL["rebuild_collect_events"], SMALL["shadow_events"]
    cooldown = SMALL["rebuild_cooldown_events"]
    _, decisions = learner.versions()
    # The first reading below the threshold (past the initial phase) triggers; the rebuild
    # collects its events, then is shadowed, then judged.
    first_poor = next(seq for seq in range(SMALL["initial_events"], 1_400) if rolling[seq] < 0.8)
    assert (decisions[0].trigger, decisions[0].seq) == ("metric", first_poor + collect + shadow)
    # After a promotion the rolling metric still holds the old champion's errors: below the
    # threshold, and ignored for the cooldown.
    promoted = next(d for d in decisions if d.outcome == "promoted")
    assert min(rolling[promoted.seq + 1 : promoted.seq + cooldown]) < 0.8
    assert all(d.seq >= promoted.seq + cooldown + collect + shadow for d in decisions
               if d.seq > promoted.seq)  # fmt: skip


def test_the_memory_set_measures_forgetting() -> None:
    # Recurring A, B, A, B: what the online model knows of everything seen drops after each
    # change while its prequential accuracy recovers.
    events = list(make_scenario("recurring", n=4_000, position=1_000, seed=5))
    learner = small_learner("online", memory_set_size=300, memory_set_every=200)
    scores = {}
    for offset, event in enumerate(events):
        learn(learner, [event], start=offset)
        scores[offset] = learner.strategy_stats()["memory_score"]
    assert math.isnan(scores[150])
    assert scores[999] > 0.85  # all A, learned
    assert scores[3_999] < 0.8  # half A, half B: the last concept wins
    assert learner.values().rolling["accuracy"] > 0.85


def test_costs_are_counted_by_kind() -> None:
    learner = small_learner("hybrid")
    learn(learner, make_scenario("abrupt", n=3_000, position=1_500, seed=6))
    stats = learner.strategy_stats()
    assert set(stats["cpu_seconds"]) == {"rebuild", "online", "shadow", "memory"}
    assert all(stats["cpu_seconds"][kind] > 0 for kind in ("rebuild", "online", "shadow"))
    assert stats["rebuilds_started"] >= 5


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
    learn(Learner(manager, rolling_window=50), make_scenario("stationary", n=200, seed=7))
    decision = manager.decisions()[0]
    assert decision.outcome == "failed" and "boom" in decision.detail
    assert manager.version == 1
    assert manager.stats()["retrains"][("periodic", "failed")] >= 1


def test_config_builds_every_strategy_and_refuses_nonsense() -> None:
    for name in ("online", "static", "periodic", "triggered", "hybrid"):
        manager = manager_from_config(StrategyConfig(strategy=name), model="gnb", seed=3)
        assert manager.strategy.name == name
        assert manager.spec.name == "gnb"
    with pytest.raises(StrategyConfigurationError, match="needs every_events"):
        manager_from_config(StrategyConfig(strategy="periodic", rebuild_every=None))
    with pytest.raises(StrategyConfigurationError, match="needs on_drift"):
        manager_from_config(
            StrategyConfig(
                strategy="triggered", rebuild_on_drift=False, rebuild_metric_threshold=None
            )
        )
    with pytest.raises(ValueError, match="extra"):
        StrategyConfig(rebuild_evry=3)  # type: ignore[call-arg]
