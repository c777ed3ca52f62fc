"""Shadow runs and probations: two models scored on the same events before one may serve.

A *challenger* (a rebuilt or proposed model) predicts each new labelled event before learning
it, beside the champion, so every event gives a pair of errors; it first replays the backlog of
events that arrived while it was built, at most :data:`~service.strategies.defaults.
REPLAY_PER_EVENT` per new event, so a promoted model has seen every event the champion saw.
After a promotion the replaced champion is on *probation*: it shadows the new one for as many
events, and a new champion that falls behind it is rolled back.

The :class:`ShadowStage` holds the challenger and the probation, runs their steps and judges
them when they end (:mod:`~service.strategies.promotion`); it answers with :class:`Verdict` s.
What follows a verdict (a new version serves, a decision is recorded) is the manager's.

Examples
--------
>>> from river import linear_model
>>> from service.strategies.history import Labelled
>>> challenger = Challenger(2, "manual", Served(linear_model.LogisticRegression()), None, None)
>>> for seq in range(3):
...     ready = shadow_step(challenger, Labelled({"x": 1.0}, True, seq, seq), 1.0,
...                         "classification", shadow_events=3)
>>> ready, challenger.events, challenger.champion_errors, challenger.served.learned
(True, 3, [1.0, 1.0, 1.0], 3)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from service.models import Task
from service.strategies.base import Outcome, Trigger
from service.strategies.defaults import REPLAY_PER_EVENT
from service.strategies.errors import StrategyConfigurationError
from service.strategies.history import Labelled
from service.strategies.promotion import Judgement, PromotionDecision, judge, judge_probation
from service.strategies.rebuild import RebuildJob
from service.strategies.scoring import answer_error, model_answer, prediction_error, score
from service.strategies.stats import ShadowScores

__all__ = [
    "Challenger",
    "Probation",
    "Served",
    "ShadowStage",
    "Verdict",
    "challenger_from",
    "probation_step",
    "shadow_step",
]


@dataclass(slots=True)
class Served:
    """A model with the count of events it has learned, as the version store keeps it."""

    model: Any
    learned: int = 0
    learned_to_offset: int | None = None

    def learn(self, event: Labelled) -> None:
        self.model.learn_one(event.x, event.y)
        self.learned += 1
        self.learned_to_offset = event.offset


@dataclass(slots=True)
class Challenger:
    """A rebuilt model in its shadow run."""

    id: int
    trigger: Trigger
    served: Served
    first_offset: int | None
    last_offset: int | None
    champion_errors: list[float] = field(default_factory=list)
    challenger_errors: list[float] = field(default_factory=list)
    events: int = 0
    backlog: deque[tuple[Labelled, float | None]] = field(default_factory=deque)
    """Events (with the champion's error) it has yet to replay: those that arrived during a
    background rebuild and the job did not catch up with."""


@dataclass(slots=True)
class Probation:
    """The previous champion, shadowing the newly promoted one."""

    new_id: int
    trigger: Trigger
    previous_id: int
    previous: Served
    new_errors: list[float] = field(default_factory=list)
    previous_errors: list[float] = field(default_factory=list)
    events: int = 0


_NOT_ASKED: Any = object()
"""No answer kept from question time: the model predicts the event now."""


def shadow_step(
    challenger: Challenger,
    event: Labelled,
    champion: float | None,
    task: Task,
    shadow_events: int,
    asked: Any = _NOT_ASKED,
) -> bool:
    """Score and teach the challenger ``event`` (after its backlog); whether it can be judged.

    It is judged on its first ``shadow_events`` pairs, whatever the threads' timing, once it
    has caught up with the stream. ``asked`` is the challenger's answer when the event was a
    question (scored instead of a fresh prediction, as the champion's is).
    """
    challenger.backlog.append((event, champion))
    served = challenger.served
    for _ in range(min(REPLAY_PER_EVENT, len(challenger.backlog))):
        item, item_champion = challenger.backlog.popleft()
        if item is event and asked is not _NOT_ASKED:
            error = answer_error(task, asked, item.y)
        else:
            error = prediction_error(task, served.model, item.x, item.y)
        paired = len(challenger.champion_errors) < shadow_events
        if paired and item_champion is not None and error is not None:
            challenger.champion_errors.append(item_champion)
            challenger.challenger_errors.append(error)
        served.learn(item)
        challenger.events += 1
    return challenger.events >= shadow_events and not challenger.backlog


def probation_step(
    probation: Probation,
    event: Labelled,
    champion: float | None,
    task: Task,
    learns_online: bool,
    shadow_events: int,
    asked: Any = _NOT_ASKED,
) -> bool:
    """Score the previous champion on ``event`` beside the new one; whether probation is over.

    The previous champion learns the event as the champion does (when the strategy learns
    online), so a rollback restores a model that is up to date. ``asked``: its answer when the
    event was a question.
    """
    if asked is _NOT_ASKED:
        error = prediction_error(task, probation.previous.model, event.x, event.y)
    else:
        error = answer_error(task, asked, event.y)
    if champion is not None and error is not None:
        probation.new_errors.append(champion)
        probation.previous_errors.append(error)
    if learns_online:
        probation.previous.learn(event)
    probation.events += 1
    return probation.events >= shadow_events


def challenger_from(job: RebuildJob, remaining: list[tuple[Labelled, float | None]]) -> Challenger:
    """The challenger a finished rebuild made, with the pairs it scored and its backlog."""
    return Challenger(
        job.challenger_id,
        job.trigger,
        Served(job.model, job.learned, job.learned_to_offset),
        job.first_offset,
        job.last_offset,
        [pair[0] for pair in job.pairs],
        [pair[1] for pair in job.pairs],
        job.replayed,
        deque(remaining),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """How a shadow run or a probation ended.

    ``promote`` / ``reject``: the challenger's judgement; ``roll_back``: the new champion did
    worse than the one it replaced over its probation (``keep`` is not reported).
    """

    kind: Literal["promote", "reject", "roll_back"]
    judgement: Judgement
    challenger: Challenger | None = None
    probation: Probation | None = None

    def decision(
        self,
        champion_id: int,
        restored_id: int | None,
        *,
        offset: int,
        seq: int,
        decided_at: float,
    ) -> PromotionDecision:
        """The record of this verdict, taken while ``champion_id`` served (``restored_id``:
        the version a rollback made)."""
        judgement, detail = self.judgement, ""
        if self.kind == "roll_back":
            probation = self.probation
            assert probation is not None
            challenger_id, trigger = probation.new_id, probation.trigger
            champion_id, shadow_events = probation.previous_id, len(probation.new_errors)
            detail = (
                f"version {probation.new_id} scored {judgement.challenger_score:.4f} against "
                f"{judgement.champion_score:.4f} for version {probation.previous_id} over "
                f"its probation; restored as version {restored_id}"
            )
        else:
            challenger = self.challenger
            assert challenger is not None
            challenger_id, trigger = challenger.id, challenger.trigger
            shadow_events = len(challenger.champion_errors)
        return PromotionDecision.of(
            judgement,
            challenger_id=challenger_id,
            champion_id=champion_id,
            trigger=trigger,
            outcome=_OUTCOMES[self.kind],
            shadow_events=shadow_events,
            offset=offset,
            seq=seq,
            decided_at=decided_at,
            detail=detail,
        )


_OUTCOMES: dict[str, Outcome] = {
    "promote": "promoted",
    "reject": "rejected",
    "roll_back": "rolled_back",
}


class ShadowStage:
    """The challenger in shadow and the previous champion on probation; plain, picklable state."""

    def __init__(
        self,
        task: Task,
        shadow_events: int,
        significance: float,
        margin: float,
        rollback_margin: float,
    ) -> None:
        if shadow_events < 1:
            raise StrategyConfigurationError(f"shadow_events must be >= 1, not {shadow_events}")
        if not 0.0 < significance < 1.0:
            raise StrategyConfigurationError(f"significance must be in (0, 1), not {significance}")
        if margin < 0 or rollback_margin < 0:
            raise StrategyConfigurationError("margin and rollback_margin cannot be negative")
        self.task = task
        self.shadow_events = shadow_events
        self.significance = significance
        self.margin = margin
        self.rollback_margin = rollback_margin
        self.challenger: Challenger | None = None
        self.probation: Probation | None = None

    @property
    def busy(self) -> bool:
        return self.challenger is not None or self.probation is not None

    def ask(self, x: dict[str, Any]) -> dict[int, Any]:
        """The answers of the challenger and of the previous champion to a question, by id."""
        asked = {}
        if self.challenger is not None:
            asked[self.challenger.id] = model_answer(self.task, self.challenger.served.model, x)
        if self.probation is not None:
            previous = self.probation.previous.model
            asked[self.probation.previous_id] = model_answer(self.task, previous, x)
        return asked

    def step(
        self,
        event: Labelled,
        champion: float | None,
        learns_online: bool,
        asked: dict[int, Any] | None = None,
    ) -> list[Verdict]:
        """Both runs take ``event`` (the probation first); the verdicts of those that ended.

        ``asked``: the answers :meth:`ask` kept when the event was a question; a model that
        was not running then predicts the event now.
        """
        verdicts = []
        asked = asked or {}
        probation = self.probation
        if probation is not None and probation_step(
            probation,
            event,
            champion,
            self.task,
            learns_online,
            self.shadow_events,
            asked.get(probation.previous_id, _NOT_ASKED),
        ):
            self.probation = None
            judgement = judge_probation(
                self.task, probation.new_errors, probation.previous_errors, self.rollback_margin
            )
            if not judgement.promoted:
                verdicts.append(Verdict("roll_back", judgement, probation=probation))
        challenger = self.challenger
        if challenger is not None and shadow_step(
            challenger,
            event,
            champion,
            self.task,
            self.shadow_events,
            asked.get(challenger.id, _NOT_ASKED),
        ):
            self.challenger = None
            judgement = judge(
                self.task,
                challenger.champion_errors,
                challenger.challenger_errors,
                significance=self.significance,
                margin=self.margin,
            )
            kind: Literal["promote", "reject"] = "promote" if judgement.promoted else "reject"
            verdicts.append(Verdict(kind, judgement, challenger=challenger))
        return verdicts

    def scores(self) -> ShadowScores:
        """How far the shadow run and the probation are, and how each side scores so far."""
        challenger, probation, task = self.challenger, self.probation, self.task
        return ShadowScores(
            challenger_id=challenger.id if challenger else None,
            challenger_shadow_events=challenger.events if challenger else 0,
            challenger_shadow_score=(
                score(task, challenger.challenger_errors) if challenger else math.nan
            ),
            champion_shadow_score=(
                score(task, challenger.champion_errors) if challenger else math.nan
            ),
            probation_events=probation.events if probation else 0,
            probation_score=score(task, probation.new_errors) if probation else math.nan,
            previous_champion_score=(
                score(task, probation.previous_errors) if probation else math.nan
            ),
        )
