"""The champion/challenger gate in the service's learner: a worse challenger is rejected, a
better one promoted."""

from __future__ import annotations

import math

import pytest

from service.models import build_model
from service.strategies import StrategyError, judge
from service.strategies.promotion import mcnemar, wilcoxon_signed_rank
from tests.strategies.streams import (
    CONCEPT_A,
    CONCEPT_B,
    MODEL_SEED,
    concept_events,
    learn,
    static_learner,
    trained,
)

K = 200


def test_a_challenger_trained_on_the_wrong_concept_is_rejected() -> None:
    learner = static_learner(initial_events=500, shadow_events=K)
    learn(learner, concept_events(CONCEPT_A, 500, seed=1))
    challenger_id = learner.manager.propose(trained(CONCEPT_B, 500, seed=2))
    learn(learner, concept_events(CONCEPT_A, K, seed=3), start=500)

    _, (decision,) = learner.versions()
    assert decision.challenger_id == challenger_id
    assert decision.outcome == "rejected"
    assert decision.shadow_events == K
    assert decision.champion_score > 0.85 > 0.65 > decision.challenger_score
    assert decision.test == "mcnemar-chi2"
    assert learner.model_version == 1
    assert learner.strategy_stats()["retrains"][("manual", "rejected")] == 1


def test_a_challenger_trained_on_the_right_concept_is_promoted() -> None:
    learner = static_learner(initial_events=500, shadow_events=K)
    learn(learner, concept_events(CONCEPT_B, 500, seed=1))  # the champion learns B ...
    challenger_id = learner.manager.propose(trained(CONCEPT_A, 500, seed=2))
    learn(learner, concept_events(CONCEPT_A, K, seed=3), start=500)  # ... the world is A

    versions, (decision,) = learner.versions()
    assert decision.outcome == "promoted"
    assert decision.p_value < 1e-6
    assert decision.challenger_score > 0.85
    assert learner.model_version == challenger_id
    version = versions[-1]
    assert (version.id, version.parent_id, version.trigger) == (challenger_id, 1, "manual")
    assert version.validation_score == decision.challenger_score
    assert version.champion_score == decision.champion_score
    assert version.learned_to_offset == 500 + K - 1


def test_one_change_at_a_time() -> None:
    manager = static_learner(initial_events=10).manager
    manager.propose(build_model("logreg", MODEL_SEED).estimator)
    with pytest.raises(StrategyError, match="already under way"):
        manager.propose(build_model("logreg", MODEL_SEED).estimator)


def test_mcnemar_uses_only_discordant_pairs_and_the_exact_test_when_few() -> None:
    # 8 events the champion got wrong and the challenger right, 1 the other way round.
    champion = [1.0] * 8 + [0.0] * 1 + [0.0] * 50
    challenger = [0.0] * 8 + [1.0] * 1 + [0.0] * 50
    statistic, p_value, test = mcnemar(champion, challenger)
    assert test == "mcnemar-exact"
    assert statistic == pytest.approx((8 - 1 - 1) ** 2 / 9)
    assert p_value == pytest.approx(20 / 512)  # 2 * P(X <= 1), X ~ Binomial(9, 1/2)


def test_the_margin_and_the_direction_both_count() -> None:
    champion = [1.0] * 40 + [0.0] * 960
    challenger = [0.0] * 40 + [0.0] * 955 + [1.0] * 5
    ahead = judge("classification", champion, challenger, significance=0.05, margin=0.01)
    assert ahead.p_value < 0.05 and ahead.promoted
    too_little = judge("classification", champion, challenger, significance=0.05, margin=0.05)
    assert not too_little.promoted
    behind = judge("classification", challenger, champion, significance=0.05, margin=0.0)
    assert behind.p_value < 0.05 and not behind.promoted


def test_regressors_are_judged_by_wilcoxon_on_absolute_errors() -> None:
    champion = [1.0 + 0.01 * i for i in range(60)]
    challenger = [0.5 + 0.01 * i for i in range(60)]
    result = judge("regression", champion, challenger, significance=0.05, margin=0.1)
    assert result.test == "wilcoxon" and result.promoted
    assert result.challenger_score < result.champion_score
    assert wilcoxon_signed_rank([1.0], [1.0]) == (0.0, 1.0, "wilcoxon")
    assert math.isnan(judge("regression", [], [], significance=0.05, margin=0.0).p_value)
