"""Versions, rollback by call, and automatic rollback during probation."""

from __future__ import annotations

import pytest

from service.strategies import PrequentialRun, StrategyError, UnknownVersionError
from tests.strategies.streams import (
    CONCEPT_A,
    CONCEPT_B,
    concept_events,
    feed,
    static_manager,
    trained,
)

K = 200


def promoted_b_champion(**kwargs: object) -> tuple[object, PrequentialRun]:
    """Version 1 learned A; a challenger that learned B is promoted on B events (version 2)."""
    manager = static_manager(initial_events=500, shadow_events=K, **kwargs)
    run = PrequentialRun(manager, rolling_window=100)
    list(feed(run, concept_events(CONCEPT_A, 500, seed=1)))
    assert manager.propose(trained(CONCEPT_B, 1_000, seed=2)) == 2
    list(feed(run, concept_events(CONCEPT_B, K, seed=3), start=500))
    assert manager.version == 2
    return manager, run


def test_rollback_by_call_restores_a_copy_as_a_new_version() -> None:
    manager, run = promoted_b_champion()
    list(feed(run, concept_events(CONCEPT_B, K, seed=4), start=500 + K))  # probation passes
    assert [d.outcome for d in manager.decisions()] == ["promoted"]
    probe = concept_events(CONCEPT_A, 50, seed=5)
    original = static_manager(initial_events=500)
    list(feed(PrequentialRun(original, rolling_window=100), concept_events(CONCEPT_A, 500, seed=1)))

    restored = manager.rollback(1)
    assert (restored.id, restored.parent_id, restored.trigger) == (3, 1, "rollback")
    assert manager.version == 3
    assert [manager.predict_proba_one(x) for x, _ in probe] == [
        original.predict_proba_one(x) for x, _ in probe
    ]
    assert [v.id for v in manager.versions()] == [1, 2, 3]
    again = manager.rollback(2)  # the version rolled back from is still kept
    assert (again.id, again.parent_id) == (4, 2)


def test_rollback_refuses_unknown_dropped_and_serving_versions() -> None:
    manager, _ = promoted_b_champion(keep_versions=2)
    with pytest.raises(UnknownVersionError, match="version 99 is not kept"):
        manager.rollback(99)
    with pytest.raises(StrategyError, match="already serving"):
        manager.rollback(2)
    manager.rollback(1)  # version 3; version 1 is no longer kept
    with pytest.raises(UnknownVersionError, match="kept: 2, 3"):
        manager.rollback(1)


def test_a_promoted_model_that_does_worse_is_rolled_back_within_its_probation() -> None:
    manager, run = promoted_b_champion()
    # The world goes back to A: the new champion (B, frozen) does far worse than version 1.
    offsets = list(feed(run, concept_events(CONCEPT_A, K, seed=6), start=500 + K))

    _, rolled_back = manager.decisions()
    assert rolled_back.outcome == "rolled_back"
    assert (rolled_back.challenger_id, rolled_back.champion_id) == (2, 1)
    assert rolled_back.offset == offsets[-1]  # decided on the K-th event after promotion
    assert rolled_back.challenger_score < rolled_back.champion_score - 0.3
    version = manager.versions()[-1]
    assert (version.id, version.parent_id, version.trigger) == (3, 1, "rollback")
    retrains = manager.stats()["retrains"]
    assert retrains[("manual", "promoted")] == retrains[("manual", "rolled_back")] == 1


def test_probation_scores_are_exported_while_it_runs() -> None:
    manager, run = promoted_b_champion()
    list(feed(run, concept_events(CONCEPT_B, K // 2, seed=4), start=500 + K))
    stats = manager.stats()
    assert stats["probation_events"] == K // 2
    assert stats["probation_score"] > 0.85 > 0.7 > stats["previous_champion_score"]
