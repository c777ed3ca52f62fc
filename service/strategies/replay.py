"""Test-then-train a stream through a :class:`ModelManager`, as the learner does, with no I/O.

:class:`PrequentialRun` is the learner's step with the manager behind it: the champion predicts
(``predict_proba_one``, or ``predict_one`` for a regressor), the cumulative and rolling metrics
are updated unless there was no prediction, a drift detector sees the error, then
:meth:`ModelManager.after_prediction` does the rest. It drives the strategy comparison
(``python -m service.compare``) and the tests, so that both exercise the manager exactly as the
service will.

The drift alarm comes from :class:`RisingErrorDetector`, River's ADWIN on the prequential error
counting only rises as alarms (a model that is still learning makes its error *fall*, and ADWIN
reports that too). The service passes its own concept drift monitor's alarm instead.

Examples
--------
>>> from producer.scenarios import make_scenario
>>> from service.strategies.config import StrategyConfig
>>> manager = ModelManager.from_config(StrategyConfig(strategy="online", rebuild_background=False))
>>> run = PrequentialRun(manager, rolling_window=100)
>>> for offset, (x, y) in enumerate(make_scenario("stationary", n=1_000, seed=3)):
...     _ = run.learn(x, y, offset)
>>> round(run.metric, 3), run.learned, manager.events_seen
(0.903, 1000, 1000)
"""

from __future__ import annotations

from typing import Any

from river import drift, metrics, utils

from service.events import FeatureValue, Label
from service.strategies.manager import ModelManager

__all__ = ["PrequentialRun", "RisingErrorDetector"]


class RisingErrorDetector:
    """ADWIN on the error stream; an alarm only when the error's mean has gone *up*.

    >>> detector = RisingErrorDetector()
    >>> alarms = [i for i in range(4_000) if detector.update(float(i >= 2_000 and i % 2 == 0))]
    >>> len(alarms), 2_000 < alarms[0] < 2_100
    (1, True)
    """

    def __init__(self, delta: float = 0.002) -> None:
        self._adwin = drift.ADWIN(delta=delta)
        self.alarms = 0

    def update(self, error: float) -> bool:
        """Feed one error; whether it raised an alarm."""
        before = self._adwin.estimation
        self._adwin.update(error)
        alarm = bool(self._adwin.drift_detected and self._adwin.estimation > before)
        self.alarms += alarm
        return alarm


class PrequentialRun:
    """The learner's test-then-train step, delegating learning to a :class:`ModelManager`.

    Parameters
    ----------
    manager
        The manager under test; its champion predicts.
    rolling_window
        Events in the rolling metric (accuracy, or MAE) passed to the manager.
    detector
        Gives the drift alarm; ``None``: no alarms.
    """

    def __init__(
        self,
        manager: ModelManager,
        rolling_window: int,
        detector: RisingErrorDetector | None = None,
    ) -> None:
        self.manager = manager
        self.detector = detector
        self.learned = 0
        self.cumulative: metrics.base.Metrics
        self.rolling: Any
        if manager.task == "classification":
            self.cumulative = metrics.Accuracy() + metrics.LogLoss()
            self.rolling = utils.Rolling(metrics.Accuracy, window_size=rolling_window)
        else:
            self.cumulative = metrics.MAE() + metrics.RMSE()
            self.rolling = utils.Rolling(metrics.MAE, window_size=rolling_window)

    @property
    def metric(self) -> float:
        """The cumulative prequential accuracy (MAE)."""
        return float(self.cumulative[0].get())

    @property
    def rolling_metric(self) -> float:
        """The rolling accuracy (MAE)."""
        return float(self.rolling.get())

    def learn(self, x: dict[str, FeatureValue], y: Label, offset: int) -> float | None:
        """Test-then-train one labelled event; returns the champion's error (``None``: none)."""
        manager = self.manager
        error: float | None = None
        predicted: Any
        if manager.task == "classification":
            proba = manager.predict_proba_one(x)
            predicted = None
            if proba:
                predicted = max(proba, key=proba.get)  # type: ignore[arg-type]
                self.cumulative.update(y, proba)
                self.rolling.update(y, predicted)
                error = 0.0 if predicted == y else 1.0
        else:
            predicted = manager.predict_one(x)
            if predicted is not None:
                self.cumulative.update(y, predicted)
                self.rolling.update(y, predicted)
                error = abs(float(y) - float(predicted))
        alarm = error is not None and self.detector is not None and self.detector.update(error)
        manager.after_prediction(x, y, predicted, error, offset, self.rolling_metric, alarm)
        self.learned += 1
        return error
