"""Drift detection: pure logic the learner calls per event, with no I/O and no threads.

* :class:`ConceptDriftMonitor` watches the model's prequential error with a River detector
  (ADWIN by default) and raises one alarm per change, keeping warnings apart and an ``active``
  state on while the change is under way.
* :class:`DataDriftMonitor` compares each feature's recent distribution with a reference
  window (PSI, and the two-sample K-S test for numbers) every so many events;
  :class:`DistributionDriftMonitor` does the same for the model's predictions or the labels.
* Both report :class:`DriftEvent`\\ s, which a bounded :class:`DriftLog` keeps for
  ``GET /drift``.

River's detectors sit behind :mod:`service.drift.detectors`, which alone knows their
attributes; the defaults, with the reasons for them, are in :mod:`service.drift.defaults`.

Everything here pickles, so the service's checkpoint can hold it.

Examples
--------
>>> concept = ConceptDriftMonitor("adwin", task="classification")
>>> data = DataDriftMonitor(window=200, every=100)
>>> log = DriftLog()
>>> for offset in range(1_000):
...     features = {"x": float(offset % 7)}
...     if (event := concept.update(0.0, offset)) is not None:
...         log.append(event)
...     if (report := data.observe(features, offset)) is not None:
...         log.extend(report.events)
>>> len(log), concept.alarms, data.alarms
(0, 0, 0)
"""

from service.drift.concept import ConceptDriftMonitor
from service.drift.data import DataDriftMonitor, DistributionDriftMonitor
from service.drift.defaults import (
    DEFAULT_ADWIN_DELTA,
    DEFAULT_COOLDOWN,
    DEFAULT_DETECTOR,
    DEFAULT_EVERY,
    DEFAULT_KS_ALPHA,
    DEFAULT_LOG_SIZE,
    DEFAULT_PSI_THRESHOLD,
    DEFAULT_QUIET_PERIOD,
    DEFAULT_RULE,
    DEFAULT_WINDOW,
)
from service.drift.detectors import DETECTORS, ConceptReading, detector_params, resolve_detector
from service.drift.distributions import (
    RULES,
    DataDriftRule,
    ks_two_sample,
    population_stability_index,
)
from service.drift.errors import DriftConfigurationError
from service.drift.log import DriftEvent, DriftKind, DriftLog, DriftReport, FeatureDrift
from service.drift.watch import DRIFT_KINDS, DriftConfig, DriftWatch

__all__ = [
    "DEFAULT_ADWIN_DELTA",
    "DEFAULT_COOLDOWN",
    "DEFAULT_DETECTOR",
    "DEFAULT_EVERY",
    "DEFAULT_KS_ALPHA",
    "DEFAULT_LOG_SIZE",
    "DEFAULT_PSI_THRESHOLD",
    "DEFAULT_QUIET_PERIOD",
    "DEFAULT_RULE",
    "DEFAULT_WINDOW",
    "DETECTORS",
    "DRIFT_KINDS",
    "RULES",
    "ConceptDriftMonitor",
    "ConceptReading",
    "DataDriftMonitor",
    "DataDriftRule",
    "DistributionDriftMonitor",
    "DriftConfig",
    "DriftConfigurationError",
    "DriftEvent",
    "DriftKind",
    "DriftLog",
    "DriftReport",
    "DriftWatch",
    "FeatureDrift",
    "detector_params",
    "ks_two_sample",
    "population_stability_index",
    "resolve_detector",
]
