"""Concept drift: one alarm per rise in error, warnings apart, an active state, any detector."""

from __future__ import annotations

import math
import pickle

import pytest

from service.drift import (
    DETECTORS,
    ConceptDriftMonitor,
    DriftConfigurationError,
    detector_params,
    resolve_detector,
)
from service.errors import ConfigurationError
from tests.drift.streams import alarms, bernoulli_errors, first_alarm, piecewise_errors

BINARY = ("ddm", "eddm", "hddm_a", "hddm_w", "fhddm")
GENERAL = ("adwin", "page_hinkley", "kswin")
FAST = tuple(name for name in DETECTORS if name != "kswin")  # KSWIN: a K-S test per event


def test_every_detector_is_listed_with_a_description() -> None:
    assert set(DETECTORS) == set(BINARY) | set(GENERAL)
    assert all(DETECTORS.values())


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("ADWIN", "adwin"),
        ("Page-Hinkley", "page_hinkley"),
        ("HDDM-A", "hddm_a"),
        ("hddmw", "hddm_w"),
    ],
)
def test_detector_names_ignore_case_dashes_and_underscores(given: str, name: str) -> None:
    assert resolve_detector(given) == name
    assert ConceptDriftMonitor(given).name == name


def test_an_unknown_detector_is_refused_with_the_choices() -> None:
    with pytest.raises(DriftConfigurationError, match="unknown drift detector 'cusum'") as caught:
        ConceptDriftMonitor("cusum")
    assert all(name in str(caught.value) for name in DETECTORS)
    assert isinstance(caught.value, ConfigurationError)


def test_an_unknown_parameter_is_refused_with_the_detectors_parameters() -> None:
    with pytest.raises(DriftConfigurationError, match="adwin has no parameter alpha") as caught:
        ConceptDriftMonitor("adwin", {"alpha": 0.1})
    assert "delta" in str(caught.value) and "grace_period" in str(caught.value)


def test_a_bad_parameter_value_is_refused() -> None:
    with pytest.raises(DriftConfigurationError, match="cannot build page_hinkley"):
        ConceptDriftMonitor("page_hinkley", {"mode": "sideways"})


@pytest.mark.parametrize("name", BINARY)
def test_binary_detectors_are_refused_for_a_regressor(name: str) -> None:
    with pytest.raises(DriftConfigurationError, match="only takes a 0/1 error"):
        ConceptDriftMonitor(name, task="regression")


@pytest.mark.parametrize("name", GENERAL)
def test_general_detectors_watch_a_regressors_absolute_error(name: str) -> None:
    monitor = ConceptDriftMonitor(name, task="regression")
    for offset in range(200):
        monitor.update(abs(math.sin(offset)), offset)
    assert monitor.alarms == 0


def test_params_pass_through_to_the_river_detector() -> None:
    monitor = ConceptDriftMonitor("adwin", {"delta": 0.01, "clock": 1})
    assert monitor._detector.delta == 0.01
    assert monitor._detector.clock == 1
    assert detector_params("adwin")["clock"] == 32


@pytest.mark.parametrize("name", FAST)
def test_every_detector_alarms_soon_after_the_error_rate_quadruples(name: str) -> None:
    errors = bernoulli_errors(8_000, seed=3, rate=0.1, change=5_000, after=0.4)
    alarm = first_alarm(ConceptDriftMonitor(name), errors, start=5_000)
    assert alarm is not None and alarm - 5_000 < 500


@pytest.mark.slow
def test_kswin_alarms_after_the_error_rate_quadruples() -> None:
    errors = bernoulli_errors(6_000, seed=3, rate=0.1, change=5_000, after=0.4)
    alarm = first_alarm(ConceptDriftMonitor("kswin"), errors, start=5_000)
    assert alarm is not None and alarm - 5_000 < 500


def test_fhddm_is_fed_the_correctness_so_it_alarms_on_a_rise_not_a_fall() -> None:
    rise = piecewise_errors(0, (3_000, 0.1), (2_000, 0.4))
    fall = piecewise_errors(0, (3_000, 0.4), (2_000, 0.1))
    assert alarms(ConceptDriftMonitor("fhddm"), rise)
    assert alarms(ConceptDriftMonitor("fhddm"), fall) == []


def test_an_alarm_carries_the_error_before_and_after_the_change() -> None:
    errors = bernoulli_errors(8_000, seed=1, rate=0.1, change=5_000, after=0.4)
    monitor = ConceptDriftMonitor("adwin")
    events = [e for o, x in enumerate(errors) if (e := monitor.update(x, o)) is not None]
    (event,) = events
    assert (event.detector, event.kind, event.feature, event.warning) == (
        "adwin",
        "concept",
        None,
        False,
    )
    assert event.offset >= 5_000
    assert event.baseline == pytest.approx(0.1, abs=0.02)
    assert event.statistic > 0.2


