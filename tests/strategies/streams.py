"""Seeded streams and managers shared by the strategy tests."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import partial
from typing import Any

from producer.scenarios import CONCEPT_A, CONCEPT_B, FEATURES, LinearConcept
from service.models import build_model
from service.strategies import (
    STRATEGY_NAMES,
    ModelManager,
    PrequentialRun,
    RisingErrorDetector,
    StrategyConfig,
    StrategyName,
)
from service.strategies.history import make_history
from service.strategies.online import StaticStrategy

# Small numbers so that every strategy rebuilds, shadows and decides within a few thousand
# events, in well under a second.
SMALL = StrategyConfig(
    initial_events=100,
    rebuild_every=200,
    history_size=300,
    rebuild_collect_events=50,
    rebuild_cooldown_events=100,
    shadow_events=50,
    memory_set_size=50,
    memory_set_every=100,
    rebuild_background=False,
)


class FixedClock:
    """A clock that stands still unless moved: versions and decisions become reproducible."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def concept_events(
    concept: LinearConcept, n: int, *, seed: int, noise: float = 0.05
) -> list[tuple[dict[str, float], bool]]:
    """``n`` events of one concept: standard-normal features, ``noise`` of labels flipped."""
    rng = random.Random(f"{seed}/{concept.name}")
    events = []
    for _ in range(n):
        x = {name: rng.gauss(0.0, 1.0) for name in FEATURES}
        y = concept(x)
        events.append((x, (not y) if rng.random() < noise else y))
    return events


def small_manager(strategy: StrategyName, **update: Any) -> ModelManager:
    """A manager of ``strategy`` with the :data:`SMALL` settings (and any changes)."""
    config = SMALL.model_copy(update={"strategy": strategy, **update})
    return ModelManager.from_config(config, model="logreg", seed=7, clock=FixedClock())


def static_manager(initial_events: int, **kwargs: Any) -> ModelManager:
    """A ``static`` manager (no rebuild of its own) for gate and rollback tests."""
    return ModelManager(
        partial(build_model, "logreg", 7),
        StaticStrategy(),
        make_history("window", size=500),
        initial_events=initial_events,
        background=False,
        seed=7,
        clock=FixedClock(),
        **kwargs,
    )


def trained(concept: LinearConcept, n: int, *, seed: int) -> Any:
    """A logistic regression trained on ``n`` events of ``concept``."""
    model = build_model("logreg", 7).estimator
    for x, y in concept_events(concept, n, seed=seed):
        model.learn_one(x, y)
    return model


def feed(
    run: PrequentialRun, events: list[tuple[dict[str, Any], Any]], start: int = 0
) -> Iterator[int]:
    """Test-then-train ``events`` with offsets from ``start``; yields each offset after it."""
    for offset, (x, y) in enumerate(events, start=start):
        run.learn(x, y, offset)
        yield offset


def replay_all(
    manager: ModelManager, events: list[tuple[dict[str, Any], Any]], window: int = 200
) -> PrequentialRun:
    """Test-then-train every event, with a drift detector, as the learner would."""
    run = PrequentialRun(manager, rolling_window=window, detector=RisingErrorDetector())
    for _ in feed(run, events):
        pass
    return run


__all__ = [
    "CONCEPT_A",
    "CONCEPT_B",
    "SMALL",
    "STRATEGY_NAMES",
    "FixedClock",
    "concept_events",
    "feed",
    "replay_all",
    "small_manager",
    "static_manager",
    "trained",
]
