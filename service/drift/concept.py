"""Concept drift: watch the model's prequential error and raise one alarm per change.

The learner scores every labelled event before learning it (test-then-train); the error of
that prediction (1.0 wrong / 0.0 right for a classifier, the absolute error for a regressor)
goes to :meth:`ConceptDriftMonitor.update`. A River detector watches the stream of errors; the
monitor turns its raw detections into what an operator wants to hear about:

* **Only rises in error are alarms** (``direction="increase"``). ADWIN and KSWIN detect a
  change either way, and a model that is still learning makes its error *fall*: on a stationary
  stream, River's ADWIN fires on that fall within the first thousand events or so. The monitor
  compares the mean error after the change with the mean before and counts a fall as an
  ``improvement``. Page-Hinkley is built with ``mode="up"``, and the binary detectors only
  detect rises in the first place.
* **One alarm per change, not a burst.** After an alarm, detections for ``cooldown`` events are
  counted as ``suppressed``, not as alarms: River's detectors reset themselves after each
  detection and can fire again while the error is still climbing or settling (DDM and HDDM-W
  do, within a few hundred events, in the benchmark; ADWIN does when the error rises in steps).
* **An active state**: on at an alarm, off after ``quiet_period`` events without any detection
  (suppressed ones included), so a dashboard can show "drift under way".
* **Warnings stay apart from alarms**: detectors with a warning zone (DDM, EDDM, HDDM-A, HDDM-W)
  report its start as a :class:`~service.drift.log.DriftEvent` with ``warning=True``, counted in
  :attr:`ConceptDriftMonitor.warnings`; a warning never makes the state active.

River's FHDDM (0.26.1) signals when the mean of its input *falls* (its code tests
``u_max - u > epsilon``), whatever its docstring says; fed the error, it would fire when the
model gets better. The monitor feeds it the correctness ``1 - error`` instead.

Examples
--------
An error rate that jumps from 10% to 40% at event 5,000: one alarm shortly after it.

>>> import random
>>> rng = random.Random(1)
>>> monitor = ConceptDriftMonitor("adwin")
>>> for offset in range(10_000):
...     error = float(rng.random() < (0.1 if offset < 5_000 else 0.4))
...     event = monitor.update(error, offset)
...     if event is not None:
...         print(event.kind, event.offset, round(event.baseline, 2), round(event.statistic, 2))
concept 5055 0.1 0.28
>>> monitor.alarms, monitor.active
(1, False)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from river.drift import ADWIN, KSWIN, PageHinkley
from river.drift.binary import DDM, EDDM, FHDDM, HDDMA, HDDMW

from service.drift.errors import DriftConfigurationError
from service.drift.log import DriftEvent
from service.models import Task

__all__ = [
    "DEFAULT_ADWIN_DELTA",
    "DEFAULT_COOLDOWN",
    "DEFAULT_DETECTOR",
    "DEFAULT_QUIET_PERIOD",
    "DETECTORS",
    "ConceptDriftMonitor",
    "Direction",
    "detector_params",
    "resolve_detector",
]

Direction = Literal["increase", "both"]

DEFAULT_DETECTOR = "adwin"
# The defaults below come from bench/drift_detection.py (5 scenarios x 5 seeds x 20,000 events,
# a logistic regression learning test-then-train; table in README).
#
# ADWIN's delta: River's 0.002. No false alarm on any scenario, every abrupt change caught 47
# events after it; on Bernoulli error streams no false alarm in 600,000 events, where 0.05 gives
# the first. A larger delta is faster only on slow rises (0.01: gradual change 195 events
# instead of 259, a 15% -> 22.5% rise 463 instead of 575), and real error streams, bursty rather
# than independent, need the margin.
DEFAULT_ADWIN_DELTA = 0.002
# Events after an alarm during which further detections are taken for the same change. Without
# a cooldown the detectors re-fire within 28 (HDDM-A), 148 (DDM) and 697 (HDDM-W) events of an
# alarm, while separate changes are at least 4,610 events apart: 1,000 sits between the two.
DEFAULT_COOLDOWN = 1_000
# Events without any detection after which the active state clears: above the longest burst
# and a gradual change's 1,000-event transition, so one change stays one episode; below the
# shortest gap between changes, so the next change starts a new one.
DEFAULT_QUIET_PERIOD = 2_000
# KSWIN samples its reference at random: a fixed seed makes a replay from a checkpoint take the
# same decisions as the first run.
_KSWIN_SEED = 42


# -- What the monitor needs to know about each River detector ---------------------------------

_Change = tuple[float, float | None, bool]
"""At a detection: the error after the change, the error before it (if known), whether it rose."""


def _adwin_state(detector: Any) -> dict[str, float]:
    return {"width": float(detector.width), "estimation": float(detector.estimation)}


def _adwin_change(detector: Any, total: float, count: int) -> _Change:
    # At a detection ADWIN has already dropped the old part of its window; everything it was
    # fed since its last reset is in ``total``/``count``, so the dropped part's mean is exact.
    after, width = float(detector.estimation), int(detector.width)
    if count <= width:
        return after, None, True
    before = (total - float(detector.total)) / (count - width)
    return after, before, after > before


def _kswin_state(detector: Any) -> dict[str, float]:
    window = detector.window
    mean = sum(window) / len(window) if window else 0.0
    return {"p_value": float(detector.p_value), "window_mean": float(mean)}


def _kswin_change(detector: Any, total: float, count: int) -> _Change:
    # At a detection KSWIN's window holds only its most recent ``stat_size`` values.
    recent = list(detector.window)
    after = sum(recent) / len(recent)
    if count <= len(recent):
        return after, None, True
    before = (total - sum(recent)) / (count - len(recent))
    return after, before, after > before


def _page_hinkley_state(detector: Any) -> dict[str, float]:
    return {
        "mean": float(detector._x_mean.get()),
        "increase": float(detector._sum_increase - detector._min_increase),
        "decrease": float(detector._max_decrease - detector._sum_decrease),
    }


def _page_hinkley_change(detector: Any, total: float, count: int) -> _Change:
    state = _page_hinkley_state(detector)
    return state["mean"], None, state["increase"] > detector.threshold


def _ddm_state(detector: Any) -> dict[str, float]:
    state = {"error_rate": float(detector._p.get())}
    if detector._p_min is not None:
        state["min_error_rate"] = float(detector._p_min)
    return state


def _eddm_state(detector: Any) -> dict[str, float]:
    return {"mean_distance": float(detector._error_distances.mean.get())}


def _hddm_a_state(detector: Any) -> dict[str, float]:
    return {"error_rate": float(detector._z.get())}


def _hddm_a_change(detector: Any, total: float, count: int) -> _Change:
    rose = not detector.two_sided_test or detector._mean_incr(detector.drift_confidence)
    return _hddm_a_state(detector)["error_rate"], None, rose


def _hddm_w_state(detector: Any) -> dict[str, float]:
    return {"error_rate": float(detector._total.ewma)}


def _hddm_w_change(detector: Any, total: float, count: int) -> _Change:
    rose = not detector.two_sided_test or detector._detect_mean_incr(detector.drift_confidence)
    return _hddm_w_state(detector)["error_rate"], None, rose


def _fhddm_state(detector: Any) -> dict[str, float]:
    window = detector._sliding_window
    # Fed the correctness, so the error rate is what is not correct.
    return {"error_rate": 1.0 - detector.n_one / len(window) if window else 0.0}


@dataclass(frozen=True, slots=True)
class _Detector:
    title: str
    factory: Callable[..., Any]
    """The River class: a ``DriftDetector`` or a ``BinaryDriftDetector``."""
    state: Callable[[Any], dict[str, float]]
    change: Callable[[Any, float, int], _Change] | None = None
    """After, before (if known) and whether the error rose; ``None``: the state's first value,
    unknown, and a rise (the detector is one-sided)."""
    binary: bool = False
    warnings: bool = False
    inverted: bool = False
    """Fed the correctness ``1 - error`` rather than the error."""


_DETECTORS: dict[str, _Detector] = {
    "adwin": _Detector("ADWIN, adaptive windowing", ADWIN, _adwin_state, _adwin_change),
    "page_hinkley": _Detector(
        "Page-Hinkley cumulative test", PageHinkley, _page_hinkley_state, _page_hinkley_change
    ),
    "kswin": _Detector(
        "KSWIN, Kolmogorov-Smirnov on a sliding window (a K-S test per event: slow)",
        KSWIN,
        _kswin_state,
        _kswin_change,
    ),
    "ddm": _Detector("DDM, drift detection method", DDM, _ddm_state, binary=True, warnings=True),
    "eddm": _Detector(
        "EDDM, early DDM on the distance between errors",
        EDDM,
        _eddm_state,
        binary=True,
        warnings=True,
    ),
    "hddm_a": _Detector(
        "HDDM-A, Hoeffding bounds on averages",
        HDDMA,
        _hddm_a_state,
        _hddm_a_change,
        binary=True,
        warnings=True,
    ),
    "hddm_w": _Detector(
        "HDDM-W, Hoeffding bounds on weighted averages",
        HDDMW,
        _hddm_w_state,
        _hddm_w_change,
        binary=True,
        warnings=True,
    ),
    "fhddm": _Detector(
        "FHDDM, fast Hoeffding drift detection", FHDDM, _fhddm_state, binary=True, inverted=True
    ),
}

DETECTORS: Mapping[str, str] = {name: spec.title for name, spec in _DETECTORS.items()}
"""The concept drift detectors by name, with a one-line description. The binary ones (DDM,
EDDM, HDDM-A, HDDM-W, FHDDM) take a 0/1 error and so only classifiers."""

_BY_KEY = {name.replace("_", ""): name for name in _DETECTORS}


def resolve_detector(name: str) -> str:
    """The canonical name of a detector, ignoring case, ``-`` and ``_``.

    Examples
    --------
    >>> resolve_detector("HDDM-A"), resolve_detector("PageHinkley")
    ('hddm_a', 'page_hinkley')
    >>> resolve_detector("cusum")
    Traceback (most recent call last):
    ...
    service.drift.errors.DriftConfigurationError: unknown drift detector 'cusum'; choose from: \
