"""The defaults, chosen from bench/drift_detection.py, hold on the scenarios they were chosen on.

A real model (StandardScaler | LogisticRegression) learns each scenario test-then-train, as the
service does, and its errors and features go to the monitors with their defaults.
"""

from __future__ import annotations

import pytest

from producer.scenarios import SHIFTED_FEATURES, make_scenario
from service.drift import (
    DEFAULT_EVERY,
    DEFAULT_WINDOW,
    ConceptDriftMonitor,
    DataDriftMonitor,
    DistributionDriftMonitor,
)
from tests.drift.streams import alarms, bernoulli_errors, model_errors

N = 20_000
CHANGE = N // 2
# The benchmark's median delay after the abrupt change is 47 events (ADWIN checks every 32
# events, so its delays come in steps of 32) on every seed; four checks' worth is ample slack.
ABRUPT_DELAY_BOUND = 200
# The data monitor evaluates every DEFAULT_EVERY events on DEFAULT_WINDOW-event windows, so a
# 2-sd shift is flagged at the first evaluation with a few hundred shifted events in its window:
# at most one evaluation period plus half a window after the change.
COVARIATE_DELAY_BOUND = DEFAULT_EVERY + DEFAULT_WINDOW // 2


@pytest.mark.parametrize("seed", [0, 1])
def test_no_concept_alarm_on_a_stationary_stream(seed: int) -> None:
    monitor = ConceptDriftMonitor()
    assert alarms(monitor, model_errors("stationary", n=N, seed=seed)) == []
    assert not monitor.active


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3, 4, 5, 6])
def test_no_concept_alarm_on_more_stationary_seeds(seed: int) -> None:
    assert alarms(ConceptDriftMonitor(), model_errors("stationary", n=N, seed=seed)) == []


@pytest.mark.parametrize("seed", range(5))
def test_no_concept_alarm_on_a_steady_15_percent_error_rate(seed: int) -> None:
    assert alarms(ConceptDriftMonitor(), bernoulli_errors(N, seed=seed, rate=0.15)) == []


@pytest.mark.parametrize("seed", [0, 1])
def test_one_concept_alarm_soon_after_an_abrupt_change(seed: int) -> None:
    found = alarms(ConceptDriftMonitor(), model_errors("abrupt", n=N, seed=seed))
    assert len(found) == 1
    assert CHANGE <= found[0] < CHANGE + ABRUPT_DELAY_BOUND


def test_no_concept_alarm_when_only_the_features_shift() -> None:
    assert alarms(ConceptDriftMonitor(), model_errors("covariate", n=N, seed=0)) == []


def data_flags(scenario: str, seed: int) -> dict[str, list[int]]:
    monitor = DataDriftMonitor()
    flags: dict[str, list[int]] = {}
    for offset, (x, _) in enumerate(make_scenario(scenario, n=N, seed=seed).events()):
        report = monitor.observe(x, offset)
        if report is not None:
            for event in report.events:
                flags.setdefault(event.feature, []).append(offset)
    return flags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_data_drift_flags_the_shifted_features_and_only_them(seed: int) -> None:
    flags = data_flags("covariate", seed)
    assert sorted(flags) == sorted(SHIFTED_FEATURES)
    for feature in SHIFTED_FEATURES:
        (flagged_at,) = flags[feature]
        assert CHANGE <= flagged_at < CHANGE + COVARIATE_DELAY_BOUND


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_data_drift_on_a_stationary_stream(seed: int) -> None:
    assert data_flags("stationary", seed) == {}


def test_no_prediction_or_label_drift_when_only_the_features_shift() -> None:
    # The covariate shift cancels in the concept: labels and predictions keep their balance.
    predictions = DistributionDriftMonitor("prediction", task="classification")
    labels = DistributionDriftMonitor("label", task="classification")
    for offset, (x, y) in enumerate(make_scenario("covariate", n=N, seed=0).events()):
        predictions.observe(x["x0"] - x["x1"] + x["x2"] - x["x3"] > 0, offset)
        labels.observe(y, offset)
    assert (predictions.alarms, labels.alarms) == (0, 0)
