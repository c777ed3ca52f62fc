"""Data, prediction and label drift: PSI and K-S every so many events, one event per episode."""

from __future__ import annotations

import math
import pickle
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from service.drift import (
    DataDriftMonitor,
    DistributionDriftMonitor,
    DriftConfigurationError,
    ks_two_sample,
    population_stability_index,
)
from service.drift.distributions import (
    PSI_EPSILON,
    AbsentProfile,
    CategoricalProfile,
    NumericProfile,
    make_profile,
)

# -- PSI and K-S -----------------------------------------------------------------------------


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    assert population_stability_index([10, 20, 70], [1, 2, 7]) == 0.0
    small = population_stability_index([50, 50], [55, 45])
    large = population_stability_index([50, 50], [80, 20])
    assert 0 < small < 0.1 < 0.2 < large


def test_an_empty_bucket_counts_as_epsilon_so_psi_stays_finite() -> None:
    psi = population_stability_index([100, 0], [95, 5])
    expected = (0.05 - PSI_EPSILON) * math.log(0.05 / PSI_EPSILON) + (0.95 - 1.0) * math.log(0.95)
    assert psi == pytest.approx(expected)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 1_000), min_size=2, max_size=8).flatmap(
        lambda e: st.tuples(
            st.just(e), st.lists(st.integers(0, 1_000), min_size=len(e), max_size=len(e))
        )
    )
)
def test_psi_is_never_negative(histograms: tuple[list[int], list[int]]) -> None:
    expected, actual = histograms
    assert population_stability_index(expected, actual) >= 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-20, 20), min_size=25, max_size=300),
    st.lists(st.integers(-20, 20), min_size=25, max_size=300),
)
def test_ks_statistic_equals_scipys_ties_included(first: list[int], second: list[int]) -> None:
    a, b = np.sort(np.array(first, float)), np.sort(np.array(second, float))
    statistic, _ = ks_two_sample(a, b)
    assert statistic == pytest.approx(stats.ks_2samp(a, b, method="asymp").statistic, abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.2, 0.3])
def test_ks_pvalue_is_close_to_scipys_asymptotic_one(shift: float) -> None:
    rng = np.random.default_rng(7)
    a = np.sort(rng.normal(size=1_000))
    b = np.sort(rng.normal(shift, 1.0, size=1_000))
    _, pvalue = ks_two_sample(a, b)
    reference = stats.ks_2samp(a, b, method="asymp").pvalue
    assert pvalue == pytest.approx(reference, rel=0.1)


# -- reference profiles ----------------------------------------------------------------------


def test_numbers_get_quantile_buckets_with_open_ended_outer_ones() -> None:
    profile = NumericProfile.from_column([float(v) for v in range(1_000)], bins=10)
    assert len(profile.edges) == 9
    assert list(profile.counts) == [100.0] * 10 + [0.0, 0.0]
    beyond = profile.compare([-1e9, 1e9] * 50 + [500.0] * 900)
    assert math.isfinite(beyond.psi) and beyond.psi > 0.2


def test_a_discrete_number_gets_fewer_wider_buckets() -> None:
    profile = make_profile([0, 1, 1, 0, 1] * 200)
    assert isinstance(profile, NumericProfile)
    assert list(profile.edges) == [0.0, 1.0]


def test_categories_beyond_the_top_k_or_unseen_share_the_other_bucket() -> None:
    profile = CategoricalProfile.from_column(["a"] * 50 + ["b"] * 30 + ["c"] * 20, top_categories=2)
    assert profile.categories == {"a": 0, "b": 1}
    assert list(profile.counts) == [50, 30, 20, 0]
    assert profile.compare(["a"] * 50 + ["b"] * 30 + ["c"] * 20).psi == 0.0
    assert profile.compare(["a"] * 50 + ["b"] * 30 + ["new"] * 20).psi == 0.0  # both "other"
    assert profile.compare(["a"] * 50 + ["new"] * 50).psi > 0.2


def test_bools_are_categories_not_numbers() -> None:
    assert isinstance(make_profile([True, False, True]), CategoricalProfile)
    numeric = make_profile([0.5, 1.5, 2.5] * 100)
    assert numeric.compare([True] * 300).psi > 1.0  # bools in a numeric feature are "other"


def test_a_variable_never_seen_in_the_reference_has_an_absent_profile() -> None:
    profile = make_profile([None] * 1_000)
    assert isinstance(profile, AbsentProfile)
    assert profile.compare([None] * 1_000).psi == 0.0
    assert profile.compare([1.0] * 100 + [None] * 900).psi > 0.2


# -- the monitor -----------------------------------------------------------------------------


