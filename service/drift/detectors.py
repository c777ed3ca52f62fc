"""The concept-drift detectors: River's, by name, and what the monitor must know about each.

Every detector is a River class behind a :class:`DetectorAdapter`, which says how to build it
and how to read it: the values worth plotting (:meth:`DetectorAdapter.state`), the typed
:class:`ConceptReading` the metrics export, and at a detection the error after and before the
change and whether it rose. River's detectors keep these in differently named, sometimes
private, attributes; this module is the one place that knows where.

River's FHDDM (0.26.1) signals when the mean of its input *falls* (its code tests
``u_max - u > epsilon``), whatever its docstring says; fed the error, it would fire when the
model gets better. Its adapter is marked ``inverted``: the monitor feeds it the correctness
``1 - error`` instead.

Examples
--------
>>> detector = build_detector("adwin", {})
>>> for _ in range(100):
...     _ = detector.update(0.0)
>>> DETECTOR_ADAPTERS["adwin"].reading(detector)
ConceptReading(width=100.0, mean_error=0.0)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from river.drift import ADWIN, KSWIN, PageHinkley
from river.drift.binary import DDM, EDDM, FHDDM, HDDMA, HDDMW

from service.drift.defaults import DEFAULT_ADWIN_DELTA
from service.drift.errors import DriftConfigurationError

__all__ = [
    "DETECTORS",
    "DETECTOR_ADAPTERS",
    "Change",
    "ConceptReading",
    "DetectorAdapter",
    "Direction",
    "build_detector",
    "detector_params",
    "resolve_detector",
]

Direction = Literal["increase", "both"]
"""Which changes in error are alarms: only rises, or every detection."""

# KSWIN samples its reference at random: a fixed seed makes a replay from a checkpoint take the
# same decisions as the first run.
_KSWIN_SEED = 42

Change = tuple[float, float | None, bool]
"""At a detection: the error after the change, the error before it (if known), whether it rose."""


@dataclass(frozen=True, slots=True)
class ConceptReading:
    """The concept detector's values the metrics export, whichever detector it is."""

    width: float | None
    """Events in the detector's window, ADWIN only."""
    mean_error: float | None
    """The error level the detector tracks (ADWIN's mean error of its window, DDM's error rate,
    ...); ``None`` for EDDM, which tracks the distance between errors."""


# -- Where each River detector keeps what the monitor reads ----------------------------------


def _adwin_state(detector: Any) -> dict[str, float]:
    return {"width": float(detector.width), "estimation": float(detector.estimation)}


def _adwin_change(detector: Any, total: float, count: int) -> Change:
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


def _kswin_change(detector: Any, total: float, count: int) -> Change:
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


def _page_hinkley_change(detector: Any, total: float, count: int) -> Change:
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


def _hddm_a_change(detector: Any, total: float, count: int) -> Change:
    rose = not detector.two_sided_test or detector._mean_incr(detector.drift_confidence)
    return _hddm_a_state(detector)["error_rate"], None, rose


def _hddm_w_state(detector: Any) -> dict[str, float]:
    return {"error_rate": float(detector._total.ewma)}


def _hddm_w_change(detector: Any, total: float, count: int) -> Change:
    rose = not detector.two_sided_test or detector._detect_mean_incr(detector.drift_confidence)
    return _hddm_w_state(detector)["error_rate"], None, rose


def _fhddm_state(detector: Any) -> dict[str, float]:
    window = detector._sliding_window
    # Fed the correctness, so the error rate is what is not correct.
    return {"error_rate": 1.0 - detector.n_one / len(window) if window else 0.0}


