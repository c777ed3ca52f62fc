"""The learner's drift watch: every monitor one model needs, fed once per event.

:class:`DriftWatch` bundles the concept-drift monitor on the prequential error, the data-drift
monitor on the features, and the distribution monitors on the predictions and the labels. It
counts alarms by detector and kind, keeps an ``active`` flag per kind, the wall-clock time of
each kind's last alarm, and a bounded log of recent events for ``GET /drift``. It is plain,
picklable state: the learner calls it under its lock and checkpoints it with the model.

Examples
--------
>>> watch = DriftWatch(DriftConfig(), task="classification")
>>> for offset in range(3_000):
...     _ = watch.observe({"x": float(offset % 5)}, label=offset % 2 == 0,
...                       prediction=offset % 2 == 0, error=0.0, offset=offset)
>>> watch.alarm_counts()[("adwin", "concept")], watch.active_kinds()
(0, {'concept': False, 'data': False, 'prediction': False, 'label': False})
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from service.drift.concept import ConceptDriftMonitor, ConceptReading
from service.drift.data import DataDriftMonitor, DistributionDriftMonitor
from service.drift.defaults import (
    DEFAULT_COOLDOWN,
    DEFAULT_DETECTOR,
    DEFAULT_EVERY,
    DEFAULT_KS_ALPHA,
    DEFAULT_LOG_SIZE,
    DEFAULT_PSI_THRESHOLD,
    DEFAULT_QUIET_PERIOD,
    DEFAULT_RULE,
    DEFAULT_TRACKED_FEATURES,
    DEFAULT_WINDOW,
)
from service.drift.detectors import resolve_detector
from service.drift.distributions import DataDriftRule
from service.drift.log import DriftEvent, DriftKind, DriftLog, DriftReport, FeatureDrift
from service.models import Task

__all__ = ["DEFAULT_TRACKED_FEATURES", "DRIFT_KINDS", "DriftConfig", "DriftValues", "DriftWatch"]

DRIFT_KINDS: tuple[DriftKind, ...] = ("concept", "data", "prediction", "label")


@dataclass(frozen=True, slots=True)
class DriftValues:
    """A consistent reading of the drift watch, taken under the learner's lock."""

    alarms: dict[tuple[str, DriftKind], int]
    warnings: dict[str, int]
    active: dict[str, bool]
    last_alarm_times: dict[DriftKind, float]
    concept_state: dict[str, float]
    concept_reading: ConceptReading
    features: list[FeatureDrift]
    distribution_psi: dict[str, float]
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class DriftConfig:
    """How the drift watch is set up (mirrors the ``DRIFTLINE_DRIFT_*`` settings)."""

    detector: str = DEFAULT_DETECTOR
    params: dict[str, Any] = field(default_factory=dict)
    cooldown: int = DEFAULT_COOLDOWN
    quiet_period: int = DEFAULT_QUIET_PERIOD
    window: int = DEFAULT_WINDOW
    every: int = DEFAULT_EVERY
    psi_threshold: float = DEFAULT_PSI_THRESHOLD
    ks_alpha: float = DEFAULT_KS_ALPHA
    rule: DataDriftRule = DEFAULT_RULE
    features: tuple[str, ...] | None = None
    max_features: int = DEFAULT_TRACKED_FEATURES
    log_size: int = DEFAULT_LOG_SIZE


