"""Retraining strategies: keep the serving model fresh, prove a new one better before it serves.

One interface, several strategies, chosen by name (``DRIFTLINE_STRATEGY``):

* ``online``: learn every labelled event (River's way; the default);
* ``static``: learn the initial events, then never again (the baseline);
* ``periodic``: rebuild from the history every N events or T seconds, no online learning;
* ``triggered``: rebuild on a drift alarm or a poor rolling metric, from the events since;
* ``hybrid``: learn online *and* rebuild periodically or on a trigger.

A :class:`ModelManager` runs any of them the same way: rebuilds (inline, or in a background
thread on a copy of the history, with the events that arrive meanwhile replayed), a champion /
challenger gate with McNemar's or Wilcoxon's test, model versions with lineage, rollback (by
call, or automatic when a new model does worse during its probation), a memory set that
measures forgetting, and the CPU time each kind of work costs.

Examples
--------
>>> config = StrategyConfig(strategy="triggered", rebuild_background=False)
>>> manager = manager_from_config(config, model="logreg", seed=42)
>>> manager.version, manager.strategy.learns_online, [v.trigger for v in manager.versions()]
(1, False, ['initial'])
"""

from service.strategies.base import (
    OUTCOMES,
    STRATEGY_NAMES,
    TRIGGERS,
    Outcome,
    Strategy,
    StrategyName,
    StrategyStatus,
    Trigger,
)
from service.strategies.config import (
    STRATEGY_CLASSES,
    StrategyConfig,
    make_strategy,
    manager_from_config,
)
from service.strategies.errors import (
    StrategyConfigurationError,
    StrategyError,
    UnknownVersionError,
)
from service.strategies.history import (
    HISTORY_POLICIES,
    DecayedHistory,
    HistoryName,
    HistoryPolicy,
    Labelled,
    WindowHistory,
    accepts_weight,
    make_history,
)
from service.strategies.hybrid import HybridStrategy
from service.strategies.manager import ManagerStats, ModelManager
from service.strategies.memory import MemorySet
from service.strategies.online import OnlineStrategy, StaticStrategy
from service.strategies.periodic import PeriodicStrategy
from service.strategies.promotion import PromotionDecision, judge
from service.strategies.triggered import TriggeredStrategy
from service.strategies.versions import ModelVersion

__all__ = [
    "HISTORY_POLICIES",
    "OUTCOMES",
    "STRATEGY_CLASSES",
    "STRATEGY_NAMES",
    "TRIGGERS",
    "DecayedHistory",
    "HistoryName",
    "HistoryPolicy",
    "HybridStrategy",
    "Labelled",
    "ManagerStats",
    "MemorySet",
    "ModelManager",
    "ModelVersion",
    "OnlineStrategy",
    "Outcome",
    "PeriodicStrategy",
    "PromotionDecision",
    "StaticStrategy",
    "Strategy",
    "StrategyConfig",
    "StrategyConfigurationError",
    "StrategyError",
    "StrategyName",
    "StrategyStatus",
    "Trigger",
    "TriggeredStrategy",
    "UnknownVersionError",
    "WindowHistory",
    "accepts_weight",
    "judge",
    "make_history",
    "make_strategy",
    "manager_from_config",
]
