"""Versions, rollback by call, and automatic rollback during probation, in the service's learner."""

from __future__ import annotations

import pytest

from service.learner import Learner
from service.strategies import StrategyError, UnknownVersionError
from tests.strategies.streams import (
    CONCEPT_A,
    CONCEPT_B,
    concept_events,
    learn,
    static_learner,
    trained,
)

K = 200


def promoted_b_champion(**settings: object) -> Learner:
    """Version 1 learned A; a challenger that learned B is promoted on B events (version 2)."""
    learner = static_learner(initial_events=500, shadow_events=K, **settings)
    learn(learner, concept_events(CONCEPT_A, 500, seed=1))
    assert learner.manager.propose(trained(CONCEPT_B, 1_000, seed=2)) == 2
    learn(learner, concept_events(CONCEPT_B, K, seed=3), start=500)
    assert learner.model_version == 2
    return learner


def test_rollback_by_call_restores_a_copy_as_a_new_version() -> None:
    learner = promoted_b_champion()
    learn(learner, concept_events(CONCEPT_B, K, seed=4), start=500 + K)  # probation passes
    assert [d.outcome for d in learner.versions()[1]] == ["promoted"]
    probe = concept_events(CONCEPT_A, 50, seed=5)
    original = static_learner(initial_events=500)
    learn(original, concept_events(CONCEPT_A, 500, seed=1))

    restored = learner.rollback(1)
    assert (restored.id, restored.parent_id, restored.trigger) == (3, 1, "rollback")
    assert learner.model_version == 3
    assert [learner.predict(x) for x, _ in probe] == [original.predict(x) for x, _ in probe]
    assert [v.id for v in learner.versions()[0]] == [1, 2, 3]
    again = learner.rollback(2)  # the version rolled back from is still kept
    assert (again.id, again.parent_id) == (4, 2)


def test_rollback_refuses_unknown_dropped_and_serving_versions() -> None:
    learner = promoted_b_champion(keep_versions=2)
    with pytest.raises(UnknownVersionError, match="version 99 is not kept"):
        learner.rollback(99)
    with pytest.raises(StrategyError, match="already serving"):
        learner.rollback(2)
    learner.rollback(1)  # version 3; version 1 is no longer kept
    with pytest.raises(UnknownVersionError, match="kept: 2, 3"):
        learner.rollback(1)


def test_a_promoted_model_that_does_worse_is_rolled_back_within_its_probation() -> None:
    learner = promoted_b_champion()
    # The world goes back to A: the new champion (B, frozen) does far worse than version 1.
    learn(learner, concept_events(CONCEPT_A, K, seed=6), start=500 + K)

    versions, (_, rolled_back) = learner.versions()
    assert rolled_back.outcome == "rolled_back"
    assert (rolled_back.challenger_id, rolled_back.champion_id) == (2, 1)
    assert rolled_back.offset == 500 + 2 * K - 1  # decided on the K-th event after promotion
    assert rolled_back.challenger_score < rolled_back.champion_score - 0.3
    assert (versions[-1].id, versions[-1].parent_id, versions[-1].trigger) == (3, 1, "rollback")
    retrains = learner.strategy_stats()["retrains"]
    assert retrains[("manual", "promoted")] == retrains[("manual", "rolled_back")] == 1


def test_probation_scores_are_exported_while_it_runs() -> None:
    learner = promoted_b_champion()
    learn(learner, concept_events(CONCEPT_B, K // 2, seed=4), start=500 + K)
    stats = learner.strategy_stats()
    assert stats["probation_events"] == K // 2
    assert stats["probation_score"] > 0.85 > 0.7 > stats["previous_champion_score"]
