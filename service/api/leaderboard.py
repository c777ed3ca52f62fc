"""``GET /leaderboard``: the candidate models ranked on the live stream, beside the serving one.

Each row is one model's prequential figures over the same labelled outcomes (cumulative and
rolling metrics, Cohen's kappa and kappa-temporal) and what it costs the learner thread per
event. Candidates are ranked by rolling accuracy (MAE for regressors); the serving model is
listed first, unranked, to compare with.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service.api.deps import LearnerDep, SettingsDep

__all__ = ["LeaderboardPublic", "LeaderboardRowPublic", "router"]

router = APIRouter()


class LeaderboardRowPublic(BaseModel):
    """One model on the leaderboard."""

    name: str
    rank: int | None = Field(description="1 for the best candidate; null for the serving model.")
    serving: bool
    events_learned: int
    cumulative: dict[str, float]
    rolling: dict[str, float]
    agreement: dict[str, float] = Field(
        description="Classifiers: kappa, kappa_temporal, rolling_kappa, rolling_kappa_temporal."
    )
    cpu_us_per_event: float = Field(description="CPU time of its test-then-train steps.")
    paused: str | None = Field(
        None, description="Why a candidate stopped learning (over budget, or a model error)."
    )


class LeaderboardPublic(BaseModel):
    """Answer to ``GET /leaderboard``."""

    ranked_by: str = Field(description="The rolling metric candidates are ranked by.")
    window: int
    models: list[LeaderboardRowPublic]


@router.get("/leaderboard", response_model=LeaderboardPublic)
def leaderboard(learner: LearnerDep, settings: SettingsDep) -> LeaderboardPublic:
    """The serving model, then the candidates best first."""
    values = learner.values()
    online = learner.strategy_stats()["cpu_seconds"].get("online", 0.0)
    serving = LeaderboardRowPublic(
        name=settings.model,
        rank=None,
        serving=True,
        events_learned=values.events_learned,
        cumulative=values.cumulative,
        rolling=values.rolling,
        agreement=values.agreement,
        cpu_us_per_event=online / values.events_learned * 1e6 if values.events_learned else 0.0,
    )
    rows = [
        LeaderboardRowPublic(
            name=row.name,
            rank=row.rank,
            serving=False,
            events_learned=row.events_learned,
            cumulative=row.cumulative,
            rolling=row.rolling,
            agreement=row.agreement,
            cpu_us_per_event=row.cpu_us_per_event,
            paused=row.paused,
        )
        for row in learner.leaderboard()
    ]
    ranked_by = "accuracy" if learner.task == "classification" else "mae"
    return LeaderboardPublic(
        ranked_by=ranked_by, window=learner.rolling_window, models=[serving, *rows]
    )
