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

How each River detector is built, fed and read (FHDDM, for one, takes the correctness
``1 - error``) is in :mod:`service.drift.detectors`; this module is the policy on top.

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

from collections.abc import Mapping
from typing import Any

from service.drift.defaults import (
    DEFAULT_ADWIN_DELTA,
    DEFAULT_COOLDOWN,
    DEFAULT_DETECTOR,
    DEFAULT_QUIET_PERIOD,
)
from service.drift.detectors import (
    DETECTOR_ADAPTERS,
    DETECTORS,
    ConceptReading,
    Direction,
    build_detector,
    detector_params,
    resolve_detector,
)
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
    "ConceptReading",
    "Direction",
    "detector_params",
    "resolve_detector",
]


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
        spec = DETECTOR_ADAPTERS[name]
        if spec.binary and task == "regression":
            general = ", ".join(n for n, s in DETECTOR_ADAPTERS.items() if not s.binary)
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
        self._detector = build_detector(name, self.params, direction)
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

    def _on_detection(self, offset: int) -> DriftEvent | None:
        adapter = DETECTOR_ADAPTERS[self.name]
        after, before, rose = adapter.change(self._detector, self._total, self._count)
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
        statistic = DETECTOR_ADAPTERS[self.name].statistic(self._detector)
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
        return DETECTOR_ADAPTERS[self.name].state(self._detector)

    def reading(self) -> ConceptReading:
        """The detector's window width (ADWIN) and the error level it tracks, typed.

        The same numbers as :meth:`state`, picked out by the detector's adapter so that a reader
        (the metrics) need not know which detector keeps its mean error under which name.

        Examples
        --------
        >>> monitor = ConceptDriftMonitor("ddm")
        >>> for offset in range(50):
        ...     _ = monitor.update(float(offset % 5 == 0), offset)
        >>> reading = monitor.reading()
        >>> reading.width, round(reading.mean_error, 3)
        (None, 0.2)
        """
        return DETECTOR_ADAPTERS[self.name].reading(self._detector)

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
