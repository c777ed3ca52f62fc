"""Seeded streams and learners shared by the strategy tests.

Every test drives the service's own test-then-train step: a :class:`~service.learner.Learner`
built by :func:`service.factory.build_learner` from :class:`~service.config.Settings` (the strategy
knobs are settings), fed :class:`~service.events.Event` objects at increasing offsets. There is
no second, simplified learner to drift away from the one the service runs.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from river import base

from producer.scenarios import CONCEPT_A, CONCEPT_B, FEATURES, LinearConcept
from service.config import Settings
from service.events import Event
from service.factory import build_learner
from service.learner import Learner
from service.models import build_model
from service.strategies import STRATEGY_NAMES, StrategyName

MODEL_SEED = 7
ROLLING_WINDOW = 200
# Small numbers so that every strategy rebuilds, shadows and decides within a few thousand
# events, in well under a second; rebuilds inline, so that every run is the same.
SMALL: dict[str, Any] = {
    "initial_events": 100,
    "rebuild_every": 200,
    "history_size": 300,
    "rebuild_collect_events": 50,
    "rebuild_cooldown_events": 100,
    "shadow_events": 50,
    "memory_set_size": 50,
    "memory_set_every": 100,
    "rebuild_background": False,
}
# The longest a held rebuild waits for its test to let it go: far beyond any test's run, only
# there so that a failing test cannot leave the rebuild thread waiting for ever.
_HOLD_LIMIT_S = 120.0


class FixedClock:
    """A clock that stands still unless moved: versions and decisions become reproducible."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def small_settings(strategy: StrategyName, **update: Any) -> Settings:
    """The service's settings for ``strategy`` with the :data:`SMALL` knobs (and any changes)."""
    values = {"model": "logreg", "seed": MODEL_SEED, "rolling_window": ROLLING_WINDOW, **SMALL}
    return Settings(**{**values, "strategy": strategy, **update})


def small_learner(strategy: StrategyName, **update: Any) -> Learner:
    """The service's learner of :func:`small_settings`, built as the service builds it."""
    return build_learner(small_settings(strategy, **update))


def static_learner(initial_events: int, **update: Any) -> Learner:
    """A ``static`` learner (it never rebuilds by itself), for gate and rollback tests."""
    settings = Settings(
        model="logreg",
        seed=MODEL_SEED,
        strategy="static",
        history_size=500,
        initial_events=initial_events,
        rolling_window=100,
        rebuild_background=False,
        **update,
    )
    return build_learner(settings)


def learn(
    learner: Learner, events: Iterable[tuple[dict[str, Any], Any]], start: int = 0
) -> list[float | None]:
    """Test-then-train ``events`` at offsets from ``start``, as the consumer does; the errors."""
    return [
        learner.learn(Event(x, label=y), partition=0, offset=offset)
        for offset, (x, y) in enumerate(events, start=start)
    ]


def lineage(learner: Learner) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The learner's versions and decisions without their wall-clock times, NaN as ``None``:
    what two runs over the same events must agree on, whenever they ran."""

    def plain(record: Any, clock_field: str) -> tuple[Any, ...]:
        values = dataclasses.asdict(record)
        del values[clock_field]
        return tuple(None if v != v else v for v in values.values())  # NaN != NaN

    versions, decisions = learner.versions()
    return [plain(v, "created_at") for v in versions], [plain(d, "decided_at") for d in decisions]


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


def trained(concept: LinearConcept, n: int, *, seed: int) -> Any:
    """A logistic regression trained on ``n`` events of ``concept``."""
    model = build_model("logreg", MODEL_SEED).estimator
    for x, y in concept_events(concept, n, seed=seed):
        model.learn_one(x, y)
    return model


# --- a rebuild a test can hold ------------------------------------------------------------------

_hold = {"armed": False}
_released = threading.Event()


class _WaitsBeforeLearning(base.Transformer):
    """An identity step; when ``held``, its first ``learn_one`` waits for :func:`held_rebuild`
    to end, so that the rebuild learning it is provably still running meanwhile."""

    def __init__(self, held: bool = False) -> None:
        self.held = held

    def learn_one(self, x: dict[str, Any]) -> None:
        if self.held:
            self.held = False
            if not _released.wait(_HOLD_LIMIT_S):
                raise RuntimeError("a held rebuild was never released")

    def transform_one(self, x: dict[str, Any]) -> dict[str, Any]:
        return x


def held_logreg() -> Any:
    """The registry's logistic regression behind an identity step (``DRIFTLINE_MODEL`` is
    ``tests.strategies.streams:held_logreg``): the model built inside :func:`held_rebuild` waits
    before it learns; every other one learns exactly as ``logreg`` does."""
    held, _hold["armed"] = _hold["armed"], False
    return _WaitsBeforeLearning(held) | build_model("logreg", MODEL_SEED).estimator


@contextmanager
def held_rebuild() -> Iterator[None]:
    """The next :func:`held_logreg` model built (a rebuild's) learns nothing until the block
    ends."""
    _released.clear()
    _hold["armed"] = True
    try:
        yield
    finally:
        _hold["armed"] = False
        _released.set()


__all__ = [
    "CONCEPT_A",
    "CONCEPT_B",
    "MODEL_SEED",
    "ROLLING_WINDOW",
    "SMALL",
    "STRATEGY_NAMES",
    "FixedClock",
    "concept_events",
    "held_logreg",
    "held_rebuild",
    "learn",
    "lineage",
    "small_learner",
    "small_settings",
    "static_learner",
    "trained",
]
