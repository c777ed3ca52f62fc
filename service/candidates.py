"""Candidate models on the live stream: each learns every labelled outcome test-then-train.

Which River model wins depends on the stream. ``DRIFTLINE_CANDIDATES`` lists models that learn
beside the serving one, each scored before it learns exactly as the serving model is
(:class:`~service.prequential.Prequential`: cumulative and rolling metrics, Cohen's kappa and
kappa-temporal), so ``GET /leaderboard`` ranks them on the same outcomes. For a question the
candidates answer when it is asked, and those answers are scored when its label comes.

They cost the learner thread's CPU, measured per candidate with ``time.thread_time()``. Past
``DRIFTLINE_CANDIDATES_BUDGET_US`` (all candidates together, per event, averaged over the last
:data:`BUDGET_WINDOW` events) the costliest active candidate is paused: it stops learning and
keeps its figures, marked ``over budget`` on the leaderboard. A candidate whose model raises is
paused too (``model error``); the serving model has learned the event either way. Pausing
depends on CPU time, so unlike everything else it is not reproduced exactly by a replay.

Examples
--------
>>> candidates = Candidates(["nochange", "gnb"], "classification", window=100)
>>> for i in range(200):
...     candidates.learn({"x": i % 2 + i % 7 / 10}, i % 2 == 1, asked=None)
>>> [(row.name, round(row.rolling["accuracy"], 2)) for row in candidates.ranked()]
[('gnb', 1.0), ('nochange', 0.0)]
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from service.errors import DriftlineError
from service.events import DEFAULT_MAX_MAGNITUDE, FeatureValue, Label
from service.models import Task, build_model
from service.prequential import Prequential
from service.readings import finite_answer, kept
from service.strategies.errors import StrategyError
from service.strategies.manager import ModelManager

__all__ = ["BUDGET_WINDOW", "LEADER_EVERY", "Candidate", "CandidateRow", "Candidates"]

log = logging.getLogger(__name__)

BUDGET_WINDOW = 1_000
"""Events over which the candidates' CPU per event is compared with the budget."""
LEADER_EVERY = 250
"""How often (in events) the leader is considered for serving, from this many events on."""


@dataclass(slots=True)
class Candidate:
    """One candidate model, its prequential figures and what it has cost."""

    name: str
    model: Any
    evaluation: Prequential
    events: int = 0
    cpu_seconds: float = 0.0
    paused: str | None = None
    """Why it stopped learning (``None``: it learns)."""


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """One line of the leaderboard."""

    name: str
    events_learned: int
    cumulative: dict[str, float]
    rolling: dict[str, float]
    agreement: dict[str, float]
    cpu_us_per_event: float
    paused: str | None = None
    rank: int = field(default=0)


