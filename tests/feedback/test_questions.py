"""The learner's side of questions and answers: the kept prediction is the one scored.

An answer is scored with the prediction made when its question was read (or the one
``/predict`` served), never a fresh one, and the model then learns the kept features; a bad
answer is refused by reason and changes nothing; with questions in flight the learner
pickles and goes on exactly; and the gate, the drift watch and triggered rebuilds act on
joined outcomes.
"""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from river import linear_model

from producer.scenarios import make_scenario
from service.config import Settings
from service.drift.watch import DriftConfig, DriftWatch
from service.events import Answer, Event, RejectReason, ServedPrediction
from service.factory import build_learner
from service.learner import EventError, LabelError, Learner
from service.strategies.config import StrategyConfig


def taught(n: int = 50) -> Learner:
    learner = Learner.for_model("logreg", rolling_window=20)
    for offset in range(n):
        x = 1.0 if offset % 2 else -1.0
        learner.learn(Event({"x": x}, label=x > 0), 0, offset)
    return learner


def test_an_answer_is_scored_with_the_prediction_made_when_its_question_was_read() -> None:
    learner = taught()
    asked = learner.predict({"x": 1.0})
    assert asked.prediction is True
    learner.learn(Event({"x": 1.0}, id="q"), 0, 50)
    # Taught the opposite meanwhile: a fresh prediction would now say False.
    for offset in range(51, 400):
        learner.learn(Event({"x": 1.0}, label=False), 0, offset)
    assert learner.predict({"x": 1.0}).prediction is False
    before = learner.values()
    error = learner.learn(Answer("q", label=True), 0, 400)
    assert error == 0.0  # the kept prediction (True) was right
    after = learner.values()
    assert after.events_learned == before.events_learned + 1
    assert after.positions == {0: 401}
    joined = learner.feedback_values()
    assert joined.joined["streamed"] == 1 and joined.pending == 0
    assert joined.joined_metrics["streamed"]["accuracy"] == 1.0


def test_a_served_question_keeps_what_was_served() -> None:
    learner = taught()
    served = ServedPrediction(
        model_version=1, prediction=False, probabilities=((False, 0.8), (True, 0.2))
    )
    learner.learn(Event({"x": 1.0}, id="s", served=served), 0, 50)
    assert learner.learn(Answer("s", label=True), 0, 51) == 1.0  # served False; the truth True
    values = learner.feedback_values()
    assert values.questions == {"served": 1, "streamed": 0}
    assert values.joined_metrics["served"]["accuracy"] == 0.0


ASKED = Event({"x": 1.0}, id="q", ts=0.0)


@pytest.mark.parametrize(
    ("steps", "reason"),
    [
        ([Answer("nobody", True)], RejectReason.UNKNOWN_ID),
        (
            [Event({"x": 1.0}, id="q"), Answer("q", True), Answer("q", False)],
            RejectReason.DUPLICATE_ANSWER,
        ),
        ([Event({"x": 1.0}, id="q"), Event({"x": 2.0}, id="q")], RejectReason.DUPLICATE_QUESTION),
        (
            [Event({"x": 1.0}, id="q", ts=0.0), Answer("q", True, ts=8 * 86_400.0)],
            RejectReason.EXPIRED_ID,
        ),
    ],
    ids=["unknown", "duplicate-answer", "duplicate-question", "expired"],
)
def test_a_bad_answer_or_question_is_refused_by_reason_and_changes_no_metric(
    steps: list, reason: RejectReason
) -> None:
    learner = taught()
    *first, last = steps
    for offset, step in enumerate(first, 50):
        learner.learn(step, 0, offset)
    before = learner.values()
    with pytest.raises(EventError) as refused:
        learner.learn(last, 0, 50 + len(first))
    assert refused.value.reason is reason
    after = learner.values()
    assert (after.events_learned, after.cumulative, after.positions) == (
        before.events_learned,
        before.cumulative,
        before.positions,
    )


def test_an_answer_with_a_label_the_model_cannot_learn_leaves_its_question_waiting() -> None:
    learner = Learner.for_model("logreg", rolling_window=20, classes=(True, False))
    learner.learn(Event({"x": 1.0}, id="q"), 0, 0)
    with pytest.raises(LabelError):
        learner.learn(Answer("q", "maybe"), 0, 1)
    assert learner.feedback_values().pending == 1
    assert learner.learn(Answer("q", True), 0, 2) is not None


