"""The drift watch answers: ``observe`` says whether the concept monitor alarmed, and the concept
detector's reading is typed, so its readers need not know which detector keeps what where."""

from __future__ import annotations

import ast
import math
import pickle
from pathlib import Path

import pytest

from service.drift import DETECTORS, ConceptDriftMonitor, ConceptReading, DriftConfig, DriftWatch
from service.drift.defaults import DEFAULT_DETECTOR
from tests.drift.streams import bernoulli_errors

# The keys the metrics looked the mean error up by, before the detector adapters knew it.
_FORMER_MEAN_ERROR_KEYS = ("estimation", "error_rate", "window_mean", "mean")


def _feed(watch: DriftWatch, errors: list[float]) -> list[tuple[bool, int]]:
    """Each event's answer from ``observe``, with how much the monitor's alarm count rose."""
    answers = []
    for offset, error in enumerate(errors):
        before = watch.concept.alarms
        alarmed = watch.observe({"x": float(offset % 7)}, True, True, error, offset)
        answers.append((alarmed, watch.concept.alarms - before))
    return answers


@pytest.mark.parametrize("detector", ["adwin", "ddm"])
def test_observe_is_true_exactly_on_the_events_where_the_alarm_count_rises(detector: str) -> None:
    # Three rises, far enough apart for the cooldown: an alarm for each.
    errors = [
        *bernoulli_errors(5_000, seed=3, rate=0.05),
        *bernoulli_errors(5_000, seed=4, rate=0.3),
        *bernoulli_errors(5_000, seed=5, rate=0.6),
    ]
    watch = DriftWatch(DriftConfig(detector=detector), task="classification")
    answers = _feed(watch, errors)
    assert all(isinstance(alarmed, bool) for alarmed, _ in answers)
    assert [alarmed for alarmed, _ in answers] == [rose > 0 for _, rose in answers]
    assert sum(alarmed for alarmed, _ in answers) == watch.concept.alarms >= 2


def test_a_warning_is_not_an_alarm() -> None:
    # A small rise: DDM enters its warning zone before it drifts (see test_concept).
    errors = bernoulli_errors(10_000, seed=1, rate=0.1, change=5_000, after=0.2)
    watch = DriftWatch(DriftConfig(detector="ddm", cooldown=500), task="classification")
    answers = _feed(watch, errors)
    assert watch.concept.warnings > 0
    assert sum(alarmed for alarmed, _ in answers) == watch.concept.alarms


def test_a_quiet_stream_never_alarms() -> None:
    watch = DriftWatch(DriftConfig(), task="classification")
    answers = _feed(watch, bernoulli_errors(20_000, seed=0, rate=0.15))
    assert not any(alarmed for alarmed, _ in answers)
    assert watch.concept.alarms == 0


def test_an_event_without_a_label_or_an_error_never_alarms() -> None:
    watch = DriftWatch(DriftConfig(), task="classification")
    assert watch.observe({"x": 1.0}, None, None, None, 0) is False
    assert watch.observe({"x": 1.0}, True, None, None, 1) is False


@pytest.mark.parametrize("detector", DETECTORS)
def test_the_reading_holds_what_the_metrics_read_from_the_state(detector: str) -> None:
    """The same numbers the two gauges exported when they read ``concept_state()`` by key."""
    task = "classification"
    watch = DriftWatch(DriftConfig(detector=detector), task=task)
    n = 150 if detector == "kswin" else 2_000
    for offset, error in enumerate(bernoulli_errors(n, seed=6, rate=0.1, change=n // 2)):
        watch.observe({}, True, True, error, offset)
        if offset % 50 == 0 or offset == n - 1:
            state = watch.concept_state()
            reading = watch.concept_reading()
            assert isinstance(reading, ConceptReading)
            assert reading.width == state.get("width")
            former = next((state[k] for k in _FORMER_MEAN_ERROR_KEYS if k in state), None)
            assert reading.mean_error == former
    assert (reading.width is not None) == (detector == "adwin")
    assert (reading.mean_error is None) == (detector == "eddm")
    assert reading.mean_error is None or math.isfinite(reading.mean_error)


def test_the_reading_survives_a_pickle_round_trip() -> None:
    monitor = ConceptDriftMonitor(DEFAULT_DETECTOR)
    for offset, error in enumerate(bernoulli_errors(1_000, seed=7)):
        monitor.update(error, offset)
    restored = pickle.loads(pickle.dumps(monitor))
    assert restored.reading() == monitor.reading()
    assert monitor.reading().width == 1_000


def test_the_defaults_module_imports_only_typing() -> None:
    """The settings read the defaults; they must not need River, numpy or scipy for it."""
    import service.drift.defaults as defaults

    tree = ast.parse(Path(defaults.__file__).read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported <= {"__future__", "typing"}