def gaussian_rows(n: int, *, seed: int, shift_at: int | None = None, shift: float = 2.0):
    """Rows of three normal features; from ``shift_at`` on, ``x0`` moves by ``shift``."""
    rng = random.Random(seed)
    for i in range(n):
        moved = shift if shift_at is not None and i >= shift_at else 0.0
        yield {"x0": rng.gauss(moved, 1.0), "x1": rng.gauss(0, 1), "x2": rng.gauss(0, 1)}


def reports(monitor, rows):
    return [(o, r) for o, row in enumerate(rows) if (r := monitor.observe(row, o)) is not None]


def test_observe_evaluates_only_every_so_many_events_once_both_windows_are_full() -> None:
    monitor = DataDriftMonitor(window=100, every=40)
    found = reports(monitor, gaussian_rows(400, seed=0))
    # Reference 0-99, recent window full at 199, then every 40 events.
    assert [offset for offset, _ in found] == [199, 239, 279, 319, 359, 399]
    assert all(set(r.features) == {"x0", "x1", "x2"} for _, r in found)


def test_a_feature_that_stays_drifting_raises_one_event_and_rearms_after_recovering() -> None:
    rng = random.Random(1)
    monitor = DataDriftMonitor(window=500, every=250)
    events = []
    for offset in range(6_000):
        shifted = 2_000 <= offset < 3_500 or offset >= 4_800
        report = monitor.observe({"x": rng.gauss(3.0 if shifted else 0.0, 1.0)}, offset)
        if report is not None:
            events += [(e.offset, e.feature, e.kind) for e in report.events]
    assert [feature for _, feature, _ in events] == ["x", "x"]
    first, second = (offset for offset, _, _ in events)
    assert 2_000 <= first < 2_500 and 4_800 <= second < 5_300
    assert monitor.alarms == 2


def test_each_evaluation_reports_psi_ks_and_the_verdict_per_feature() -> None:
    monitor = DataDriftMonitor(window=1_000, every=1_000)
    (_, report), *_ = reports(monitor, gaussian_rows(2_000, seed=2, shift_at=1_000))
    x0, x1 = report.features["x0"], report.features["x1"]
    assert (x0.drifting, x1.drifting) == (True, False)
    assert x0.psi > 1.0 and x1.psi < 0.05
    assert x0.ks_pvalue < 1e-10 < x1.ks_pvalue
    assert report.drifting == ["x0"] and [e.feature for e in report.events] == ["x0"]
    assert report.events[0].statistic == x0.psi
    assert x0.to_dict()["psi"] == x0.psi


def test_with_small_windows_psi_alone_flags_noise_and_the_ks_check_holds_it_to_alpha() -> None:
    # 10 buckets of 5 events: sampling noise alone gives a PSI around 0.36.
    def share_flagged(rule: str) -> float:
        monitor = DataDriftMonitor(window=50, every=50, rule=rule)  # type: ignore[arg-type]
        found = reports(monitor, gaussian_rows(10_000, seed=3))
        verdicts = [f.drifting for _, report in found for f in report.features.values()]
        return sum(verdicts) / len(verdicts)

    assert share_flagged("psi") > 0.5
    assert share_flagged("psi_and_ks") <= 0.01  # the family-wise K-S alpha per evaluation


def test_ks_rules_see_a_shift_too_small_for_psi() -> None:
    def flagged(rule: str) -> bool:
        monitor = DataDriftMonitor(rule=rule)  # type: ignore[arg-type]
        reports(monitor, gaussian_rows(6_000, seed=4, shift_at=3_000, shift=0.3))
        return "x0" in monitor.drifting

    assert (flagged("psi"), flagged("psi_and_ks")) == (False, False)
    assert (flagged("ks"), flagged("psi_or_ks")) == (True, True)


def test_a_feature_missing_from_the_reference_is_reported_and_flagged_when_it_appears() -> None:
    monitor = DataDriftMonitor(window=200, every=100)
    rng = random.Random(5)
    for offset in range(600):
        features = {"x": rng.random()}
        if offset >= 300:
            features["new"] = "yes"
        report = monitor.observe(features, offset)
    assert report is not None
    assert report.features["new"].drifting and report.features["new"].ks_pvalue is None
    assert not report.features["x"].drifting


def test_a_feature_that_goes_missing_drifts() -> None:
    monitor = DataDriftMonitor(window=200, every=100)
    rng = random.Random(6)
    for offset in range(600):
        features = {"x": rng.random(), "y": rng.random()}
        if offset >= 300:
            del features["y"]
        report = monitor.observe(features, offset)
    assert report is not None and report.drifting == ["y"]


def test_watch_limits_the_features_compared() -> None:
    monitor = DataDriftMonitor(window=100, every=100, watch=["x1", "never_sent"])
    _, report = reports(monitor, gaussian_rows(200, seed=7))[0]
    assert set(report.features) == {"x1", "never_sent"}
    assert not report.features["never_sent"].drifting


