"""``online``: learn every labelled event, never rebuild; and ``static``, which never learns again.

``online`` is River's own way, and the manager running it is exactly River's progressive
validation (a test pins it). ``static`` is the baseline every other strategy is compared with:
the model trained once, on the initial part of the stream, then frozen.

Examples
--------
>>> OnlineStrategy().learns_online, StaticStrategy().learns_online
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from service.strategies.base import Strategy, StrategyName, StrategyStatus, Trigger

__all__ = ["OnlineStrategy", "StaticStrategy"]


@dataclass(frozen=True)
class OnlineStrategy(Strategy):
    """Learn every labelled event (``learn_one``), never rebuild."""

    name: ClassVar[StrategyName] = "online"
    description: ClassVar[str] = "Learn every labelled event; never rebuild."

    @property
    def learns_online(self) -> bool:
        return True

    @property
    def rebuilds(self) -> bool:
        return False

    def check(self, status: StrategyStatus) -> Trigger | None:
        return None


@dataclass(frozen=True)
class StaticStrategy(Strategy):
    """Train once on the initial events, then serve that model unchanged (a baseline)."""

    name: ClassVar[StrategyName] = "static"
    description: ClassVar[str] = "Train on the initial events only, then never update (baseline)."

    @property
    def learns_online(self) -> bool:
        return False

    @property
    def rebuilds(self) -> bool:
        return False

    def check(self, status: StrategyStatus) -> Trigger | None:
        return None
