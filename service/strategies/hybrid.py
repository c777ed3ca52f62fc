"""``hybrid``: learn online *and* rebuild, on a schedule or on a trigger, whichever comes first.

Online learning follows slow change event by event; a rebuild from the recent events replaces
the model outright when a sudden change leaves it behind, once the challenger has proved better
in its shadow run.

Examples
--------
>>> strategy = HybridStrategy(every_events=5_000)
>>> strategy.learns_online, strategy.collect_events
(True, 300)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from service.strategies.base import Strategy, StrategyName, StrategyStatus, Trigger
from service.strategies.periodic import periodic_due, validate_period
from service.strategies.triggered import (
    DEFAULT_COLLECT,
    DEFAULT_COOLDOWN,
    alarm_trigger,
    validate_alarms,
)

__all__ = ["HybridStrategy"]


@dataclass(frozen=True)
class HybridStrategy(Strategy):
    """Learn every event, and rebuild periodically or on a drift alarm or poor metric.

    Parameters are those of :class:`~service.strategies.periodic.PeriodicStrategy` and
    :class:`~service.strategies.triggered.TriggeredStrategy`; any of the schedule and the
    alarms may be switched off, not all of them.
    """

    every_events: int | None = None
    every_seconds: float | None = None
    on_drift: bool = True
    metric_threshold: float | None = None
    collect: int = DEFAULT_COLLECT
    cooldown: int = DEFAULT_COOLDOWN

    name: ClassVar[StrategyName] = "hybrid"
    description: ClassVar[str] = (
        "Learn every event, and rebuild periodically or on a drift alarm or poor metric."
    )

    def __post_init__(self) -> None:
        if self.every_events is not None or self.every_seconds is not None:
            validate_period(self.every_events, self.every_seconds)
            validate_alarms(True, None, self.collect, self.cooldown)
        else:
            validate_alarms(self.on_drift, self.metric_threshold, self.collect, self.cooldown)

    @property
    def learns_online(self) -> bool:
        return True

    @property
    def collect_events(self) -> int:
        return self.collect

    def check(self, status: StrategyStatus) -> Trigger | None:
        alarm = alarm_trigger(status, self.on_drift, self.metric_threshold, self.cooldown)
        if alarm is not None:
            return alarm
        if periodic_due(status, self.every_events, self.every_seconds):
            return "periodic"
        return None
