"""An event is learned wholly or not at all: a refusal or a model's error changes nothing.

Nothing here compares counters before and after by hand: the whole learner (model, metrics,
counts, drift watch, strategy state) is pickled before and after, and the two must be equal.
"""

from __future__ import annotations

import pickle
import random
from typing import Any

import pytest
from river import base

from service.drift.watch import DriftConfig, DriftWatch
from service.events import Event
from service.learner import EventError, Learner
from service.models import MODEL_NAMES
from service.strategies.config import StrategyConfig, manager_from_config


def _learner(model: str) -> Learner:
    manager = manager_from_config(StrategyConfig(), model=model, seed=7)
    return Learner(manager, rolling_window=20, drift=DriftWatch(DriftConfig(), manager.task))


def _stream(task: str, n: int) -> list[Event]:
    rng = random.Random(3)
    events = []
    for _ in range(n):
        x = {"a": rng.gauss(0, 1), "b": rng.gauss(0, 1)}
        y: Any = x["a"] > 0 if task == "classification" else 2 * x["a"] + 1
        events.append(Event(x, y))
    return events


def _state(learner: Learner) -> bytes:
    return pickle.dumps(learner)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_registry_model_learns_string_features_and_refuses_a_kind_it_did_not_learn(
    model: str,
) -> None:
    learner = _learner(model)
    events = _stream(learner.task, 60)
    for offset, event in enumerate(events):
        colour = "red" if offset % 3 else "blue"
        learner.learn(Event({**event.features, "colour": colour}, event.label), 0, offset)
    assert learner.values().events_learned == 60
    before = _state(learner)
    flipped = Event({**events[0].features, "colour": 1.0}, events[0].label)
    with pytest.raises(EventError, match="'colour' is a number; the model learned strings"):
        learner.learn(flipped, partition=0, offset=60)
    assert _state(learner) == before


class _RefusesSomeEvents(base.Classifier):
    """A user's model that learns until it meets a feature named ``boom``, and then raises."""

    def __init__(self) -> None:
        self.seen = 0

    def learn_one(self, x: dict[str, Any], y: Any) -> None:
        if "boom" in x:
            raise ValueError("cannot learn boom")
        self.seen += 1

    def predict_proba_one(self, x: dict[str, Any]) -> dict[Any, float]:
        return {True: 0.6, False: 0.4}


def refusing_model() -> base.Classifier:
    return _RefusesSomeEvents()


def test_a_model_that_raises_leaves_counts_metrics_drift_and_strategy_as_they_were() -> None:
    learner = _learner(f"{__name__}:refusing_model")
    for offset, event in enumerate(_stream("classification", 40)):
        learner.learn(event, partition=0, offset=offset)
    before = _state(learner)
    with pytest.raises(ValueError, match="boom"):
        learner.learn(Event({"a": 1.0, "boom": 1.0}, True), partition=0, offset=40)
    assert _state(learner) == before
    learner.learn(Event({"a": 1.0}, True), partition=0, offset=41)
    assert learner.values().events_learned == 41
    assert learner.strategy_stats()["events_seen"] == 41
