"""The manager's defaults, each with the reason for its value; settings override every one.

Kept apart from the manager so that the settings (``strategies/config.py``) can name them
without importing the machinery they configure.
"""

from __future__ import annotations

__all__ = [
    "DECISION_LOG_SIZE",
    "DEFAULT_INITIAL_EVENTS",
    "DEFAULT_KEEP_VERSIONS",
    "DEFAULT_MARGIN",
    "DEFAULT_MEMORY_EVERY",
    "DEFAULT_MEMORY_SIZE",
    "DEFAULT_ROLLBACK_MARGIN",
    "DEFAULT_SHADOW_EVENTS",
    "DEFAULT_SIGNIFICANCE",
    "MAX_REBUILD_BACKLOG",
    "REPLAY_PER_EVENT",
]

# A shadow run (and a probation) of 300 events: McNemar's test then detects a 10-point accuracy
# gap between two models at the 5% level with high power, and a drifting champion is replaced
# within seconds at the demo's 50 events/s.
DEFAULT_SHADOW_EVENTS = 300
DEFAULT_SIGNIFICANCE = 0.05
# One accuracy point (or 1% of the MAE): a challenger must be worth the switch.
DEFAULT_MARGIN = 0.01
# Two points (2% of the MAE) worse than the model it replaced, over the probation: roll back.
DEFAULT_ROLLBACK_MARGIN = 0.02
DEFAULT_KEEP_VERSIONS = 3
DEFAULT_MEMORY_SIZE = 500
# A pass costs ``memory_set_size`` predictions: 500 every 5,000 events is a tenth of a prediction
# per event, about 1 µs for a linear model (every 1,000 events would be 5 µs, a third of what
# learning online costs).
DEFAULT_MEMORY_EVERY = 5_000
# Every strategy's first model learns the first events online (for ``static``, only these).
DEFAULT_INITIAL_EVENTS = 1_000
# Decisions kept for ``decisions()``.
DECISION_LOG_SIZE = 100
# A background rebuild that falls this many events behind the stream is abandoned (``failed``).
MAX_REBUILD_BACKLOG = 100_000
# Events of its backlog a challenger replays per new event: the backlog shrinks by three per
# event, and an event never waits for more than four of the challenger's steps.
REPLAY_PER_EVENT = 4
