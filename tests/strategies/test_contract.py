"""The contract every strategy keeps in the service's learner, as ``{strategy}:{check}``."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import pytest

from producer.scenarios import make_scenario
from service.events import Event
from service.learner import Learner
from service.strategies import STRATEGY_NAMES, StrategyName
from tests.strategies.streams import learn, lineage, small_learner

# Abrupt drift half-way: every strategy has something to react to within 2,000 events.
STREAM = list(make_scenario("abrupt", n=2_000, position=1_000, seed=11))
PROBES = [x for x, _ in make_scenario("stationary", n=20, seed=12)]


def answers(learner: Learner) -> list[dict[object, float] | None]:
    return [learner.predict(x).probabilities for x in PROBES]


def check_pickle_fresh(strategy: StrategyName) -> None:
    learner = small_learner(strategy)
    restored = pickle.loads(pickle.dumps(learner))
    assert answers(restored) == answers(learner)
    learn(learner, STREAM[:300])
    learn(restored, STREAM[:300])
    assert answers(restored) == answers(learner)
    assert restored.values() == learner.values()


def check_pickle_learned(strategy: StrategyName) -> None:
    learner = small_learner(strategy)
    learn(learner, STREAM[:1_200])
    restored = pickle.loads(pickle.dumps(learner))
    assert answers(restored) == answers(learner)
    assert lineage(restored) == lineage(learner)
    tail = STREAM[1_200:]
    assert learn(restored, tail, start=1_200) == learn(learner, tail, start=1_200)
    assert answers(restored) == answers(learner)
    assert lineage(restored) == lineage(learner)
    assert restored.values() == learner.values()
    assert restored.strategy_stats()["retrains"] == learner.strategy_stats()["retrains"]


def check_pickle_pending_rebuild(strategy: StrategyName) -> None:
    # No scheduled rebuild before the requested one: a background rebuild is handed over at
    # whichever event finds it done, so its shadow run could still hold the request back.
    learner = small_learner(strategy, rebuild_background=True, rebuild_every=10_000)
    learn(learner, STREAM[:500])
    learner.close()
    learner.request_rebuild()
    learn(learner, STREAM[500:501], start=500)
    assert learner.strategy_stats()["rebuild_running"]
    restored = pickle.loads(pickle.dumps(learner))
    assert not restored.strategy_stats()["rebuild_running"]
    assert answers(restored) == answers(learner)
    # The restored learner starts the abandoned rebuild again at its first event.
    learn(restored, STREAM[501:502], start=501)
    started = learner.strategy_stats()["rebuilds_started"]
    assert restored.strategy_stats()["rebuilds_started"] == started + 1
    for target in (learner, restored):
        assert target.manager.join_rebuild(timeout=30)
        learn(target, STREAM[502:700], start=502)
        _, decisions = target.versions()
        assert decisions[-1].trigger == "manual"
        target.close()


def check_clone_independence(strategy: StrategyName) -> None:
    learner = small_learner(strategy)
    learn(learner, STREAM[:600])
    before = answers(learner)
    twin = copy.deepcopy(learner)
    learn(twin, STREAM[600:1_400], start=600)
    assert answers(learner) == before
    assert learner.manager.stats()["events_seen"] == learner.values().events_learned == 600


def check_predict_before_learning(strategy: StrategyName) -> None:
    learner = small_learner(strategy)
    for prediction in map(learner.predict, PROBES):
        assert prediction.probabilities in ({}, {False: 0.5, True: 0.5})
        assert prediction.prediction in (None, False, True)
    assert learner.strategy_stats()["memory_score"] != learner.strategy_stats()["memory_score"]


def check_no_aliasing(strategy: StrategyName) -> None:
    learner = small_learner(strategy)
    learn(learner, STREAM[:400])
    x = dict(STREAM[400][0])
    original = dict(x)
    learner.learn(Event(x, label=True), partition=0, offset=400)
    assert x == original
    x["x0"] = 1e6
    x["extra"] = 1.0
    assert learner.manager.history.snapshot()[-1].x == original


def check_no_event_lost(strategy: StrategyName) -> None:
    learner = small_learner(strategy)
    learn(learner, STREAM)
    stats, values = learner.strategy_stats(), learner.values()
    assert values.events_learned == stats["events_seen"] == len(STREAM)
    assert values.positions == {0: len(STREAM)}
    history = learner.manager.history
    assert len(history) == history.maxlen
    assert history.snapshot()[-1].offset == len(STREAM) - 1
    if strategy == "online":
        assert stats["model_events_learned"] == len(STREAM)
    if strategy == "static":
        assert stats["model_events_learned"] == 100


CHECKS: dict[str, Callable[[StrategyName], None]] = {
    "pickle_fresh": check_pickle_fresh,
    "pickle_learned": check_pickle_learned,
    "pickle_pending_rebuild": check_pickle_pending_rebuild,
    "clone_independence": check_clone_independence,
    "predict_before_learning": check_predict_before_learning,
    "no_aliasing": check_no_aliasing,
    "no_event_lost": check_no_event_lost,
}


@pytest.mark.parametrize(
    ("strategy", "check"),
    [(strategy, check) for strategy in STRATEGY_NAMES for check in CHECKS],
    ids=[f"{strategy}:{check}" for strategy in STRATEGY_NAMES for check in CHECKS],
)
def test_contract(strategy: StrategyName, check: str) -> None:
    CHECKS[check](strategy)
