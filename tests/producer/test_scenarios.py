"""Drift scenarios: the events, and the ground truth a detector benchmark scores against."""

from __future__ import annotations

import statistics

import pytest
from river import linear_model, preprocessing

from producer.scenarios import (
    CONCEPT_A,
    CONCEPT_B,
    COVARIATE_SHIFT,
    FEATURES,
    SCENARIOS,
    SHIFTED_FEATURES,
    Scenario,
    make_scenario,
)
from producer.sources import SourceError
from tests.producer.contract import assert_valid_events

# Events either side of a change over which error rates and means are compared.
_WINDOW = 500


def error_indicators(scenario: Scenario) -> list[bool]:
    """Test-then-train a scaled logistic regression; True where it predicted wrong."""
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    errors = []
    for x, y in scenario:
        errors.append(model.predict_one(x) != y)
        model.learn_one(x, y)
    return errors


def rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_streams_valid_events_with_bool_labels(name: str) -> None:
    scenario = make_scenario(name, n=2_000)

    events = list(scenario)

    assert assert_valid_events(events) == len(scenario) == 2_000
    assert all(list(x) == list(FEATURES) and type(y) is bool for x, y in events)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_scenario_is_determined_by_its_seed(name: str) -> None:
    def events(seed: int) -> list[tuple[dict[str, float], bool]]:
        return list(make_scenario(name, n=300, position=150, seed=seed).events())

    assert events(1) == events(1)
    assert events(1) != events(2)


@pytest.mark.parametrize(
    ("name", "changes", "concept_changes", "shifted"),
    [
        ("stationary", [], [], []),
        ("abrupt", [4_000], [4_000], []),
        ("gradual", [4_000], [4_000], []),
        ("recurring", [4_000], [4_000], []),
        ("covariate", [4_000], [], ["x0", "x1"]),
    ],
)
def test_ground_truth(name: str, changes: list, concept_changes: list, shifted: list) -> None:
    scenario = make_scenario(name, n=8_000, position=4_000)

    assert scenario.change_points == changes
    assert scenario.concept_changes == concept_changes
    assert scenario.shifted_features == shifted
    assert scenario.width == (1_000 if name == "gradual" else 1)


def test_recurring_changes_every_period_and_defaults_to_a_quarter() -> None:
    assert make_scenario("recurring", n=10_000, position=2_000).change_points == [
        2_000,
        4_000,
        6_000,
        8_000,
    ]
    assert make_scenario("recurring", n=10_000).change_points == [2_500, 5_000, 7_500]
    assert make_scenario("abrupt", n=10_000).change_points == [5_000]


def test_concepts_are_orthogonal_and_ignore_x4() -> None:
    assert sum(a * b for a, b in zip(CONCEPT_A.weights, CONCEPT_B.weights, strict=True)) == 0
    assert CONCEPT_A.weights[-1] == CONCEPT_B.weights[-1] == 0


def test_without_noise_labels_follow_the_concept_of_their_stretch() -> None:
    scenario = make_scenario("recurring", n=4_000, position=1_000, noise=0.0)

    for index, (x, y) in enumerate(scenario):
        concept = CONCEPT_B if (index // 1_000) % 2 else CONCEPT_A
        assert y == concept(x), index


def test_noise_flips_about_its_fraction_of_labels() -> None:
    scenario = make_scenario("stationary", n=10_000, noise=0.05)

    flipped = [y != CONCEPT_A(x) for x, y in scenario]

    assert 0.04 < rate(flipped) < 0.06


def test_concept_scenarios_with_one_seed_share_features_and_differ_only_in_labels() -> None:
    streams = {
        name: list(make_scenario(name, n=1_000, position=500, seed=9))
        for name in ("stationary", "abrupt", "gradual", "recurring")
    }

    features = [[x for x, _ in events] for events in streams.values()]
    assert all(f == features[0] for f in features)
    assert streams["abrupt"][:500] == streams["stationary"][:500]
    assert streams["abrupt"][500:] != streams["stationary"][500:]


def test_abrupt_change_makes_a_logistic_regression_clearly_worse() -> None:
    scenario = make_scenario("abrupt", n=10_000, position=5_000)
    [change] = scenario.change_points

    errors = error_indicators(scenario)

    before = rate(errors[change - _WINDOW : change])
    after = rate(errors[change : change + _WINDOW])
    assert before < 0.1
    assert after > 0.25
    assert after > 3 * before


def test_stationary_stream_keeps_the_error_low() -> None:
    errors = error_indicators(make_scenario("stationary", n=10_000))

    assert rate(errors[5_000 - _WINDOW : 5_000]) < 0.1
    assert rate(errors[5_000 : 5_000 + _WINDOW]) < 0.1


def test_gradual_change_takes_the_new_concept_along_a_sigmoid() -> None:
    scenario = make_scenario("gradual", n=6_000, position=3_000, width=1_000, noise=0.0)
    events = list(scenario)

    def share_of_b(start: int, stop: int) -> float:
        # Where A and B agree the event says nothing about which concept made it.
        told = [(CONCEPT_B(x) == y) for x, y in events[start:stop] if CONCEPT_A(x) != CONCEPT_B(x)]
        return rate(told)

    assert share_of_b(0, 2_000) < 0.01
    assert 0.02 < share_of_b(2_300, 2_700) < 0.3
    assert 0.4 < share_of_b(2_900, 3_100) < 0.6
    assert 0.7 < share_of_b(3_300, 3_700) < 0.98
    assert share_of_b(4_000, 6_000) > 0.99


def test_covariate_shift_moves_the_shifted_features_only_and_keeps_the_concept() -> None:
    scenario = make_scenario("covariate", n=10_000, position=5_000, noise=0.0)
    events = list(scenario)
    [change] = scenario.change_points
    before, after = events[:change], events[change:]

    for name in FEATURES:
        shift = statistics.fmean(x[name] for x, _ in after) - statistics.fmean(
            x[name] for x, _ in before
        )
        expected = COVARIATE_SHIFT if name in SHIFTED_FEATURES else 0.0
        assert shift == pytest.approx(expected, abs=0.1), name
    assert all(y == CONCEPT_A(x) for x, y in events)
    # P(y) does not move either: the shift cancels in the concept.
    assert rate([y for _, y in after]) == pytest.approx(rate([y for _, y in before]), abs=0.03)


def test_covariate_shift_leaves_a_linear_models_error_where_it_was() -> None:
    scenario = make_scenario("covariate", n=10_000, position=5_000)

    errors = error_indicators(scenario)

    assert rate(errors[5_000 : 5_000 + _WINDOW]) < 0.1


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("sudden", {}, "unknown scenario 'sudden'; choose from: stationary, abrupt"),
        ("abrupt", {"n": 0}, "at least 1 event"),
        ("abrupt", {"n": 100, "position": 100}, "position must be between 1 and n - 1 = 99"),
        ("recurring", {"n": 100, "position": 0}, "position must be between 1"),
        ("gradual", {"width": 0}, "width must be at least 1"),
        ("stationary", {"noise": 1.5}, "noise is a fraction"),
    ],
)
def test_bad_parameters_raise_a_source_error(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        make_scenario(name, **kwargs)
