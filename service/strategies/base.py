"""What every retraining strategy is: when to learn online, and when to ask for a rebuild.

A strategy is a small, frozen, picklable object with two answers. :attr:`Strategy.learns_online`
says whether the serving model (the *champion*) learns every labelled event; :meth:`Strategy.check`
looks at a :class:`StrategyStatus` after each labelled event and names the :data:`Trigger` of a
rebuild, or ``None``. Everything else (building the challenger, shadow evaluation, promotion,
versions, rollback) is the :class:`~service.strategies.manager.ModelManager`'s job, the same for
every strategy, so a strategy stays a few lines and the comparison between strategies is fair.

Examples
--------
>>> from service.strategies.periodic import PeriodicStrategy
>>> strategy = PeriodicStrategy(every_events=100)
>>> status = StrategyStatus("classification", events_seen=500, events_since_rebuild=100,
...                         seconds_since_rebuild=3.0, events_since_change=100,
...                         rolling_metric=0.9, drift_alarm=False)
>>> strategy.learns_online, strategy.check(status)
(False, 'periodic')
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal, get_args

from service.models import Task

__all__ = [
    "OUTCOMES",
    "STRATEGY_NAMES",
    "TRIGGERS",
    "Outcome",
    "Strategy",
    "StrategyName",
    "StrategyStatus",
    "Trigger",
    "metric_is_poor",
]

StrategyName = Literal["online", "static", "periodic", "triggered", "hybrid"]
STRATEGY_NAMES: tuple[StrategyName, ...] = get_args(StrategyName)

Trigger = Literal["initial", "periodic", "drift", "metric", "manual", "leader", "rollback"]
"""Why a model version exists: the first model, a scheduled rebuild, a drift alarm, a rolling
metric below its threshold, an operator's request, or a rollback to an earlier version."""
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)

Outcome = Literal["promoted", "rejected", "rolled_back", "failed"]
"""What became of a rebuilt model: promoted after its shadow run, rejected by the gate, rolled
back during its probation (it was promoted first), or failed (the rebuild raised, or could not
keep up with the stream)."""
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


@dataclass(frozen=True, slots=True)
class StrategyStatus:
    """What a strategy sees after each labelled event, once the initial model is trained."""

    task: Task
    events_seen: int
    """Labelled events handed to the manager so far, this one included."""
    events_since_rebuild: int
    """Labelled events since the last rebuild started (or since the initial phase ended)."""
    seconds_since_rebuild: float
    """Seconds (manager's clock) since the last rebuild started (or the initial phase ended)."""
    events_since_change: int
    """Labelled events since the serving model last changed (promotion, rollback, or the end
    of the initial phase)."""
    rolling_metric: float
    """The champion's rolling prequential metric: accuracy, or MAE for a regressor."""
    drift_alarm: bool
    """Whether a concept drift alarm is pending: raised at this event, or while a rebuild,
    shadow run or probation was under way (the manager keeps it until it can act on it)."""


def metric_is_poor(task: Task, value: float, threshold: float) -> bool:
    """Whether a rolling metric is on the wrong side of its threshold.

    Accuracy is poor *below* the threshold, MAE *above* it; a metric that is not a number yet
    (no prediction scored) is never poor.

    >>> metric_is_poor("classification", 0.6, 0.7), metric_is_poor("regression", 0.6, 0.7)
    (True, False)
    """
    if math.isnan(value):
        return False
    return value < threshold if task == "classification" else value > threshold


class Strategy(ABC):
    """When the champion learns online, and when a rebuild is due."""

    name: ClassVar[StrategyName]
    description: ClassVar[str]

    @property
    @abstractmethod
    def learns_online(self) -> bool:
        """Whether the champion learns every labelled event (after the initial phase)."""

    @property
    def rebuilds(self) -> bool:
        """Whether :meth:`check` can ever name a trigger (``False`` skips it on every event)."""
        return True

    @property
    def collect_events(self) -> int:
        """Events gathered after a drift or metric trigger before the rebuild starts.

        Such a rebuild trains only on the events since its trigger, so that it learns the new
        concept rather than the old one; periodic and manual rebuilds use the whole history.
        """
        return 0

    @abstractmethod
    def check(self, status: StrategyStatus) -> Trigger | None:
        """The trigger of a rebuild due now, or ``None``.

        Called after every labelled event once the initial model is trained, and only while no
        rebuild, shadow run or probation is under way (one model change at a time).
        """
