"""The service's learner with the ``online`` strategy is River's progressive validation,
prediction for prediction and metric for metric."""

from __future__ import annotations

import itertools

import pytest
from river import datasets, evaluate, metrics

from service.config import Settings
from service.factory import build_learner
from service.models import build_model
from tests.strategies.streams import learn


def oracle_predictions(stream: list, model: str, metric: metrics.base.Metrics) -> list:
    """What River's own evaluation predicts for each event, updating ``metric`` as it goes."""
    return [
        step["Prediction"]
        for step in evaluate.iter_progressive_val_score(
            stream, build_model(model, 42).estimator, metric, yield_predictions=True
        )
    ]


@pytest.mark.parametrize("model", ["logreg", "hoeffding", "gnb"])
def test_online_classifier_equals_progressive_val_score(model: str) -> None:
    stream = list(itertools.islice(datasets.Phishing(), 800))
    learner = build_learner(
        Settings(strategy="online", model=model, seed=42, rebuild_background=False)
    )
    ours = []
    for offset, (x, y) in enumerate(stream):
        ours.append(learner.predict(x).probabilities)
        learn(learner, [(x, y)], start=offset)

    oracle = metrics.Accuracy() + metrics.LogLoss()
    assert ours == oracle_predictions(stream, model, oracle)
    accuracy, log_loss = oracle
    assert learner.values().cumulative == {"accuracy": accuracy.get(), "log_loss": log_loss.get()}
    assert learner.strategy_stats()["model_events_learned"] == len(stream)


def test_online_regressor_equals_progressive_val_score() -> None:
    stream = list(datasets.TrumpApproval())
    # A decayed history: what the online strategy keeps for its rebuilds never touches the model.
    learner = build_learner(
        Settings(
            strategy="online",
            model="linreg",
            seed=42,
            history_policy="decay",
            history_half_life=100,
            rebuild_background=False,
        )
    )
    ours = []
    for offset, (x, y) in enumerate(stream):
        ours.append(learner.predict(x).prediction)
        learn(learner, [(x, y)], start=offset)

    oracle = metrics.MAE() + metrics.RMSE()
    assert ours == oracle_predictions(stream, "linreg", oracle)
    mae, rmse = oracle
    assert learner.values().cumulative == {"mae": mae.get(), "rmse": rmse.get()}