class DriftWatch:
    """Concept, data, prediction and label drift of one model's stream."""

    def __init__(self, config: DriftConfig, task: Task) -> None:
        self.config = config
        self.task = task
        self.concept = ConceptDriftMonitor(
            config.detector,
            config.params,
            task=task,
            cooldown=config.cooldown,
            quiet_period=config.quiet_period,
        )
        windows: dict[str, Any] = {
            "window": config.window,
            "every": config.every,
            "psi_threshold": config.psi_threshold,
            "ks_alpha": config.ks_alpha,
            "rule": config.rule,
        }
        self.data = DataDriftMonitor(
            **windows, watch=config.features, max_features=config.max_features
        )
        self.predictions = DistributionDriftMonitor("prediction", task=task, **windows)
        self.labels = DistributionDriftMonitor("label", task=task, **windows)
        self.log = DriftLog(config.log_size)
        self._alarms: dict[tuple[str, DriftKind], int] = {
            (resolve_detector(config.detector), "concept"): 0,
            **{(config.rule, kind): 0 for kind in ("data", "prediction", "label")},
        }
        self._warnings: dict[str, int] = {resolve_detector(config.detector): 0}
        self._last_alarm_time: dict[DriftKind, float] = {}

    def observe(
        self,
        features: dict[str, Any],
        label: Any,
        prediction: Any,
        error: float | None,
        offset: int,
    ) -> bool:
        """Feed one event: its features, and for a labelled one its label, prediction, error.

        Returns
        -------
        bool
            Whether the concept-drift monitor raised an alarm on this event (a warning is not
            one), so that the caller can act on it (e.g. a triggered retrain) without comparing
            alarm counts before and after. ``False`` for an event without a label or an error.
        """
        self.observe_features(features, offset)
        if label is None:
            return False
        return self.observe_outcome(label, prediction, error, offset)

    def observe_features(self, features: dict[str, Any], offset: int) -> None:
        """Feed the data-drift monitor one event's features (a question's, when it is asked)."""
        report = self.data.observe(features, offset)
        if report is not None:
            self._record_report(report)

    def observe_outcome(
        self, label: Any, prediction: Any, error: float | None, offset: int
    ) -> bool:
        """Feed the label, prediction and concept monitors one outcome (an answer's, when it
        joins its question); whether the concept monitor raised an alarm."""
        report = self.labels.observe(label, offset)
        if report is not None:
            self._record_report(report)
        if prediction is not None:
            report = self.predictions.observe(prediction, offset)
            if report is not None:
                self._record_report(report)
        if error is None:
            return False
        event = self.concept.update(error, offset)
        if event is None:
            return False
        self._record(event)
        return not event.warning

    def reset_references(self) -> None:
        """Start new reference windows (after a retrain, the new model's world is the baseline)."""
        for monitor in (self.data, self.predictions, self.labels):
            monitor.reset()
        self.concept.reset()

    def _record_report(self, report: DriftReport) -> None:
        for event in report.events:
            self._record(event)

    def _record(self, event: DriftEvent) -> None:
        self.log.append(event)
        if event.warning:
            self._warnings[event.detector] = self._warnings.get(event.detector, 0) + 1
            return
        key = (event.detector, event.kind)
        self._alarms[key] = self._alarms.get(key, 0) + 1
        self._last_alarm_time[event.kind] = time.time()

    # --- reading ------------------------------------------------------------------------------

    def alarm_counts(self) -> dict[tuple[str, DriftKind], int]:
        """Alarms so far, by (detector, kind); every configured pair is present from the start."""
        return dict(self._alarms)

    def warning_counts(self) -> dict[str, int]:
        return dict(self._warnings)

    def active_kinds(self) -> dict[str, bool]:
        """Whether each kind of drift is under way now."""
        return {
            "concept": self.concept.active,
            "data": bool(self.data.drifting),
            "prediction": bool(self.predictions.drifting),
            "label": bool(self.labels.drifting),
        }

    def last_alarm_times(self) -> dict[DriftKind, float]:
        return dict(self._last_alarm_time)

    def concept_state(self) -> dict[str, float]:
        """The concept detector's values worth plotting (ADWIN: window width, mean error)."""
        return self.concept.state()

    def concept_reading(self) -> ConceptReading:
        """The concept detector's window width and mean error, whichever detector it is."""
        return self.concept.reading()

    def feature_drift(self, k: int) -> list[FeatureDrift]:
        """The ``k`` features with the highest PSI at the last evaluation (a bounded set)."""
        return self.data.top_features(k)

    def distribution_psi(self) -> dict[str, float]:
        """PSI of the predictions and of the labels at their last evaluation."""
        found = {}
        for name, monitor in (("prediction", self.predictions), ("label", self.labels)):
            report = monitor.last_report
            if report is not None and name in report.features:
                found[name] = report.features[name].psi
        return found

    def values(self, top_features: int) -> DriftValues:
        """Every reading at once (call it under the learner's lock, for a consistent one)."""
        return DriftValues(
            alarms=self.alarm_counts(),
            warnings=self.warning_counts(),
            active=self.active_kinds(),
            last_alarm_times=self.last_alarm_times(),
            concept_state=self.concept_state(),
            concept_reading=self.concept_reading(),
            features=self.feature_drift(top_features),
            distribution_psi=self.distribution_psi(),
            events=self.log.to_list(),
        )
