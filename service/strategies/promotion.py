"""Champion/challenger: a rebuilt model serves only once it has proved better, on the same events.

A challenger runs in *shadow* for the next ``shadow_events`` labelled events: it predicts each
one before learning it (test-then-train), exactly as the champion does, so every event gives a
pair of errors from the two models. At the end of the window :func:`judge` decides.

* **Classifiers: McNemar's test** on the paired right/wrong outcomes. Only the discordant pairs
  count: ``b`` events the champion got wrong and the challenger right, ``c`` the other way
  round. Under "equally good", ``b ~ Binomial(b + c, ½)``. With fewer than
  :data:`MCNEMAR_EXACT_BELOW` discordant pairs the p-value is the exact two-sided binomial one
  (``scipy.stats.binomtest``), otherwise the chi-square one with continuity correction,
  ``(|b - c| - 1)² / (b + c)`` on one degree of freedom (``scipy.stats.chi2``); the recorded
  statistic is that chi-square value in both cases.
* **Regressors: the Wilcoxon signed-rank test** (``scipy.stats.wilcoxon``, two-sided) on the
  paired absolute errors: no normality assumption, and robust to the few huge errors a
  regressor makes right after a change.

A challenger is promoted only if the p-value is below ``significance``, it is ahead (more
accurate, or a lower MAE), and it is ahead by at least ``margin``: accuracy points for a
classifier (``0.01`` = one point), a fraction of the champion's MAE for a regressor (``0.01`` =
1% lower). A two-sided p-value with the direction checked separately is the conservative choice
(it equals a one-sided test at ``significance / 2``).

After a promotion the replaced champion stays in shadow for a *probation* of as many events:
:func:`worse_by` says whether the new champion has done worse than it by ``rollback_margin``, in
which case the manager rolls back.

Examples
--------
>>> champion = [1.0] * 30 + [0.0] * 70
>>> challenger = [0.0] * 30 + [0.0] * 65 + [1.0] * 5
>>> result = judge("classification", champion, challenger, significance=0.05, margin=0.01)
>>> result.promoted, result.champion_score, result.challenger_score, result.test
(True, 0.7, 0.95, 'mcnemar-chi2')
>>> f"{result.p_value:.1e}"
'5.0e-05'
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from service.models import Task
from service.strategies.base import OUTCOMES, Outcome, Trigger
from service.strategies.scoring import score

__all__ = [
    "MCNEMAR_EXACT_BELOW",
    "NO_JUDGEMENT",
    "REBUILD_TRIGGERS",
    "DecisionLog",
    "Judgement",
    "PromotionDecision",
    "judge",
    "judge_probation",
    "mcnemar",
    "wilcoxon_signed_rank",
    "worse_by",
]

logger = logging.getLogger(__name__)

REBUILD_TRIGGERS: tuple[Trigger, ...] = ("periodic", "drift", "metric", "manual", "leader")
"""The triggers that start a rebuild (``initial`` and ``rollback`` make versions directly)."""

# The usual rule of thumb: below 25 discordant pairs the chi-square approximation is poor and
# the exact binomial test is used instead.
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True, slots=True)
class PromotionDecision:
    """The record of one gate decision (or rollback), kept for ``decisions()``."""

    challenger_id: int
    """The model judged: a challenger, or for ``rolled_back`` the version that failed probation."""
    champion_id: int
    """The model it was compared with: the serving one, or for ``rolled_back`` the restored one."""
    trigger: Trigger
    """Why the challenger was built."""
    shadow_events: int
    """Paired events the decision rests on (K)."""
    champion_score: float
    challenger_score: float
    statistic: float
    p_value: float
    test: str
    """``mcnemar-exact``, ``mcnemar-chi2``, ``wilcoxon``, ``probation`` (a rollback) or ``none``."""
    outcome: Outcome
    offset: int | None
    """Offset of the event at which the decision was taken."""
    seq: int
    """Its position among the labelled events the manager has seen (from 0)."""
    decided_at: float
    """Wall-clock time (the manager's clock) of the decision."""
    detail: str = ""
    """Why, in a sentence, for the log and ``GET /model``."""

    @classmethod
    def of(
        cls,
        judgement: Judgement,
        *,
        challenger_id: int,
        champion_id: int,
        trigger: Trigger,
        outcome: Outcome,
        shadow_events: int,
        offset: int | None,
        seq: int,
        decided_at: float,
        detail: str = "",
    ) -> PromotionDecision:
        """The record of a decision taken on ``judgement`` (:data:`NO_JUDGEMENT`: none)."""
        return cls(
            challenger_id=challenger_id,
            champion_id=champion_id,
            trigger=trigger,
            shadow_events=shadow_events,
            champion_score=judgement.champion_score,
            challenger_score=judgement.challenger_score,
            statistic=judgement.statistic,
            p_value=judgement.p_value,
            test=judgement.test,
            outcome=outcome,
            offset=offset,
            seq=seq,
            decided_at=decided_at,
            detail=detail,
        )


class DecisionLog:
    """The last ``size`` decisions, and every rebuild counted by trigger and outcome."""

    def __init__(self, size: int) -> None:
        self._recent: deque[PromotionDecision] = deque(maxlen=size)
        self._retrains: dict[tuple[Trigger, Outcome], int] = {
            (trigger, outcome): 0 for trigger in REBUILD_TRIGGERS for outcome in OUTCOMES
        }

    @classmethod
    def restored(
        cls,
        size: int,
        recent: Sequence[PromotionDecision],
        retrains: dict[tuple[Trigger, Outcome], int],
    ) -> DecisionLog:
        """A log holding what an earlier release kept in other fields (see ``upgrade``)."""
        log = cls(size)
        log._recent.extend(recent)
        log._retrains.update(retrains)
        return log

    def record(self, decision: PromotionDecision) -> None:
        """Keep, count and log one decision."""
        self._recent.append(decision)
        if decision.outcome == "rolled_back":
            # It was counted ``promoted`` when it was; this counts what became of it.
            key: tuple[Trigger, Outcome] = (decision.trigger, "rolled_back")
            self._retrains[key] = self._retrains.get(key, 0) + 1
        elif decision.trigger in REBUILD_TRIGGERS:
            key = (decision.trigger, decision.outcome)
            self._retrains[key] = self._retrains.get(key, 0) + 1
        logger.info(
            "challenger %d (%s) %s: %.4f against %.4f, %s p=%.3g over %d events %s",
            decision.challenger_id,
            decision.trigger,
            decision.outcome,
            decision.challenger_score,
            decision.champion_score,
            decision.test,
            decision.p_value,
            decision.shadow_events,
            decision.detail,
        )

    def recent(self) -> list[PromotionDecision]:
        """The kept decisions, oldest first."""
        return list(self._recent)

    def retrains(self) -> dict[tuple[Trigger, Outcome], int]:
        """Rebuilds by (trigger, outcome); ``rolled_back`` ones were counted ``promoted`` first.

        Every pair exists, at 0 if need be (a log of an earlier release lacks newer triggers).
        """
        every = {(t, o): 0 for t in REBUILD_TRIGGERS for o in OUTCOMES}
        return {**every, **self._retrains}


@dataclass(frozen=True, slots=True)
class Judgement:
    """The result of :func:`judge`."""

    promoted: bool
    champion_score: float
    challenger_score: float
    statistic: float
    p_value: float
    test: str


NO_JUDGEMENT = Judgement(False, math.nan, math.nan, math.nan, math.nan, "none")
"""What a decision records when there was nothing to judge (a rebuild that failed)."""


def mcnemar(champion: Sequence[float], challenger: Sequence[float]) -> tuple[float, float, str]:
    """McNemar's test on paired 0/1 errors: ``(chi-square statistic, p-value, test name)``.

    >>> mcnemar([1.0, 0.0], [1.0, 0.0])
    (0.0, 1.0, 'mcnemar-exact')
    """
    b = sum(1 for a, z in zip(champion, challenger, strict=True) if a > z)
    c = sum(1 for a, z in zip(champion, challenger, strict=True) if a < z)
    discordant = b + c
    if discordant == 0:
        return 0.0, 1.0, "mcnemar-exact"
    statistic = max(abs(b - c) - 1, 0) ** 2 / discordant
    if discordant < MCNEMAR_EXACT_BELOW:
        p_value = stats.binomtest(b, discordant, 0.5, alternative="two-sided").pvalue
        return statistic, float(p_value), "mcnemar-exact"
    return statistic, float(stats.chi2.sf(statistic, 1)), "mcnemar-chi2"


def wilcoxon_signed_rank(
    champion: Sequence[float], challenger: Sequence[float]
) -> tuple[float, float, str]:
    """Wilcoxon's signed-rank test on paired absolute errors: ``(statistic, p-value, name)``.

    >>> wilcoxon_signed_rank([1.0, 2.0], [1.0, 2.0])
    (0.0, 1.0, 'wilcoxon')
    """
    differences = [a - z for a, z in zip(champion, challenger, strict=True)]
    if not any(differences):
        return 0.0, 1.0, "wilcoxon"
    result = stats.wilcoxon(differences, alternative="two-sided", zero_method="wilcox")
    return float(result.statistic), float(result.pvalue), "wilcoxon"


def _ahead(task: Task, champion_score: float, challenger_score: float, margin: float) -> bool:
    if task == "classification":
        return challenger_score > champion_score and (challenger_score - champion_score >= margin)
    return challenger_score < champion_score and (
        challenger_score <= champion_score * (1.0 - margin)
    )


def judge(
    task: Task,
    champion: Sequence[float],
    challenger: Sequence[float],
    *,
    significance: float,
    margin: float,
) -> Judgement:
    """Decide whether the challenger beats the champion on paired errors (see module docstring)."""
    champion_score = score(task, champion)
    challenger_score = score(task, challenger)
    if not champion:
        return Judgement(False, champion_score, challenger_score, math.nan, math.nan, "none")
    if task == "classification":
        statistic, p_value, test = mcnemar(champion, challenger)
    else:
        statistic, p_value, test = wilcoxon_signed_rank(champion, challenger)
    promoted = p_value < significance and _ahead(task, champion_score, challenger_score, margin)
    return Judgement(promoted, champion_score, challenger_score, statistic, p_value, test)


def worse_by(task: Task, new_score: float, old_score: float, margin: float) -> bool:
    """Whether a new champion did worse than the old one by more than ``margin``.

    Accuracy points for a classifier; a fraction of the old MAE for a regressor.

    >>> worse_by("classification", 0.80, 0.90, 0.02), worse_by("classification", 0.89, 0.90, 0.02)
    (True, False)
    >>> worse_by("regression", 1.10, 1.00, 0.05)
    True
    """
    if math.isnan(new_score) or math.isnan(old_score):
        return False
    if task == "classification":
        return new_score < old_score - margin
    return new_score > old_score * (1.0 + margin)


def judge_probation(
    task: Task, new_errors: Sequence[float], previous_errors: Sequence[float], margin: float
) -> Judgement:
    """Whether a new champion keeps serving after its probation (``promoted``: it stays).

    The previous champion is the challenger here: the new one is rolled back when it did
    worse than its predecessor by more than ``margin`` (see :func:`worse_by`).
    """
    new_score = score(task, new_errors)
    old_score = score(task, previous_errors)
    stays = not worse_by(task, new_score, old_score, margin)
    return Judgement(stays, old_score, new_score, new_score - old_score, math.nan, "probation")