adwin, page_hinkley, kswin, ddm, eddm, hddm_a, hddm_w, fhddm
    """
    key = name.strip().lower().replace("-", "").replace("_", "")
    try:
        return _BY_KEY[key]
    except KeyError:
        choices = ", ".join(_DETECTORS)
        raise DriftConfigurationError(
            f"unknown drift detector {name!r}; choose from: {choices}"
        ) from None


def detector_params(name: str, direction: Direction = "increase") -> dict[str, Any]:
    """The parameters the monitor gives a detector unless told otherwise.

    River's defaults, except: ADWIN's ``delta`` (:data:`DEFAULT_ADWIN_DELTA`), Page-Hinkley's
    ``mode="up"`` when only rises count, and a fixed KSWIN seed.

    Examples
    --------
    >>> detector_params("page_hinkley")
    {'min_instances': 30, 'delta': 0.005, 'threshold': 50.0, 'alpha': 0.9999, 'mode': 'up'}
    """
    spec = _DETECTORS[resolve_detector(name)]
    params = {
        parameter.name: parameter.default
        for parameter in inspect.signature(spec.factory).parameters.values()
        if parameter.default is not inspect.Parameter.empty
    }
    if spec.factory is ADWIN:
        params["delta"] = DEFAULT_ADWIN_DELTA
    elif spec.factory is PageHinkley and direction == "increase":
        params["mode"] = "up"
    elif spec.factory is KSWIN:
        params["seed"] = _KSWIN_SEED
        params.pop("window", None)
    return params


def _build(name: str, params: Mapping[str, Any], direction: Direction) -> Any:
    spec = _DETECTORS[name]
    accepted = detector_params(name, direction)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise DriftConfigurationError(
            f"{name} has no parameter {', '.join(unknown)}; its parameters: {', '.join(accepted)}"
        )
    try:
        return spec.factory(**{**accepted, **params})
    except (TypeError, ValueError, OverflowError) as error:
        raise DriftConfigurationError(f"cannot build {name} with {dict(params)}: {error}") from None


class ConceptDriftMonitor:
    """Watch the prequential error with a River detector; one alarm per change.

    Parameters
    ----------
    detector
        One of :data:`DETECTORS` (case, ``-`` and ``_`` do not matter).
    params
        Keyword arguments for the detector, over :func:`detector_params`.
    task
        The model's task. The binary detectors take a 0/1 error, so they are refused for a
        regressor, whose error is a non-negative number.
    cooldown
        Events after an alarm during which further detections are suppressed.
    quiet_period
        Events without a detection after which the active state clears.
    direction
        ``"increase"``: only a rise in error is an alarm, a fall is an ``improvement``;
        ``"both"``: every detection is an alarm.

    Raises
    ------
    DriftConfigurationError
        For an unknown detector or parameter, a binary detector for a regressor, or a negative
        cooldown or quiet period.

    Examples
    --------
    >>> monitor = ConceptDriftMonitor("ddm", {"drift_threshold": 3.5}, cooldown=500)
    >>> monitor.update(0.0, offset=0) is None, monitor.active, monitor.state()
    (True, False, {'error_rate': 0.0})
    >>> ConceptDriftMonitor("ddm", task="regression")
    Traceback (most recent call last):
    ...
    service.drift.errors.DriftConfigurationError: ddm only takes a 0/1 error, so it cannot \