@dataclass(frozen=True, slots=True)
class DetectorAdapter:
    """How to build one River detector and read it, whatever its attributes are called."""

    title: str
    factory: Callable[..., Any]
    """The River class: a ``DriftDetector`` or a ``BinaryDriftDetector``."""
    read_state: Callable[[Any], dict[str, float]]
    read_change: Callable[[Any, float, int], Change] | None = None
    """After, before (if known) and whether the error rose; ``None``: the state's first value,
    unknown, and a rise (the detector is one-sided)."""
    binary: bool = False
    warnings: bool = False
    inverted: bool = False
    """Fed the correctness ``1 - error`` rather than the error."""
    mean_error: str | None = None
    """The key of :meth:`state` holding the error level the detector tracks, if it has one."""
    width: str | None = None
    """The key of :meth:`state` holding the number of events in its window, if it has one."""

    def state(self, detector: Any) -> dict[str, float]:
        """The detector's readings worth plotting, by name."""
        return self.read_state(detector)

    def statistic(self, detector: Any) -> float:
        """The detector's main reading: the first value of :meth:`state`."""
        return next(iter(self.read_state(detector).values()))

    def change(self, detector: Any, total: float, count: int) -> Change:
        """At a detection: the error after and before the change, and whether it rose.

        ``total`` and ``count`` are what the detector was fed since it last reset itself.
        """
        if self.read_change is not None:
            return self.read_change(detector, total, count)
        return self.statistic(detector), None, True

    def reading(self, detector: Any) -> ConceptReading:
        """The window width and the mean error, each ``None`` where the detector has none."""
        state = self.read_state(detector)
        width = None if self.width is None else state[self.width]
        mean_error = None if self.mean_error is None else state[self.mean_error]
        return ConceptReading(width=width, mean_error=mean_error)


DETECTOR_ADAPTERS: Mapping[str, DetectorAdapter] = {
    "adwin": DetectorAdapter(
        "ADWIN, adaptive windowing",
        ADWIN,
        _adwin_state,
        _adwin_change,
        mean_error="estimation",
        width="width",
    ),
    "page_hinkley": DetectorAdapter(
        "Page-Hinkley cumulative test",
        PageHinkley,
        _page_hinkley_state,
        _page_hinkley_change,
        mean_error="mean",
    ),
    "kswin": DetectorAdapter(
        "KSWIN, Kolmogorov-Smirnov on a sliding window (a K-S test per event: slow)",
        KSWIN,
        _kswin_state,
        _kswin_change,
        mean_error="window_mean",
    ),
    "ddm": DetectorAdapter(
        "DDM, drift detection method",
        DDM,
        _ddm_state,
        binary=True,
        warnings=True,
        mean_error="error_rate",
    ),
    "eddm": DetectorAdapter(
        "EDDM, early DDM on the distance between errors",
        EDDM,
        _eddm_state,
        binary=True,
        warnings=True,
    ),
    "hddm_a": DetectorAdapter(
        "HDDM-A, Hoeffding bounds on averages",
        HDDMA,
        _hddm_a_state,
        _hddm_a_change,
        binary=True,
        warnings=True,
        mean_error="error_rate",
    ),
    "hddm_w": DetectorAdapter(
        "HDDM-W, Hoeffding bounds on weighted averages",
        HDDMW,
        _hddm_w_state,
        _hddm_w_change,
        binary=True,
        warnings=True,
        mean_error="error_rate",
    ),
    "fhddm": DetectorAdapter(
        "FHDDM, fast Hoeffding drift detection",
        FHDDM,
        _fhddm_state,
        binary=True,
        inverted=True,
        mean_error="error_rate",
    ),
}
"""Every detector's adapter, by canonical name."""

DETECTORS: Mapping[str, str] = {name: spec.title for name, spec in DETECTOR_ADAPTERS.items()}
"""The concept drift detectors by name, with a one-line description. The binary ones (DDM,
EDDM, HDDM-A, HDDM-W, FHDDM) take a 0/1 error and so only classifiers."""

_BY_KEY = {name.replace("_", ""): name for name in DETECTOR_ADAPTERS}


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
        choices = ", ".join(DETECTOR_ADAPTERS)
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
    spec = DETECTOR_ADAPTERS[resolve_detector(name)]
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


def build_detector(name: str, params: Mapping[str, Any], direction: Direction = "increase") -> Any:
    """A fresh River detector: :func:`detector_params` overridden by ``params``.

    Raises
    ------
    DriftConfigurationError
        For an unknown detector or parameter, or a value the detector refuses.
    """
    name = resolve_detector(name)
    spec = DETECTOR_ADAPTERS[name]
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