def test_questions_in_flight_survive_a_pickle_and_go_on_exactly() -> None:
    events = list(make_scenario("abrupt", n=1_200, position=600, seed=3))
    learner = Learner.for_model("logreg", rolling_window=100)
    messages = []
    for i, (x, _) in enumerate(events):
        messages.append(Event(x, id=str(i)))
        if i >= 30:
            messages.append(Answer(str(i - 30), events[i - 30][1]))
    cut = len(messages) // 2
    for offset, message in enumerate(messages[:cut]):
        learner.learn(message, 0, offset)
    assert learner.feedback_values().pending >= 30  # questions in flight
    restored = pickle.loads(pickle.dumps(learner))
    for target in (learner, restored):
        for offset, message in enumerate(messages[cut:], cut):
            target.learn(message, 0, offset)
    assert restored.values() == learner.values()
    assert restored.feedback_values() == learner.feedback_values()


def test_the_gate_scores_the_challenger_on_its_prediction_at_question_time() -> None:
    learner = taught()
    challenger = linear_model.LogisticRegression()
    for _ in range(200):
        challenger.learn_one({"x": 1.0}, True)
    learner.manager.propose(challenger)
    learner.learn(Event({"x": 1.0}, id="q"), 0, 50)
    for _ in range(2_000):  # the challenger changes its mind before the answer comes
        challenger.learn_one({"x": 1.0}, False)
    learner.learn(Answer("q", True), 0, 51)
    stats = learner.strategy_stats()
    assert stats["challenger_shadow_events"] == 1
    assert stats["challenger_shadow_score"] == 1.0  # it said True when asked: right


def test_drift_alarms_and_triggered_rebuilds_act_on_joined_outcomes() -> None:
    config = StrategyConfig(strategy="triggered", rebuild_background=False)
    watch = DriftWatch(DriftConfig(), "classification")
    learner = Learner.for_model("logreg", rolling_window=200, strategy=config, drift=watch)
    events = list(make_scenario("abrupt", n=6_000, position=3_000, seed=7))
    offset = 0
    for i, (x, _) in enumerate(events):
        learner.learn(Event(x, id=str(i)), 0, offset)
        offset += 1
        if i >= 20:
            learner.learn(Answer(str(i - 20), events[i - 20][1]), 0, offset)
            offset += 1
    drift = learner.drift_values(top_features=3)
    assert drift is not None and drift.alarms[("adwin", "concept")] >= 1
    retrains = learner.strategy_stats()["retrains"]
    assert sum(count for (trigger, _), count in retrains.items() if trigger == "drift") >= 1


def test_the_service_builds_its_pending_store_from_the_settings() -> None:
    learner = build_learner(Settings(pending_max=3, pending_ttl_s=10.0))
    assert (learner.feedback.pending.max_size, learner.feedback.pending.ttl_seconds) == (3, 10.0)
    for offset in range(5):
        learner.learn(Event({"x": 1.0}, id=str(offset)), 0, offset)
    values = learner.feedback_values()
    assert values.pending == 3 and values.expired["capacity"] == 2


messages = st.lists(
    st.one_of(
        st.builds(
            lambda i, x, ts: Event({"x": x}, id=str(i), ts=ts),
            st.integers(0, 12),
            st.floats(-5, 5),
            st.none() | st.floats(0, 10**6),
        ),
        st.builds(
            lambda i, y, ts: Answer(str(i), y, ts),
            st.integers(0, 12),
            st.booleans(),
            st.none() | st.floats(0, 10**6),
        ),
        st.builds(lambda x, y: Event({"x": x}, label=y), st.floats(-5, 5), st.booleans()),
    ),
    max_size=80,
)
NAMED = {
    RejectReason.UNKNOWN_ID,
    RejectReason.EXPIRED_ID,
    RejectReason.DUPLICATE_ANSWER,
    RejectReason.DUPLICATE_QUESTION,
}


@settings(max_examples=150, deadline=None)
@given(messages)
def test_any_mix_of_questions_answers_and_events_ends_in_named_outcomes(stream: list) -> None:
    learner = build_learner(Settings(pending_max=5, pending_ttl_s=1_000.0))
    immediate = 0
    for offset, message in enumerate(stream):
        try:
            learner.learn(message, 0, offset)
        except EventError as error:
            assert error.reason in NAMED
            learner.skip(0, offset)
            continue
        immediate += isinstance(message, Event) and message.label is not None
    values, feedback = learner.values(), learner.feedback_values()
    assert values.positions == ({0: len(stream)} if stream else {})
    assert values.events_learned == immediate + sum(feedback.joined.values())
    assert feedback.pending <= 5
    assert sum(feedback.questions.values()) == (
        feedback.pending + sum(feedback.joined.values()) + sum(feedback.expired.values())
    )
