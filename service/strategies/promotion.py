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

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from service.models import Task
from service.strategies.base import Outcome, Trigger
from service.strategies.scoring import score

__all__ = [
    "MCNEMAR_EXACT_BELOW",
    "Judgement",
    "PromotionDecision",
    "judge",
    "mcnemar",
    "wilcoxon_signed_rank",
    "worse_by",
]

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


@dataclass(frozen=True, slots=True)
class Judgement:
    """The result of :func:`judge`."""

    promoted: bool
    champion_score: float
    challenger_score: float
    statistic: float
    p_value: float
    test: str


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
