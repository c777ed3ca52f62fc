"""What the manager exports: every counter and score, read in one go under the learner's lock."""

from __future__ import annotations

from typing import TypedDict

from service.strategies.base import Outcome, StrategyName, Trigger

__all__ = ["ManagerStats", "ShadowScores"]


class ShadowScores(TypedDict):
    """The shadow run and the probation, as the shadow stage reports them."""

    challenger_id: int | None
    challenger_shadow_events: int
    challenger_shadow_score: float
    """The challenger's accuracy (MAE) over its shadow run so far; NaN when there is none."""
    champion_shadow_score: float
    """The champion's score over the same events."""
    probation_events: int
    probation_score: float
    """The newly promoted champion's score over its probation so far; NaN when none."""
    previous_champion_score: float
    """The previous champion's score over the same events."""


class ManagerStats(ShadowScores):
    """The values to export, read in one go (under the learner's lock)."""

    strategy: StrategyName
    history: str
    version: int
    events_seen: int
    """Labelled events handed to the manager."""
    model_events_learned: int
    """Labelled events the serving model has learned (its rebuild history included)."""
    rebuilds_started: int
    rebuild_running: bool
    memory_score: float
    memory_events: int
    retrains: dict[tuple[Trigger, Outcome], int]
    """Rebuilds by (trigger, outcome); ``rolled_back`` ones were counted ``promoted`` first."""
    cpu_seconds: dict[str, float]
    """CPU seconds by kind of work: ``rebuild``, ``online``, ``shadow``, ``memory``."""