class Candidates:
    """The candidates of one learner; plain, picklable state (part of the checkpoint)."""

    def __init__(
        self,
        names: list[str],
        task: Task,
        window: int,
        *,
        seed: int = 42,
        budget_us: float = math.inf,
        max_magnitude: float = DEFAULT_MAX_MAGNITUDE,
        follow: bool = False,
        margin: float = 0.01,
    ) -> None:
        _unique(names)
        self.task: Task = task
        self.window = window
        self.seed = seed
        self.budget_us = budget_us
        self.max_magnitude = max_magnitude
        self.follow = follow
        """Whether the leader is proposed to serve (``DRIFTLINE_FOLLOW_LEADER``)."""
        self.margin = margin
        self.members = [self._build(name) for name in names]
        self._window_cpu = 0.0
        self._window_events = 0
        self._since_leader = 0

    def _build(self, name: str) -> Candidate:
        spec = build_model(name, self.seed)
        if spec.task != self.task:
            raise DriftlineError(
                f"candidate {name!r} is a {spec.task} model; the serving model's task is "
                f"{self.task}"
            )
        return Candidate(name, spec.estimator, Prequential(self.task, self.window))

    @property
    def names(self) -> list[str]:
        return [candidate.name for candidate in self.members]

    def matching(self, names: list[str]) -> Candidates:
        """These candidates for a new list: the ones still named keep what they learned."""
        _unique(names)
        kept_members = {candidate.name: candidate for candidate in self.members}
        fresh = copy.copy(self)
        fresh.members = [kept_members.get(name) or self._build(name) for name in names]
        return fresh

    def leader(self, serving: dict[str, float]) -> Candidate | None:
        """The best active candidate, if its rolling metric beats ``serving``'s (the serving
        model's rolling values) by more than :attr:`margin` (accuracy points, or a fraction of
        the MAE), once it has learned :data:`LEADER_EVERY` events: worth a shadow run against
        the serving model, whose gate then decides on the events that follow."""
        rows = [row for row in self.ranked() if row.paused is None]
        if not rows or rows[0].events_learned < LEADER_EVERY:
            return None
        best = rows[0]
        margin = self.margin
        if self.task == "classification":
            better = best.rolling["accuracy"] > serving["accuracy"] + margin
        else:
            better = best.rolling["mae"] < serving["mae"] * (1.0 - margin)
        return next(c for c in self.members if c.name == best.name) if better else None

    def propose_leader(self, manager: ModelManager, serving: dict[str, float]) -> int | None:
        """Put a copy of a clearly better :meth:`leader` in ``manager``'s shadow stage (the
        gate decides whether it serves); the challenger's id, or ``None``."""
        leader = self.leader(serving)
        if leader is None:
            return None
        try:
            challenger_id = manager.propose(copy.deepcopy(leader.model), trigger="leader")
        except StrategyError:  # a rebuild, shadow run or probation is under way: next time
            return None
        log.info("candidate %s leads: proposed as challenger %d", leader.name, challenger_id)
        return challenger_id

    def ask(self, x: dict[str, FeatureValue]) -> dict[str, Any]:
        """The active candidates' answers to a question, kept until its label comes."""
        answers = {}
        for candidate in self.members:
            if candidate.paused is None:
                answers[candidate.name] = self._answer(candidate, x)
        return answers

    def learn(self, x: dict[str, FeatureValue], y: Label, asked: dict[str, Any] | None) -> None:
        """Every active candidate scores its answer (kept, or given now), then learns."""
        spent = 0.0
        for candidate in self.members:
            if candidate.paused is not None:
                continue
            started = time.thread_time()
            try:
                if asked is not None and candidate.name in asked:
                    answer = asked[candidate.name]  # kept when asked: "no prediction" too
                else:
                    answer = self._answer(candidate, x)
                candidate.evaluation.score(y, answer)
                candidate.model.learn_one(x, y)
            except Exception as error:  # a candidate's bug must not stop the serving model
                candidate.paused = f"model error: {error!r}"[:200]
            candidate.events += 1
            cost = time.thread_time() - started
            candidate.cpu_seconds += cost
            spent += cost
        self._window_cpu += spent
        self._window_events += 1
        self._since_leader += 1
        if self._window_events >= BUDGET_WINDOW:
            self._check_budget()

    def leader_turn(self) -> bool:
        """Whether it is time to consider the leader (every :data:`LEADER_EVERY` events since
        the last time this said so)."""
        if not self.follow or self._since_leader < LEADER_EVERY:
            return False
        self._since_leader = 0
        return True

    def ranked(self) -> list[CandidateRow]:
        """The candidates best first: by rolling accuracy (highest) or MAE (lowest)."""
        rows = [self._row(candidate) for candidate in self.members]
        key = "accuracy" if self.task == "classification" else "mae"
        sign = -1.0 if self.task == "classification" else 1.0
        rows.sort(key=lambda row: (sign * row.rolling[key], sign * row.cumulative[key]))
        return [CandidateRow(**{**_fields(row), "rank": rank}) for rank, row in enumerate(rows, 1)]

    def _answer(self, candidate: Candidate, x: dict[str, FeatureValue]) -> Any:
        return kept(finite_answer(self.task, candidate.model, x, self.max_magnitude))

    def _check_budget(self) -> None:
        per_event_us = self._window_cpu / self._window_events * 1e6
        self._window_cpu, self._window_events = 0.0, 0
        active = [candidate for candidate in self.members if candidate.paused is None]
        if per_event_us <= self.budget_us or not active:
            return
        costliest = max(active, key=lambda c: c.cpu_seconds / max(c.events, 1))
        costliest.paused = (
            f"over budget: the candidates took {per_event_us:.0f} µs per event, "
            f"the budget is {self.budget_us:.0f}"
        )

    def _row(self, candidate: Candidate) -> CandidateRow:
        evaluation = candidate.evaluation
        return CandidateRow(
            name=candidate.name,
            events_learned=candidate.events,
            cumulative=evaluation.cumulative_values(),
            rolling=evaluation.rolling_values(),
            agreement=evaluation.agreement_values(),
            cpu_us_per_event=candidate.cpu_seconds / candidate.events * 1e6
            if candidate.events
            else 0.0,
            paused=candidate.paused,
        )


def _unique(names: list[str]) -> None:
    if len(set(names)) < len(names):
        raise DriftlineError(f"a candidate is listed twice: {names}")


def _fields(row: CandidateRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in CandidateRow.__slots__}
