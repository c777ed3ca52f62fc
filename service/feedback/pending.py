"""The pending store: questions waiting for their labels, bounded in size and in age.

A *question* (an event with an ``id`` and no label, or a prediction ``/predict`` served with
an id) is predicted when it is read, and kept here under its id with the features it was
asked about, the answer the model gave and when. Its *answer* (``{"id", "label"}``) takes the
entry out again: the learner scores the kept answer, not a fresh one, and the model learns the
kept features, exactly as River's ``progressive_val_score(..., delay=...)`` does.

Bounds: at most ``max_size`` questions wait; a new one beyond it pushes out the oldest. A
question older than ``ttl_seconds`` (by the stream's own clock: the question's and the answer's
record timestamps) expires; an answer to it is refused as ``expired_id``. Both count as
expirations, by cause. The ids of the last ``max_size`` questions that were joined or expired
are remembered, so a late or a second answer is told apart from one nobody asked
(``expired_id``, ``duplicate_answer``, ``unknown_id``); first wins. Memory is therefore bounded
by ``2 × max_size`` ids and ``max_size`` feature sets, however many labels never come.

Everything here is plain, picklable state: the store is part of the learner's checkpoint.

Examples
--------
>>> store = PendingStore(max_size=2, ttl_seconds=60.0)
>>> for id in ("a", "b", "c"):
...     store.ask(id, Question({"x": 1.0}, answer=0.5, asked_at=0.0, source="streamed"))
>>> len(store), store.expired["capacity"]
(2, 1)
>>> store.take("a", now=1.0), store.take("b", now=1.0).answer, store.take("b", now=2.0)
(<RejectReason.EXPIRED_ID: 'expired_id'>, 0.5, <RejectReason.DUPLICATE_ANSWER: 'duplicate_answer'>)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from service.errors import DriftlineError
from service.events import FeatureValue, RejectReason
from service.feedback.defaults import DEFAULT_PENDING_MAX, DEFAULT_PENDING_TTL_SECONDS

__all__ = [
    "DEFAULT_PENDING_MAX",
    "DEFAULT_PENDING_TTL_SECONDS",
    "EXPIRY_CAUSES",
    "SOURCES",
    "PendingStore",
    "Question",
    "Source",
]


Source = Literal["served", "streamed"]
SOURCES: tuple[Source, ...] = ("served", "streamed")
"""Where a question came from: ``/predict`` with an id, or an event on the topic."""
EXPIRY_CAUSES = ("ttl", "capacity")

_JOINED, _EXPIRED = "joined", "expired"


@dataclass(slots=True)
class Question:
    """One question waiting for its label."""

    x: dict[str, FeatureValue]
    answer: Any
    """The champion's answer when asked: a classifier's probabilities (``None``: none yet), a
    regressor's number."""
    asked_at: float | None
    """The question's time (its record's timestamp, or its ``ts``); ``None``: never expires by
    age."""
    source: Source
    model_version: int = 0
    contenders: dict[int, Any] = field(default_factory=dict)
    """The answers of the challenger and of the champion on probation, by model id."""
    candidates: dict[str, Any] = field(default_factory=dict)
    """The answers of the leaderboard's candidates, by name."""


class PendingStore:
    """Questions by id, oldest first, with the recent fate of those that left."""

    def __init__(self, max_size: int, ttl_seconds: float) -> None:
        if max_size < 1:
            raise DriftlineError(f"the pending store needs a size of at least 1, not {max_size}")
        if not ttl_seconds > 0:
            raise DriftlineError(f"the pending time-to-live must be positive, not {ttl_seconds}")
        self.max_size = max_size
        self.ttl_seconds = ttl_seconds
        self._waiting: OrderedDict[str, Question] = OrderedDict()
        self._left: OrderedDict[str, str] = OrderedDict()
        self.joined: dict[Source, int] = dict.fromkeys(SOURCES, 0)
        self.expired: dict[str, int] = dict.fromkeys(EXPIRY_CAUSES, 0)

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, question_id: object) -> bool:
        return question_id in self._waiting

    def ask(self, question_id: str, question: Question) -> RejectReason | None:
        """Keep a question; ``duplicate_question`` (and nothing kept) if its id is waiting."""
        waiting = self._waiting
        if question.asked_at is not None:  # what is too old by now leaves first
            self.expire(question.asked_at)
        if question_id in waiting:
            return RejectReason.DUPLICATE_QUESTION
        self._left.pop(question_id, None)  # asked again after it left: a new question
        while len(waiting) >= self.max_size:
            oldest, _ = waiting.popitem(last=False)
            self._leave(oldest, _EXPIRED)
            self.expired["capacity"] += 1
        waiting[question_id] = question
        return None

    def peek(self, question_id: str, now: float | None) -> Question | RejectReason:
        """The question an answer at ``now`` would join (nothing changes), or why none."""
        question = self._waiting.get(question_id)
        if question is None:
            left = self._left.get(question_id)
            if left == _JOINED:
                return RejectReason.DUPLICATE_ANSWER
            return RejectReason.EXPIRED_ID if left == _EXPIRED else RejectReason.UNKNOWN_ID
        if self._too_old(question, now):
            return RejectReason.EXPIRED_ID
        return question

    def take(self, question_id: str, now: float | None) -> Question | RejectReason:
        """Join an answer at ``now`` to its question (which leaves the store), or say why not.

        A question found too old expires here, so the refusal is ``expired_id`` whether or not
        :meth:`expire` had reached it.
        """
        found = self.peek(question_id, now)
        if isinstance(found, RejectReason):
            if found is RejectReason.EXPIRED_ID and question_id in self._waiting:
                del self._waiting[question_id]
                self._leave(question_id, _EXPIRED)
                self.expired["ttl"] += 1
            return found
        del self._waiting[question_id]
        self._leave(question_id, _JOINED)
        self.joined[found.source] += 1
        return found

    def expire(self, now: float) -> int:
        """Let the oldest questions older than the time-to-live at ``now`` go; how many went.

        Questions are kept in the order asked; one asked with an earlier time behind a later one
        expires when it reaches the front, or when its answer comes (:meth:`take`).
        """
        waiting, gone = self._waiting, 0
        while waiting:
            question_id, question = next(iter(waiting.items()))
            if not self._too_old(question, now):
                break
            waiting.popitem(last=False)
            self._leave(question_id, _EXPIRED)
            gone += 1
        self.expired["ttl"] += gone
        return gone

    def _too_old(self, question: Question, now: float | None) -> bool:
        asked = question.asked_at
        return asked is not None and now is not None and now - asked > self.ttl_seconds

    def _leave(self, question_id: str, fate: str) -> None:
        left = self._left
        left[question_id] = fate
        left.move_to_end(question_id)
        while len(left) > self.max_size:
            left.popitem(last=False)