def test_two_rises_within_the_cooldown_make_one_alarm_and_one_suppressed_detection() -> None:
    # Raw ADWIN fires twice here (at ~3,100 and ~3,450): the error climbs in two steps.
    errors = piecewise_errors(0, (3_000, 0.05), (300, 0.25), (2_000, 0.6))
    monitor = ConceptDriftMonitor("adwin", cooldown=1_000)
    assert len(alarms(monitor, errors)) == 1
    assert (monitor.alarms, monitor.suppressed) == (1, 1)

    without_cooldown = ConceptDriftMonitor("adwin", cooldown=0)
    assert len(alarms(without_cooldown, errors)) == 2


def test_a_rise_after_the_cooldown_is_a_new_alarm() -> None:
    errors = piecewise_errors(0, (3_000, 0.05), (3_000, 0.3), (3_000, 0.7))
    monitor = ConceptDriftMonitor("adwin", cooldown=1_000)
    found = alarms(monitor, errors)
    assert len(found) == 2
    assert found[0] >= 3_000 and found[1] >= 6_000


def test_a_fall_in_error_is_an_improvement_not_an_alarm() -> None:
    errors = piecewise_errors(0, (3_000, 0.4), (3_000, 0.1))
    monitor = ConceptDriftMonitor("adwin")
    assert alarms(monitor, errors) == []
    assert monitor.improvements == 1
    assert not monitor.active

    both = ConceptDriftMonitor("adwin", direction="both")
    assert len(alarms(both, errors)) == 1


def test_the_active_state_starts_at_the_alarm_and_clears_after_the_quiet_period() -> None:
    errors = bernoulli_errors(12_000, seed=1, rate=0.1, change=5_000, after=0.4)
    monitor = ConceptDriftMonitor("adwin", cooldown=500, quiet_period=2_000)
    states = []
    alarm = None
    for offset, error in enumerate(errors):
        if monitor.update(error, offset) is not None:
            alarm = offset
        states.append(monitor.active)
    assert alarm is not None
    assert not any(states[:alarm])
    assert all(states[alarm : alarm + 2_000])
    assert not states[-1]


def test_warnings_are_counted_apart_and_never_make_the_state_active() -> None:
    # A small rise: DDM enters its warning zone a few times before it drifts.
    errors = bernoulli_errors(10_000, seed=1, rate=0.1, change=5_000, after=0.2)
    monitor = ConceptDriftMonitor("ddm", cooldown=500)
    warnings, alarm_offsets, active = [], [], []
    for offset, error in enumerate(errors):
        event = monitor.update(error, offset)
        if event is not None:
            (warnings if event.warning else alarm_offsets).append(offset)
        active.append(monitor.active)
    first_alarm_at = alarm_offsets[0]
    assert [w for w in warnings if w < first_alarm_at]
    assert not any(active[:first_alarm_at])
    assert (monitor.warnings, monitor.alarms) == (len(warnings), len(alarm_offsets))


@pytest.mark.parametrize("name", DETECTORS)
def test_state_is_a_dict_of_finite_floats_worth_plotting(name: str) -> None:
    monitor = ConceptDriftMonitor(name)
    errors = bernoulli_errors(150 if name == "kswin" else 500, seed=2)
    for offset, error in enumerate(errors):
        monitor.update(error, offset)
    state = monitor.state()
    assert state
    assert all(isinstance(v, float) and math.isfinite(v) for v in state.values())


def test_adwin_state_is_its_window_width_and_mean_error() -> None:
    monitor = ConceptDriftMonitor("adwin")
    for offset in range(100):
        monitor.update(float(offset % 4 == 0), offset)
    assert monitor.state() == {"width": 100.0, "estimation": 0.25}


def test_reset_starts_the_detector_afresh_and_keeps_the_counters() -> None:
    errors = bernoulli_errors(8_000, seed=1, rate=0.1, change=5_000, after=0.4)
    monitor = ConceptDriftMonitor("adwin")
    alarms(monitor, errors)
    assert monitor.alarms == 1
    monitor.reset()
    assert monitor.state()["width"] == 0.0
    assert (monitor.alarms, monitor.events_seen) == (1, 8_000)
    assert monitor._detector.delta == ConceptDriftMonitor("adwin")._detector.delta


def test_negative_cooldown_is_refused() -> None:
    with pytest.raises(DriftConfigurationError, match="numbers of events"):
        ConceptDriftMonitor(cooldown=-1)


@pytest.mark.parametrize("name", DETECTORS)
def test_a_pickled_monitor_carries_on_exactly_like_the_original(name: str) -> None:
    n = 400 if name == "kswin" else 6_000
    errors = bernoulli_errors(n, seed=4, rate=0.1, change=n // 2, after=0.5)
    original = ConceptDriftMonitor(name)
    half = n // 2 - 50
    for offset, error in enumerate(errors[:half]):
        original.update(error, offset)
    restored = pickle.loads(pickle.dumps(original))
    rest = list(enumerate(errors))[half:]
    events = [original.update(error, offset) for offset, error in rest]
    replayed = [restored.update(error, offset) for offset, error in rest]
    assert events == replayed
    assert (original.alarms, original.warnings, original.state()) == (
        restored.alarms,
        restored.warnings,
        restored.state(),
    )
