"""``triggered``: rebuild when a drift detector alarms or the rolling metric turns poor.

After the trigger the manager gathers :attr:`TriggeredStrategy.collect` more events and trains
the challenger on the events since the trigger only: right after a change the history is mostly
the old concept, and a model rebuilt from it would only relearn what just stopped being true.

By default the champion does not learn between rebuilds (``learn_online=False``), which keeps
``triggered`` apart from ``hybrid``.

Examples
--------
>>> from service.strategies.base import StrategyStatus
>>> strategy = TriggeredStrategy(metric_threshold=0.8)
>>> status = StrategyStatus("classification", 5_000, 4_000, 60.0, 4_000, 0.65, False)
>>> strategy.check(status)
'metric'
>>> strategy.check(StrategyStatus("classification", 5_000, 4_000, 60.0, 10, 0.65, True)) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from service.strategies.base import (
    Strategy,
    StrategyName,
    StrategyStatus,
    Trigger,
    metric_is_poor,
)
from service.strategies.errors import StrategyConfigurationError

__all__ = [
    "DEFAULT_COLLECT",
    "DEFAULT_COOLDOWN",
    "TriggeredStrategy",
    "alarm_trigger",
    "validate_alarms",
]

# Events gathered after a trigger before rebuilding: a logistic regression learns the demo
# scenarios' linear concept to within a few points of its best from about this many events.
DEFAULT_COLLECT = 300
# Events after a model change during which triggers are ignored: the rolling metric (1,000
# events by default in the service) still holds the replaced model's errors until its window has
# turned over, and would otherwise trigger again at once.
DEFAULT_COOLDOWN = 1_000


def validate_alarms(
    on_drift: bool, metric_threshold: float | None, collect: int, cooldown: int
) -> None:
    """Refuse a trigger set-up that can never fire or has negative counts."""
    if not on_drift and metric_threshold is None:
        raise StrategyConfigurationError("a triggered rebuild needs on_drift or a metric_threshold")
    if collect < 0 or cooldown < 0:
        raise StrategyConfigurationError(
            f"collect and cooldown count events and cannot be negative ({collect}, {cooldown})"
        )


def alarm_trigger(
    status: StrategyStatus, on_drift: bool, metric_threshold: float | None, cooldown: int
) -> Trigger | None:
    """``"drift"`` on a pending alarm, ``"metric"`` on a poor rolling metric, past the cooldown."""
    if status.events_since_change < cooldown:
        return None
    if on_drift and status.drift_alarm:
        return "drift"
    if metric_threshold is not None and metric_is_poor(
        status.task, status.rolling_metric, metric_threshold
    ):
        return "metric"
    return None


@dataclass(frozen=True)
class TriggeredStrategy(Strategy):
    """Rebuild on a drift alarm or a poor rolling metric.

    Parameters
    ----------
    on_drift
        Rebuild when the detector the learner runs raises an alarm.
    metric_threshold
        Rebuild when the rolling accuracy falls below it (MAE rises above it); ``None``: never.
    collect
        Events gathered after the trigger; the rebuild trains on them only.
    cooldown
        Events after the serving model changed (promotion, rollback) during which triggers are
        ignored. A rejection starts no cooldown: while the metric stays poor or the detector
        keeps alarming, rebuilds go on, one at a time, until a challenger wins.
    learn_online
        Whether the champion also learns every event (default: no; with it, see ``hybrid``).
    """

    on_drift: bool = True
    metric_threshold: float | None = None
    collect: int = DEFAULT_COLLECT
    cooldown: int = DEFAULT_COOLDOWN
    learn_online: bool = False

    name: ClassVar[StrategyName] = "triggered"
    description: ClassVar[str] = (
        "Rebuild on a drift alarm or a rolling metric below its threshold, from the events since."
    )

    def __post_init__(self) -> None:
        validate_alarms(self.on_drift, self.metric_threshold, self.collect, self.cooldown)

    @property
    def learns_online(self) -> bool:
        return self.learn_online

    @property
    def collect_events(self) -> int:
        return self.collect

    def check(self, status: StrategyStatus) -> Trigger | None:
        return alarm_trigger(status, self.on_drift, self.metric_threshold, self.cooldown)
