"""Candidates learn the live stream test-then-train, each measured as River measures it alone.

A candidate's cumulative metrics equal ``evaluate.progressive_val_score`` of the same model on
the same events (with a delay too, through questions and answers); a candidate of another task
is refused at start; candidates pickle with the learner and go on exactly; the budget pauses
the costliest; a candidate whose model raises is paused and the serving model learns on.
"""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import pytest
from fastapi.testclient import TestClient
from river import base, datasets, evaluate, metrics, stream

from service.app import create_app
from service.config import Settings
from service.errors import DriftlineError
from service.events import Answer, Event
from service.factory import build_learner
from service.models import build_model

PHISHING = [(dict(x), y) for x, y in itertools.islice(datasets.Phishing(), 1_000)]
CANDIDATES = ["pa", "hoeffding", "nochange"]


def river_alone(name: str, events: list, delay: int | None = None) -> metrics.base.Metrics:
    metric = metrics.Accuracy() + metrics.LogLoss()
    evaluate.progressive_val_score(events, build_model(name).estimator, metric, delay=delay)
    return metric


def test_each_candidate_measures_what_river_measures_for_that_model_alone() -> None:
    learner = build_learner(Settings(model="logreg", candidates=CANDIDATES))
    for offset, (x, y) in enumerate(PHISHING):
        learner.learn(Event(x, label=y), 0, offset)
    rows = {row.name: row for row in learner.leaderboard()}
    for name in CANDIDATES:
        expected = river_alone(name, PHISHING)
        accuracy, log_loss = (m.get() for m in expected)
        assert rows[name].cumulative["accuracy"] == pytest.approx(accuracy, abs=1e-12), name
        assert rows[name].cumulative["log_loss"] == pytest.approx(log_loss, abs=1e-12), name
        assert rows[name].events_learned == len(PHISHING)


def test_with_delayed_labels_each_candidate_is_scored_on_its_answer_at_question_time() -> None:
    learner = build_learner(Settings(model="logreg", candidates=["pa", "hoeffding"]))
    qa = stream.simulate_qa(PHISHING, moment=None, delay=25)
    for offset, (i, x, y) in enumerate(qa):
        learner.learn(Event(x, id=str(i)) if y is None else Answer(str(i), y), 0, offset)
    rows = {row.name: row for row in learner.leaderboard()}
    for name in ("pa", "hoeffding"):
        expected = river_alone(name, PHISHING, delay=25)
        assert rows[name].cumulative["accuracy"] == pytest.approx(expected[0].get(), abs=1e-12)


def test_a_candidate_of_another_task_is_refused_at_start() -> None:
    with pytest.raises(DriftlineError, match="'linreg' is a regression model"):
        build_learner(Settings(model="logreg", candidates=["linreg"]))


def test_candidates_pickle_with_the_learner_and_go_on_exactly() -> None:
    learner = build_learner(Settings(model="logreg", candidates=CANDIDATES))
    for offset, (x, y) in enumerate(PHISHING[:500]):
        learner.learn(Event(x, label=y), 0, offset)
    restored = pickle.loads(pickle.dumps(learner))
    for target in (learner, restored):
        for offset, (x, y) in enumerate(PHISHING[500:], 500):
            target.learn(Event(x, label=y), 0, offset)
    strip = [(r.name, r.rank, r.cumulative, r.rolling, r.agreement) for r in learner.leaderboard()]
    again = [(r.name, r.rank, r.cumulative, r.rolling, r.agreement) for r in restored.leaderboard()]
    assert again == strip


def test_past_the_budget_the_costliest_candidate_is_paused_and_keeps_its_figures() -> None:
    learner = build_learner(
        Settings(model="logreg", candidates=["arf", "nochange"], candidates_budget_us=0.001)
    )
    for offset, (x, y) in enumerate(PHISHING):
        learner.learn(Event(x, label=y), 0, offset)
    rows = {row.name: row for row in learner.leaderboard()}
    assert rows["arf"].paused is not None and rows["arf"].paused.startswith("over budget")
    assert rows["arf"].events_learned == 1_000  # paused at the first check, after 1,000 events
    assert rows["nochange"].paused is None


class _Breaks(base.Classifier):
    def learn_one(self, x: dict, y: Any) -> None:
        raise ValueError("broken")

    def predict_proba_one(self, x: dict) -> dict:
        return {True: 0.5, False: 0.5}


def broken_model() -> base.Classifier:
    return _Breaks()


def test_a_candidate_whose_model_raises_is_paused_and_the_serving_model_learns_on() -> None:
    learner = build_learner(
        Settings(model="logreg", candidates=[f"{__name__}:broken_model", "nochange"])
    )
    for offset, (x, y) in enumerate(PHISHING[:50]):
        learner.learn(Event(x, label=y), 0, offset)
    rows = {row.name: row for row in learner.leaderboard()}
    assert rows[f"{__name__}:broken_model"].paused == "model error: ValueError('broken')"
    assert rows["nochange"].events_learned == 50
    assert learner.values().events_learned == 50


def test_the_leaderboard_lists_the_serving_model_then_the_candidates_best_first() -> None:
    app = create_app(Settings(model="logreg", candidates=["hoeffding", "nochange"]), consume=False)
    with TestClient(app) as client:
        learner = client.app_state["runtime"].learner
        for offset, (x, y) in enumerate(PHISHING):
            learner.learn(Event(x, label=y), 0, offset)
        body = client.get("/leaderboard").json()
        metrics_text = client.get("/metrics").text
    names = [(row["name"], row["rank"], row["serving"]) for row in body["models"]]
    assert names[0] == ("logreg", None, True)
    ranked = body["models"][1:]
    assert [row["rank"] for row in ranked] == [1, 2]
    accuracies = [row["rolling"]["accuracy"] for row in ranked]
    assert accuracies == sorted(accuracies, reverse=True)
    assert body["ranked_by"] == "accuracy"
    assert 'driftline_candidate_rank{candidate="nochange"}' in metrics_text
    assert all(row["cpu_us_per_event"] > 0 for row in body["models"])


def test_following_the_leader_serves_a_better_candidate_through_the_gate() -> None:
    from producer.scenarios import make_scenario

    settings = Settings(
        model="nochange",
        candidates=["logreg"],
        follow_leader=True,
        rolling_window=500,
        rebuild_background=False,
    )
    learner = build_learner(settings)
    for offset, (x, y) in enumerate(make_scenario("stationary", n=4_000, seed=5)):
        learner.learn(Event(x, label=y), 0, offset)
    versions, decisions = learner.versions()
    assert (decisions[0].trigger, decisions[0].outcome) == ("leader", "promoted")
    assert versions[-1].trigger == "leader" and learner.model_version > 1
    # The served model now is the logistic regression: it beats repeating the last label.
    assert learner.values().rolling["accuracy"] > 0.8
    assert learner.strategy_stats()["retrains"][("leader", "promoted")] == 1


def test_without_following_a_better_candidate_never_serves() -> None:
    from producer.scenarios import make_scenario

    learner = build_learner(Settings(model="nochange", candidates=["logreg"]))
    for offset, (x, y) in enumerate(make_scenario("stationary", n=4_000, seed=5)):
        learner.learn(Event(x, label=y), 0, offset)
    assert learner.model_version == 1
