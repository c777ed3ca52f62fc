"""The learner's side of questions and answers: keep, find, join, count.

:class:`FeedbackLoop` holds the pending store, the questions counted by source and the
metrics of joined predictions, and turns what the store says into the learner's named
refusals. The learner calls it under its lock, around its one test-then-train step.

Examples
--------
>>> from service.feedback.pending import PendingStore, Question
>>> loop = FeedbackLoop("classification", PendingStore(10, 60.0))
>>> loop.ask("q", Question({"x": 1.0}, {True: 0.8, False: 0.2}, 0.0, "streamed"))
>>> question = loop.waiting("q", now=2.0)
>>> loop.joined("q", question, True, now=2.0)
>>> loop.values().joined_metrics["streamed"]["accuracy"], loop.waiting("q", now=3.0)
Traceback (most recent call last):
...
service.labels.EventError: question 'q' was answered already: the first answer won
"""

from __future__ import annotations

from service.events import Label, RejectReason
from service.feedback.joins import JoinMetrics
from service.feedback.pending import SOURCES, PendingStore, Question, Source
from service.labels import EventError
from service.models import Task
from service.readings import FeedbackValues

__all__ = ["FeedbackLoop"]

_REFUSED = {
    RejectReason.UNKNOWN_ID: "no question {id!r} was asked (or it was forgotten long ago)",
    RejectReason.EXPIRED_ID: "question {id!r} expired before its answer came",
    RejectReason.DUPLICATE_ANSWER: "question {id!r} was answered already: the first answer won",
    RejectReason.DUPLICATE_QUESTION: "question {id!r} is already waiting for its answer",
}


class FeedbackLoop:
    """Questions waiting for their labels, and what the joined ones measured; picklable."""

    def __init__(self, task: Task, pending: PendingStore) -> None:
        self.pending = pending
        self.questions: dict[Source, int] = dict.fromkeys(SOURCES, 0)
        self.joins = JoinMetrics(task)

    def ask(self, question_id: str, question: Question) -> None:
        """Keep a question; :class:`EventError` (``duplicate_question``) if its id waits."""
        refused = self.pending.ask(question_id, question)
        if refused is not None:
            raise EventError(_REFUSED[refused].format(id=question_id), refused)
        self.questions[question.source] += 1

    def waiting(self, question_id: str, now: float | None) -> Question:
        """The question an answer at ``now`` joins (it still waits); :class:`EventError` naming
        why when there is none (an expired one leaves the store)."""
        found = self.pending.peek(question_id, now)
        if isinstance(found, RejectReason):
            self.pending.take(question_id, now)
            raise EventError(_REFUSED[found].format(id=question_id), found)
        return found

    def joined(self, question_id: str, question: Question, label: Label, now: float | None) -> None:
        """The model learned the answer to ``question``: it leaves, and is counted."""
        self.pending.take(question_id, now)
        asked = question.asked_at
        delay = None if now is None or asked is None else now - asked
        self.joins.observe(question.source, label, question.answer, delay)

    def values(self) -> FeedbackValues:
        return self.joins.values(self.pending, self.questions)
