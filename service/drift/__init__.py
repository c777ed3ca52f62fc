"""Drift detection: pure logic the learner calls per event, with no I/O and no threads.

* :class:`ConceptDriftMonitor` watches the model's prequential error with a River detector
  (ADWIN by default) and raises one alarm per change, keeping warnings apart and an ``active``
  state on while the change is under way.
* It reports :class:`DriftEvent`\\ s, which a bounded :class:`DriftLog` keeps for
  ``GET /drift``.

Everything here pickles, so the service's checkpoint can hold it.

Examples
--------
>>> concept = ConceptDriftMonitor("adwin", task="classification")
>>> log = DriftLog()
>>> for offset in range(1_000):
...     if (event := concept.update(0.0, offset)) is not None:
...         log.append(event)
>>> len(log), concept.alarms
(0, 0)
"""

from service.drift.concept import (
    DEFAULT_ADWIN_DELTA,
    DEFAULT_COOLDOWN,
    DEFAULT_DETECTOR,
    DEFAULT_QUIET_PERIOD,
    DETECTORS,
    ConceptDriftMonitor,
    detector_params,
    resolve_detector,
)
from service.drift.errors import DriftConfigurationError
from service.drift.log import DEFAULT_LOG_SIZE, DriftEvent, DriftKind, DriftLog

__all__ = [
    "DEFAULT_ADWIN_DELTA",
    "DEFAULT_COOLDOWN",
    "DEFAULT_DETECTOR",
    "DEFAULT_LOG_SIZE",
    "DEFAULT_QUIET_PERIOD",
    "DETECTORS",
    "ConceptDriftMonitor",
    "DriftConfigurationError",
    "DriftEvent",
    "DriftKind",
    "DriftLog",
    "detector_params",
    "resolve_detector",
]