watch a regressor; choose from: adwin, page_hinkley, kswin
    """

    def __init__(
        self,
        detector: str = DEFAULT_DETECTOR,
        params: Mapping[str, Any] | None = None,
        *,
        task: Task = "classification",
        cooldown: int = DEFAULT_COOLDOWN,
        quiet_period: int = DEFAULT_QUIET_PERIOD,
        direction: Direction = "increase",
    ) -> None:
        name = resolve_detector(detector)
        spec = _DETECTORS[name]
        if spec.binary and task == "regression":
            general = ", ".join(n for n, s in _DETECTORS.items() if not s.binary)
            raise DriftConfigurationError(
                f"{name} only takes a 0/1 error, so it cannot watch a regressor; "
                f"choose from: {general}"
            )
        if cooldown < 0 or quiet_period < 0:
            raise DriftConfigurationError(
                f"cooldown and quiet_period are numbers of events, not {cooldown}, {quiet_period}"
            )
        if direction not in ("increase", "both"):
            raise DriftConfigurationError(f"direction is 'increase' or 'both', not {direction!r}")
        self.name = name
        self.params = dict(params or {})
        self.task = task
        self.cooldown = cooldown
        self.quiet_period = quiet_period
        self.direction = direction
        self._detector = _build(name, self.params, direction)
        self._inverted = spec.inverted
        self._has_warnings = spec.warnings
        self._alarms = 0
        self._warnings = 0
        self._suppressed = 0
        self._improvements = 0
        self._active = False
        self._seen = 0
        # Event counts (self._seen) of the last alarm, last reported warning, last detection.
        self._last_alarm: int | None = None
        self._last_warning: int | None = None
        self._last_detection = 0
        self._warning_on = False
        # What the detector was fed since it last reset itself: the mean error before a change.
        self._total = 0.0
        self._count = 0

    # -- the hot path ----------------------------------------------------------------------

    def update(self, error: float, offset: int) -> DriftEvent | None:
        """Feed one prequential error; the alarm or warning it raises, if any.

        Parameters
        ----------
        error
            1.0 (wrong) or 0.0 (right) for a classifier, the absolute error for a regressor.
        offset
            The event's stream position, only copied into the event returned.
        """
        self._seen += 1
        self._total += error
        self._count += 1
        detector = self._detector
        detector.update(1.0 - error if self._inverted else error)
        if detector.drift_detected:
            return self._on_detection(offset)
        if self._has_warnings:
            warning = detector.warning_detected
            if warning and not self._warning_on:
                self._warning_on = True
                return self._on_warning(offset)
            self._warning_on = warning
        if self._active and self._seen - self._last_detection >= self.quiet_period:
            self._active = False
        return None

    # -- the rare paths --------------------------------------------------------------------

    def _reading(self) -> _Change:
        spec = _DETECTORS[self.name]
        if spec.change is not None:
            return spec.change(self._detector, self._total, self._count)
        return next(iter(spec.state(self._detector).values())), None, True

    def _on_detection(self, offset: int) -> DriftEvent | None:
        after, before, rose = self._reading()
        # Every River detector starts afresh at its next update after a detection.
        self._total, self._count = 0.0, 0
        self._warning_on = False
        if not rose and self.direction == "increase":
            self._improvements += 1
            return None
        self._last_detection = self._seen
        self._active = True
        if self._last_alarm is not None and self._seen - self._last_alarm < self.cooldown:
            self._suppressed += 1
            return None
        self._last_alarm = self._seen
        self._alarms += 1
        return DriftEvent(self.name, "concept", offset, after, baseline=before)

    def _on_warning(self, offset: int) -> DriftEvent | None:
        for last in (self._last_alarm, self._last_warning):
            if last is not None and self._seen - last < self.cooldown:
                return None
        self._last_warning = self._seen
        self._warnings += 1
        statistic = next(iter(_DETECTORS[self.name].state(self._detector).values()))
        return DriftEvent(self.name, "concept", offset, statistic, warning=True)

    # -- reading and resetting -------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether a change is under way: an alarm, and a detection within the quiet period."""
        return self._active

    @property
    def alarms(self) -> int:
        """Alarms raised, one per change; never decreases (a Prometheus counter)."""
        return self._alarms

    @property
    def warnings(self) -> int:
        """Warnings raised (the start of a warning zone, outside any cooldown)."""
        return self._warnings

    @property
    def suppressed(self) -> int:
        """Detections of a rise within the cooldown after an alarm, taken for the same change."""
        return self._suppressed

    @property
    def improvements(self) -> int:
        """Detections of a fall in error, not alarms when ``direction="increase"``."""
        return self._improvements

    @property
    def events_seen(self) -> int:
        """Errors fed since the monitor was built (:meth:`reset` does not change it)."""
        return self._seen

    def state(self) -> dict[str, float]:
        """The detector's readings worth plotting, e.g. ADWIN's ``width`` and ``estimation``.

        ADWIN: ``width``, ``estimation`` (mean error of its window); KSWIN: ``p_value``,
        ``window_mean``; Page-Hinkley: ``mean``, ``increase``, ``decrease`` (its cumulative
        statistics); DDM: ``error_rate``, ``min_error_rate``; EDDM: ``mean_distance`` between
        errors; HDDM-A, HDDM-W, FHDDM: ``error_rate``.
        """
        return _DETECTORS[self.name].state(self._detector)

    def reset(self) -> None:
        """Start the detector afresh, e.g. after the learner retrained its model.

        The counters, the active state and the cooldown carry on: they describe the stream,
        not the detector.
        """
        self._detector = self._detector.clone()
        self._total, self._count = 0.0, 0
        self._warning_on = False

    def __repr__(self) -> str:
        return (
            f"ConceptDriftMonitor({self.name!r}, {self.params!r}, alarms={self._alarms}, "
            f"active={self._active})"
        )
