"""The strategy settings: one frozen object, mirrored field by field into the service's Settings.

Each field becomes an environment variable ``DRIFTLINE_<FIELD>`` once the service's
``Settings`` carries it (``DRIFTLINE_STRATEGY``, ``DRIFTLINE_REBUILD_EVERY``, …); the model and
its seed are the service's own ``DRIFTLINE_MODEL`` and ``DRIFTLINE_SEED``. Parameters a strategy
does not use are ignored by it (``rebuild_every`` means nothing to ``triggered``).

Examples
--------
>>> config = StrategyConfig(strategy="hybrid", rebuild_every=5_000, rebuild_background=False)
>>> manager = manager_from_config(config, model="logreg", seed=7)
>>> manager.strategy.every_events, manager.strategy.on_drift, manager.strategy.collect
(5000, True, 300)
>>> manager.history.name, manager.history.maxlen
('window', 2000)
>>> StrategyConfig(strategy="sometimes")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for StrategyConfig
...
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from pydantic import BaseModel, ConfigDict, Field

from service.models import build_model
from service.strategies.base import Strategy, StrategyName
from service.strategies.defaults import (
    DEFAULT_INITIAL_EVENTS,
    DEFAULT_KEEP_VERSIONS,
    DEFAULT_MARGIN,
    DEFAULT_MEMORY_EVERY,
    DEFAULT_MEMORY_SIZE,
    DEFAULT_ROLLBACK_MARGIN,
    DEFAULT_SHADOW_EVENTS,
    DEFAULT_SIGNIFICANCE,
)
from service.strategies.history import (
    DEFAULT_HALF_LIFE,
    DEFAULT_HISTORY_CAP,
    DEFAULT_WINDOW,
    HistoryName,
    make_history,
)
from service.strategies.hybrid import HybridStrategy
from service.strategies.manager import ModelManager
from service.strategies.online import OnlineStrategy, StaticStrategy
from service.strategies.periodic import PeriodicStrategy
from service.strategies.triggered import DEFAULT_COLLECT, DEFAULT_COOLDOWN, TriggeredStrategy

__all__ = [
    "DEFAULT_REBUILD_EVERY",
    "STRATEGY_CLASSES",
    "StrategyConfig",
    "make_strategy",
    "manager_from_config",
]

# Rebuild period in events: the sliding window's length, so that consecutive periodic rebuilds
# learn from disjoint data.
DEFAULT_REBUILD_EVERY = DEFAULT_WINDOW

STRATEGY_CLASSES: dict[StrategyName, type[Strategy]] = {
    "online": OnlineStrategy,
    "static": StaticStrategy,
    "periodic": PeriodicStrategy,
    "triggered": TriggeredStrategy,
    "hybrid": HybridStrategy,
}


class StrategyConfig(BaseModel):
    """How the serving model is kept fresh: the strategy and every knob of the manager."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: StrategyName = Field(
        "online",
        description="Retraining strategy: online, static, periodic, triggered or hybrid.",
    )
    history_policy: HistoryName = Field(
        "window",
        description="Training history of a rebuild: all (up to the cap), window or decay.",
    )
    history_size: int = Field(
        DEFAULT_WINDOW, ge=1, description="Events in the sliding window (history=window)."
    )
    history_cap: int = Field(
        DEFAULT_HISTORY_CAP,
        ge=1,
        description="Most events any history keeps (history=all and decay).",
    )
    history_half_life: int = Field(
        DEFAULT_HALF_LIFE,
        ge=1,
        description="Half-life in events of the decayed weights (history=decay).",
    )
    rebuild_every: int | None = Field(
        DEFAULT_REBUILD_EVERY,
        ge=1,
        description="Periodic rebuild every N labelled events (periodic, hybrid); none: never.",
    )
    rebuild_every_s: float | None = Field(
        None,
        gt=0,
        description="Periodic rebuild every T seconds (periodic, hybrid); none: never.",
    )
    rebuild_on_drift: bool = Field(
        True, description="Rebuild on a concept drift alarm (triggered, hybrid)."
    )
    rebuild_metric_threshold: float | None = Field(
        None,
        description=(
            "Rebuild when the rolling accuracy falls below (MAE rises above) this value "
            "(triggered, hybrid); none: never."
        ),
    )
    rebuild_collect_events: int = Field(
        DEFAULT_COLLECT,
        ge=0,
        description="Events gathered after a drift or metric trigger; the rebuild learns them.",
    )
    rebuild_cooldown_events: int = Field(
        DEFAULT_COOLDOWN,
        ge=0,
        description="Events after a decision during which drift and metric triggers are ignored.",
    )
    triggered_learns_online: bool = Field(
        False, description="Whether the triggered strategy's champion also learns every event."
    )
    rebuild_warm_start: bool = Field(
        False, description="Rebuild from a copy of the champion instead of a fresh model."
    )
    initial_events: int = Field(
        DEFAULT_INITIAL_EVENTS,
        ge=0,
        description="Events the first model learns online before the strategy takes over.",
    )
    shadow_events: int = Field(
        DEFAULT_SHADOW_EVENTS,
        ge=1,
        description="Events a challenger is shadowed on before the gate decides (and probation).",
    )
    promotion_significance: float = Field(
        DEFAULT_SIGNIFICANCE,
        gt=0,
        lt=1,
        description="p-value below which the gate may promote (McNemar, Wilcoxon).",
    )
    promotion_margin: float = Field(
        DEFAULT_MARGIN,
        ge=0,
        description="Lead a challenger needs: accuracy points, or a fraction of the MAE.",
    )
    rollback_margin: float = Field(
        DEFAULT_ROLLBACK_MARGIN,
        ge=0,
        description="Lag behind its predecessor during probation that rolls a new model back.",
    )
    keep_versions: int = Field(
        DEFAULT_KEEP_VERSIONS,
        ge=1,
        description="Model versions kept for rollback, the serving one included.",
    )
    memory_set_size: int = Field(
        DEFAULT_MEMORY_SIZE,
        ge=0,
        description="Events in the memory set the serving model is scored on (0: off).",
    )
    memory_set_every: int = Field(
        DEFAULT_MEMORY_EVERY, ge=1, description="Events between two memory-set scores."
    )
    rebuild_background: bool = Field(
        True, description="Rebuild in a background thread (false: inline, deterministic)."
    )