def test_max_features_bounds_how_many_names_are_tracked() -> None:
    monitor = DataDriftMonitor(window=10, every=10, max_features=3)
    for offset in range(40):
        monitor.observe({f"f{offset}": 1.0, "a": 1.0}, offset)
    assert monitor.last_report is not None
    assert len(monitor.last_report.features) == 3


def test_top_features_ranks_by_psi() -> None:
    monitor = DataDriftMonitor(window=500, every=500)
    reports(monitor, gaussian_rows(1_000, seed=8, shift_at=500))
    top = monitor.top_features(2)
    assert top[0].feature == "x0"
    assert top[0].psi >= top[1].psi
    assert len(monitor.top_features(10)) == 3


def test_reset_takes_a_new_reference_from_the_next_events() -> None:
    monitor = DataDriftMonitor(window=500, every=500)
    reports(monitor, gaussian_rows(2_000, seed=9, shift_at=1_000))
    assert monitor.drifting == {"x0"}
    monitor.reset()
    assert not monitor.reference_ready and monitor.last_report is None
    rows = list(gaussian_rows(2_000, seed=10, shift_at=0))  # the shifted world is the new normal
    assert [r.drifting for _, r in reports(monitor, rows)] == [[], [], []]
    assert monitor.alarms == 1


def test_evaluate_on_demand_needs_the_reference() -> None:
    monitor = DataDriftMonitor(window=100, every=100)
    rows = list(gaussian_rows(150, seed=11))
    for offset, row in enumerate(rows[:100]):
        monitor.observe(row, offset)
    assert monitor.evaluate(99) is None
    for offset, row in enumerate(rows[100:], start=100):
        monitor.observe(row, offset)
    report = monitor.evaluate(149)
    assert report is not None and set(report.features) == {"x0", "x1", "x2"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rule": "vote"}, "unknown data drift rule 'vote'; choose from: psi_and_ks"),
        ({"window": 1}, "window needs at least 2 events"),
        ({"psi_threshold": 0}, "psi_threshold must be positive"),
        ({"ks_alpha": 1.5}, "ks_alpha within"),
        ({"bins": 1}, "bins must be at least 2"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(DriftConfigurationError, match=message):
        DataDriftMonitor(**kwargs)


def test_a_pickled_monitor_carries_on_exactly_like_the_original() -> None:
    rows = list(gaussian_rows(4_000, seed=12, shift_at=2_500))
    original = DataDriftMonitor(window=500, every=250)
    for offset, row in enumerate(rows[:1_700]):
        original.observe(row, offset)
    restored = pickle.loads(pickle.dumps(original))
    rest = list(enumerate(rows))[1_700:]
    mine = [original.observe(row, offset) for offset, row in rest]
    theirs = [restored.observe(row, offset) for offset, row in rest]
    assert [r and (r.features, r.events) for r in mine] == [
        r and (r.features, r.events) for r in theirs
    ]
    assert original.alarms == restored.alarms == 1


# -- predictions and labels ------------------------------------------------------------------


def test_class_labels_are_categories_even_when_they_are_numbers() -> None:
    monitor = DistributionDriftMonitor("label", task="classification", window=300, every=300)
    rng = random.Random(13)
    found = []
    for offset in range(1_200):
        label = rng.choice([0, 1, 2]) if offset < 600 else rng.choice([0, 1, 2, 2, 2])
        if (report := monitor.observe(label, offset)) is not None:
            found.append(report)
    assert isinstance(monitor._profiles["label"], CategoricalProfile)
    assert found[-1].features["label"].ks_pvalue is None
    assert [e.kind for r in found for e in r.events] == ["label"]


def test_regression_predictions_are_numbers_with_a_ks_test() -> None:
    monitor = DistributionDriftMonitor("prediction", task="regression", window=300, every=300)
    rng = random.Random(14)
    events = []
    for offset in range(1_200):
        report = monitor.observe(rng.gauss(0.0 if offset < 600 else 1.5, 1.0), offset)
        if report is not None:
            assert report.features["prediction"].ks_pvalue is not None
            events += report.events
    assert [(e.kind, e.feature) for e in events] == [("prediction", "prediction")]


def test_missing_predictions_are_their_own_bucket() -> None:
    monitor = DistributionDriftMonitor("prediction", task="classification", window=100, every=100)
    for offset in range(300):
        monitor.observe(None if offset >= 200 else offset % 2 == 0, offset)
    assert monitor.drifting == {"prediction"}


def test_kind_must_be_prediction_or_label() -> None:
    with pytest.raises(DriftConfigurationError, match="'prediction' or 'label'"):
        DistributionDriftMonitor("data")  # type: ignore[arg-type]
