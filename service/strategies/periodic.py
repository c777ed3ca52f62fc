"""``periodic``: batch retraining, a rebuild from the history every N events or T seconds.

Between rebuilds the champion does *not* learn: this is the classic nightly-retrain set-up,
and the comparison shows what it costs against learning online.

Examples
--------
>>> strategy = PeriodicStrategy(every_events=1_000)
>>> strategy.learns_online
False
>>> PeriodicStrategy()
Traceback (most recent call last):
...
service.strategies.errors.StrategyConfigurationError: a periodic rebuild needs every_events or ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from service.strategies.base import Strategy, StrategyName, StrategyStatus, Trigger
from service.strategies.errors import StrategyConfigurationError

__all__ = ["PeriodicStrategy", "periodic_due", "validate_period"]


def validate_period(every_events: int | None, every_seconds: float | None) -> None:
    """Refuse a schedule that can never fire or fires on every event."""
    if every_events is None and every_seconds is None:
        raise StrategyConfigurationError("a periodic rebuild needs every_events or every_seconds")
    if every_events is not None and every_events < 1:
        raise StrategyConfigurationError(f"every_events must be at least 1, not {every_events}")
    if every_seconds is not None and every_seconds <= 0:
        raise StrategyConfigurationError(f"every_seconds must be positive, not {every_seconds}")


def periodic_due(
    status: StrategyStatus, every_events: int | None, every_seconds: float | None
) -> bool:
    """Whether N events or T seconds have passed since the last rebuild started."""
    return (every_events is not None and status.events_since_rebuild >= every_events) or (
        every_seconds is not None and status.seconds_since_rebuild >= every_seconds
    )


@dataclass(frozen=True)
class PeriodicStrategy(Strategy):
    """Rebuild every ``every_events`` labelled events or ``every_seconds``, whichever is first.

    Parameters
    ----------
    every_events
        Labelled events between two rebuilds (``None``: only by time).
    every_seconds
        Seconds between two rebuilds (``None``: only by count).
    """

    every_events: int | None = None
    every_seconds: float | None = None

    name: ClassVar[StrategyName] = "periodic"
    description: ClassVar[str] = (
        "Rebuild from the history every N events or T seconds; no online learning in between."
    )

    def __post_init__(self) -> None:
        validate_period(self.every_events, self.every_seconds)

    @property
    def learns_online(self) -> bool:
        return False

    def check(self, status: StrategyStatus) -> Trigger | None:
        return "periodic" if periodic_due(status, self.every_events, self.every_seconds) else None
