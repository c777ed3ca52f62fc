"""Answers on a topic of their own: kept apart in positions, merged by time, pinned in the owner.

The system test (``tests/system/test_feedback.py``) runs the two topics through the real broker;
these pin the parts without it: the learner's two position maps, the merge's rank order, the
state folder's owner, the checkpoint header and the settings.
"""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.app import open_checkpoints, restore_or_build_learner
from service.config import Settings
from service.events import Answer, Event, RejectReason
from service.ingest.ordering import PartitionMerge
from service.labels import EventError
from service.learner import Learner
from service.state.checkpoint import StateMismatchError, pickle_state
from service.state.owner import Owner

KEY = "a-feedback-topic-key-0123456789abcdef"
Record = namedtuple("Record", "partition offset timestamp name")


def test_an_answer_of_the_feedback_topic_moves_that_topics_position_only() -> None:
    learner = Learner.for_model("logreg")
    learner.learn(Event({"x": 1.0}, id="q"), 0, 41)
    learner.learn(Answer("q", True), 0, 3, feedback=True)
    assert learner.positions == {0: 42} and learner.feedback_positions == {0: 4}
    assert learner.events_learned == 1
    learner.skip(1, 9, feedback=True)  # a dead-lettered answer is passed on its own topic too
    assert learner.positions == {0: 42} and learner.feedback_positions == {0: 4, 1: 10}


@pytest.mark.parametrize(
    "event",
    [Event({"x": 1.0}, label=True), Event({"x": 1.0}, id="q"), Event({"x": 1.0})],
    ids=["labelled", "question", "unlabelled"],
)
def test_anything_but_an_answer_on_the_feedback_topic_is_refused_and_changes_nothing(
    event: Event,
) -> None:
    learner = Learner.for_model("logreg")
    before = pickle_state(learner)
    with pytest.raises(EventError) as refused:
        learner.learn(event, 0, 0, feedback=True)
    assert refused.value.reason is RejectReason.NOT_AN_ANSWER
    assert pickle_state(learner) == before


def test_a_question_comes_before_an_answer_stamped_the_same_millisecond() -> None:
    """The event topic's partitions rank first, so an answer sent right after its question
    in the same millisecond still finds it; otherwise the earlier timestamp goes first."""
    merge: PartitionMerge[Record, tuple[str, int]] = PartitionMerge(
        [("events", 0), ("events", 1), ("answers", 0)]
    )
    merge.add(("answers", 0), [Record(0, 0, 5, "answer a"), Record(0, 1, 9, "answer b")])
    merge.add(("events", 1), [Record(1, 0, 5, "question a"), Record(1, 1, 10, "question c")])
    merge.add(("events", 0), [Record(0, 0, 8, "question b")])
    order = [record.name for record in merge.drain(caught_up=lambda _: True)]
    assert order == ["question a", "answer a", "question b", "answer b", "question c"]


def test_a_state_folder_may_take_on_a_feedback_topic_but_not_change_it() -> None:
    read_none = Owner(topic="events", feedback_topic=None)
    read_answers = Owner(topic="events", feedback_topic="answers", feedback_partitions=3)
    assert read_none.conflicts(read_answers) == []
    assert read_answers.conflicts(Owner(topic="events", feedback_topic=None)) == []
    assert read_answers.conflicts(Owner(topic="events", feedback_topic="labels")) == [
        "feedback_topic 'answers' in the state folder, 'labels' now"
    ]
    fewer = Owner(topic="events", feedback_topic="answers", feedback_partitions=2)
    assert read_answers.conflicts(fewer) == [
        "3 feedback topic partitions in the state folder, 2 now"
    ]


def test_a_restart_with_another_feedback_topic_is_refused_at_start(tmp_path: Path) -> None:
    first = Settings(
        state_dir=tmp_path, checkpoint_key=KEY, topic="events", feedback_topic="answers"
    )
    store = open_checkpoints(first)
    assert store is not None
    store.claim(
        Owner(topic="events", model="logreg", task="classification", feedback_topic="answers")
    )
    learner = Learner.for_model("logreg")
    learner.learn(Event({"x": 1.0}, id="q"), 0, 0)
    store.save(pickle_state(learner), learner.positions, 0, learner.feedback_positions)
    moved = first.model_copy(update={"feedback_topic": "labels"})
    with pytest.raises(
        StateMismatchError, match="feedback_topic 'answers' in the state folder, 'labels'"
    ):
        restore_or_build_learner(moved, open_checkpoints(moved))


def test_the_feedback_positions_travel_in_the_header_and_must_match_the_state(
    tmp_path: Path,
) -> None:
    settings = Settings(
        state_dir=tmp_path, checkpoint_key=KEY, topic="events", feedback_topic="answers"
    )
    store = open_checkpoints(settings)
    assert store is not None
    learner = Learner.for_model("logreg")
    learner.learn(Event({"x": 1.0}, id="q"), 0, 0)
    learner.learn(Answer("q", False), 2, 5, feedback=True)
    good = store.save(pickle_state(learner), learner.positions, 1, learner.feedback_positions)
    assert store.load(good).feedback_positions == {2: 6}
    store.save(pickle_state(learner), learner.positions, 1, {2: 1})  # the header lies
    restored = restore_or_build_learner(settings, open_checkpoints(settings))
    assert restored.feedback_positions == {2: 6} and restored.events_learned == 1


@pytest.mark.parametrize(
    "topics",
    [
        {"topic": "a", "feedback_topic": "a"},
        {"topic": "a", "dead_letter_topic": "a"},
        {"feedback_topic": "dlq", "dead_letter_topic": "dlq"},
        {"feedback_topic": ""},
    ],
)
def test_the_topics_read_and_written_must_be_distinct(topics: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        Settings(**topics)
