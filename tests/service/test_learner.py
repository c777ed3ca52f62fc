"""The learner is River's progressive validation, event for event."""

from __future__ import annotations

import itertools

import pytest
from river import datasets, evaluate, metrics

from service.events import Event
from service.learner import LabelError, Learner
from service.models import MODEL_NAMES, build_model


def learn_all(learner: Learner, stream) -> None:
    for offset, (x, y) in enumerate(stream):
        learner.learn(Event(features=x, label=y), partition=0, offset=offset)


@pytest.mark.parametrize("name", ["logreg", "hoeffding", "gnb"])
def test_classifier_metrics_equal_progressive_val_score(name: str) -> None:
    stream = list(itertools.islice(datasets.Phishing(), 600))
    learner = Learner.for_model(name, rolling_window=100)
    learn_all(learner, stream)

    oracle = evaluate.progressive_val_score(
        stream, build_model(name).estimator, metrics.Accuracy() + metrics.LogLoss()
    )
    accuracy, log_loss = oracle
    values = learner.values()
    assert values.cumulative["accuracy"] == pytest.approx(accuracy.get(), abs=1e-12)
    assert values.cumulative["log_loss"] == pytest.approx(log_loss.get(), abs=1e-12)
    assert values.events_learned == len(stream)


def test_accuracy_alone_matches_river_predict_one_for_every_registered_classifier() -> None:
    stream = list(itertools.islice(datasets.Phishing(), 300))
    for name in MODEL_NAMES:
        spec = build_model(name)
        if spec.task != "classification":
            continue
        learner = Learner.for_model(name, rolling_window=50)
        learn_all(learner, stream)
        oracle = evaluate.progressive_val_score(
            stream, build_model(name).estimator, metrics.Accuracy()
        )
        assert learner.values().cumulative["accuracy"] == pytest.approx(oracle.get(), abs=1e-12), (
            name
        )


def test_regressor_metrics_equal_progressive_val_score() -> None:
    stream = list(datasets.TrumpApproval())
    learner = Learner.for_model("linreg", rolling_window=100)
    learn_all(learner, stream)
    mae, rmse = evaluate.progressive_val_score(
        stream, build_model("linreg").estimator, metrics.MAE() + metrics.RMSE()
    )
    values = learner.values()
    assert values.cumulative["mae"] == pytest.approx(mae.get(), abs=1e-12)
    assert values.cumulative["rmse"] == pytest.approx(rmse.get(), abs=1e-12)


def test_rolling_metric_covers_only_the_last_window() -> None:
    learner = Learner.for_model("logreg", rolling_window=10)
    stream = list(itertools.islice(datasets.Phishing(), 50))
    learn_all(learner, stream)
    values = learner.values()
    assert values.rolling_count == 10
    assert 0.0 <= values.rolling["accuracy"] <= 1.0


def test_unlabelled_events_move_the_position_but_teach_nothing() -> None:
    learner = Learner.for_model("logreg", rolling_window=10)
    learner.learn(Event({"x": 1.0}), partition=3, offset=41)
    assert learner.events_learned == 0
    assert learner.events_unlabelled == 1
    assert learner.positions == {3: 42}
    untrained = Learner.for_model("logreg", rolling_window=10)
    assert learner.predict({"x": 1.0}) == untrained.predict({"x": 1.0})


def test_a_text_label_for_a_regressor_is_refused_before_it_touches_the_model() -> None:
    learner = Learner.for_model("linreg", rolling_window=10)
    with pytest.raises(LabelError):
        learner.learn(Event({"x": 1.0}, label="high"), partition=0, offset=0)
    assert learner.events_learned == 0
    assert learner.positions == {}


def test_predict_never_learns() -> None:
    learner = Learner.for_model("logreg", rolling_window=10)
    learn_all(learner, itertools.islice(datasets.Phishing(), 100))
    x = next(iter(datasets.Phishing()))[0]
    first = learner.predict(x)
    for _ in range(5):
        assert learner.predict(x) == first
    assert learner.events_learned == 100