def make_strategy(config: StrategyConfig) -> Strategy:
    """The strategy object a config names, with the parameters that strategy uses."""
    if config.strategy == "online":
        return OnlineStrategy()
    if config.strategy == "static":
        return StaticStrategy()
    if config.strategy == "periodic":
        return PeriodicStrategy(config.rebuild_every, config.rebuild_every_s)
    if config.strategy == "triggered":
        return TriggeredStrategy(
            on_drift=config.rebuild_on_drift,
            metric_threshold=config.rebuild_metric_threshold,
            collect=config.rebuild_collect_events,
            cooldown=config.rebuild_cooldown_events,
            learn_online=config.triggered_learns_online,
        )
    return HybridStrategy(
        every_events=config.rebuild_every,
        every_seconds=config.rebuild_every_s,
        on_drift=config.rebuild_on_drift,
        metric_threshold=config.rebuild_metric_threshold,
        collect=config.rebuild_collect_events,
        cooldown=config.rebuild_cooldown_events,
    )


def manager_from_config(
    config: StrategyConfig,
    *,
    model: str = "logreg",
    seed: int = 42,
    clock: Callable[[], float] = time.time,
) -> ModelManager:
    """Build the :class:`ModelManager` a config describes, for a registry model name."""
    return ModelManager(
        partial(build_model, model, seed),
        make_strategy(config),
        make_history(
            config.history_policy,
            size=config.history_size,
            cap=config.history_cap,
            half_life=config.history_half_life,
        ),
        shadow_events=config.shadow_events,
        significance=config.promotion_significance,
        margin=config.promotion_margin,
        rollback_margin=config.rollback_margin,
        keep_versions=config.keep_versions,
        memory_size=config.memory_set_size,
        memory_every=config.memory_set_every,
        initial_events=config.initial_events,
        warm_start=config.rebuild_warm_start,
        background=config.rebuild_background,
        seed=seed,
        clock=clock,
    )
