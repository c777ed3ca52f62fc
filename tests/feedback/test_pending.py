"""The pending store: first answer wins, every refusal named, bounded however labels behave."""

from __future__ import annotations

import pickle

from hypothesis import given, settings
from hypothesis import strategies as st

from service.events import RejectReason
from service.feedback.pending import PendingStore, Question


def question(asked_at: float | None = 0.0) -> Question:
    return Question(
        {"x": 1.0}, answer={True: 0.9, False: 0.1}, asked_at=asked_at, source="streamed"
    )


def test_an_answer_joins_its_question_once_and_a_second_one_is_a_duplicate() -> None:
    store = PendingStore(max_size=10, ttl_seconds=60.0)
    assert store.ask("a", question()) is None
    joined = store.take("a", now=5.0)
    assert isinstance(joined, Question) and joined.answer == {True: 0.9, False: 0.1}
    assert store.take("a", now=6.0) is RejectReason.DUPLICATE_ANSWER
    assert store.joined == {"served": 0, "streamed": 1}
    assert len(store) == 0


def test_an_unknown_id_and_a_question_asked_twice_are_refused_by_reason() -> None:
    store = PendingStore(max_size=10, ttl_seconds=60.0)
    assert store.take("never", now=0.0) is RejectReason.UNKNOWN_ID
    assert store.ask("a", question()) is None
    assert store.ask("a", question(asked_at=1.0)) is RejectReason.DUPLICATE_QUESTION
    kept = store.take("a", now=2.0)
    assert isinstance(kept, Question) and kept.asked_at == 0.0  # the first question stands


def test_a_question_older_than_the_ttl_expires_and_its_answer_says_so() -> None:
    store = PendingStore(max_size=10, ttl_seconds=60.0)
    store.ask("old", question(asked_at=0.0))
    store.ask("young", question(asked_at=50.0))
    assert store.take("old", now=61.0) is RejectReason.EXPIRED_ID
    assert store.expired == {"ttl": 1, "capacity": 0}
    assert isinstance(store.take("young", now=61.0), Question)
    # A new question moves the clock: older ones leave without waiting for their answers.
    store.ask("late", question(asked_at=100.0))
    store.ask("later", question(asked_at=200.0))
    assert "late" not in store and store.expired["ttl"] == 2


def test_a_question_without_a_time_never_expires_by_age() -> None:
    store = PendingStore(max_size=10, ttl_seconds=1.0)
    store.ask("a", question(asked_at=None))
    assert isinstance(store.take("a", now=1e9), Question)


def test_past_the_size_the_oldest_question_is_pushed_out_and_its_answer_is_expired() -> None:
    store = PendingStore(max_size=2, ttl_seconds=60.0)
    for question_id in "abc":
        store.ask(question_id, question())
    assert len(store) == 2 and store.expired["capacity"] == 1
    assert store.take("a", now=0.0) is RejectReason.EXPIRED_ID


def test_the_store_pickles_with_what_it_remembers() -> None:
    store = PendingStore(max_size=3, ttl_seconds=60.0)
    store.ask("a", question())
    store.ask("b", question())
    store.take("a", now=1.0)
    restored = pickle.loads(pickle.dumps(store))
    assert restored.take("a", now=2.0) is RejectReason.DUPLICATE_ANSWER
    assert isinstance(restored.take("b", now=2.0), Question)


operations = st.lists(
    st.tuples(
        st.sampled_from(["ask", "take"]),
        st.integers(0, 40).map(str),
        st.floats(0, 1_000, allow_nan=False),
    ),
    max_size=300,
)


@settings(max_examples=200)
@given(operations)
def test_any_sequence_stays_bounded_and_every_outcome_is_named(ops: list) -> None:
    store = PendingStore(max_size=8, ttl_seconds=100.0)
    asked = joined = 0
    for op, question_id, now in ops:
        if op == "ask":
            outcome = store.ask(question_id, question(asked_at=now))
            assert outcome in (None, RejectReason.DUPLICATE_QUESTION)
            asked += outcome is None
        else:
            outcome = store.take(question_id, now)
            assert isinstance(outcome, Question) or outcome in (
                RejectReason.UNKNOWN_ID,
                RejectReason.EXPIRED_ID,
                RejectReason.DUPLICATE_ANSWER,
            )
            joined += isinstance(outcome, Question)
        assert len(store) <= 8 and len(store._left) <= 8
    # Every question asked is waiting, joined or expired: none vanished.
    assert asked == len(store) + joined + sum(store.expired.values())


def test_a_question_asked_again_after_its_first_expired_is_a_new_question() -> None:
    store = PendingStore(max_size=10, ttl_seconds=60.0)
    store.ask("a", question(asked_at=0.0))
    assert store.ask("a", question(asked_at=100.0)) is None  # the first one expired
    kept = store.take("a", now=101.0)
    assert isinstance(kept, Question) and kept.asked_at == 100.0
    assert store.expired["ttl"] == 1
