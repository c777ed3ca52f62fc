"""The ``online`` strategy is River's progressive validation, prediction for prediction."""

from __future__ import annotations

import itertools
from functools import partial

import pytest
from river import datasets, evaluate, metrics

from service.models import build_model
from service.strategies import ModelManager, PrequentialRun, StrategyConfig
from service.strategies.history import make_history
from service.strategies.online import OnlineStrategy


def online_manager(model: str) -> ModelManager:
    return ModelManager.from_config(
        StrategyConfig(strategy="online", rebuild_background=False), model=model, seed=42
    )


@pytest.mark.parametrize("model", ["logreg", "hoeffding", "gnb"])
def test_online_classifier_equals_progressive_val_score(model: str) -> None:
    stream = list(itertools.islice(datasets.Phishing(), 800))
    manager = online_manager(model)
    run = PrequentialRun(manager, rolling_window=100)
    ours = []
    for offset, (x, y) in enumerate(stream):
        ours.append(manager.predict_proba_one(x))
        run.learn(x, y, offset)

    oracle = metrics.Accuracy() + metrics.LogLoss()
    theirs = [
        step["Prediction"]
        for step in evaluate.iter_progressive_val_score(
            stream, build_model(model, 42).estimator, oracle, yield_predictions=True
        )
    ]
    assert ours == theirs
    assert [m.get() for m in run.cumulative] == [m.get() for m in oracle]
    assert manager.stats()["model_events_learned"] == len(stream)


def test_online_regressor_equals_progressive_val_score() -> None:
    stream = list(datasets.TrumpApproval())
    manager = ModelManager(
        partial(build_model, "linreg", 42),
        OnlineStrategy(),
        make_history("decay", half_life=100),
        background=False,
    )
    run = PrequentialRun(manager, rolling_window=50)
    ours = []
    for offset, (x, y) in enumerate(stream):
        ours.append(manager.predict_one(x))
        run.learn(x, y, offset)
    oracle = metrics.MAE() + metrics.RMSE()
    theirs = [
        step["Prediction"]
        for step in evaluate.iter_progressive_val_score(
            stream, build_model("linreg", 42).estimator, oracle, yield_predictions=True
        )
    ]
    assert ours == theirs
    assert [m.get() for m in run.cumulative] == [m.get() for m in oracle]
