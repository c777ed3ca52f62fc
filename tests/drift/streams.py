"""Error and feature streams with known changes, shared by the drift tests."""

from __future__ import annotations

import functools
import random

from river import linear_model, preprocessing

from producer.scenarios import make_scenario


def bernoulli_errors(
    n: int, *, seed: int, rate: float = 0.1, change: int | None = None, after: float = 0.4
) -> list[float]:
    """A classifier's 0/1 errors at ``rate``, then at ``after`` from event ``change`` on."""
    rng = random.Random(seed)
    return [
        float(rng.random() < (after if change is not None and i >= change else rate))
        for i in range(n)
    ]


def piecewise_errors(seed: int, *segments: tuple[int, float]) -> list[float]:
    """0/1 errors over consecutive ``(length, rate)`` segments."""
    rng = random.Random(seed)
    return [float(rng.random() < rate) for length, rate in segments for _ in range(length)]


@functools.cache
def model_errors(scenario: str, *, n: int, seed: int) -> tuple[float, ...]:
    """The prequential 0/1 errors of StandardScaler | LogisticRegression on a scenario."""
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    errors = []
    for x, y in make_scenario(scenario, n=n, seed=seed).events():
        errors.append(0.0 if model.predict_one(x) == y else 1.0)
        model.learn_one(x, y)
    return tuple(errors)


def first_alarm(monitor, errors, start: int = 0) -> int | None:
    """Offset of the monitor's first alarm (not warning) at or after ``start``."""
    for offset, error in enumerate(errors):
        event = monitor.update(error, offset)
        if event is not None and not event.warning and offset >= start:
            return offset
    return None


def alarms(monitor, errors) -> list[int]:
    """Offsets of every alarm (not warning) the monitor raises on ``errors``."""
    found = []
    for offset, error in enumerate(errors):
        event = monitor.update(error, offset)
        if event is not None and not event.warning:
            found.append(offset)
    return found
