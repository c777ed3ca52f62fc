"""Reading a manager pickled by an earlier release, whose parts were still its own fields.

Before the manager was split into parts, its schedule, decision log, CPU totals and shadow
runs were fields of its own, and later its rebuild settings and running job; a checkpoint of
either release restores into today's parts here (and :data:`~service.state.unpickle.MOVED`
maps the classes it names to their new modules).
"""

from __future__ import annotations

from typing import Any

from service.strategies.costs import CpuMeter
from service.strategies.defaults import DECISION_LOG_SIZE
from service.strategies.promotion import DecisionLog
from service.strategies.rebuild import Rebuilder
from service.strategies.schedule import RebuildSchedule, Scheduled
from service.strategies.shadow import ShadowStage

__all__ = ["upgrade_manager_state"]


def upgrade_manager_state(state: dict[str, Any]) -> None:
    """A manager pickled before its parts were split out: give it the parts, in place."""
    if "_cpu" in state:
        _split_parts(state)
    state.pop("_job")  # always pickled as None
    state["_rebuilder"] = Rebuilder(
        state.pop("_spec_builder"),
        state["task"],
        warm_start=state.pop("warm_start"),
        background=state.pop("background"),
        seed=state.pop("seed"),
        max_pairs=state.pop("shadow_events"),
    )
    state["_rebuilder"].started = state.pop("_rebuilds_started")
    for setting in ("significance", "margin", "rollback_margin"):
        del state[setting]  # the shadow stage's own


def _split_parts(state: dict[str, Any]) -> None:
    costs = CpuMeter()
    for bucket, seconds in state.pop("_cpu").items():
        costs.add(bucket, seconds)
    state["_costs"] = costs
    schedule = RebuildSchedule(0, 0.0)
    schedule.anchor_seq = state.pop("_anchor_seq")
    schedule.anchor_time = state.pop("_anchor_time")
    schedule.change_seq = state.pop("_change_seq")
    schedule.alarm_seq = state.pop("_alarm_seq")
    schedule.requested = state.pop("_requested")
    old: Any = state.pop("_scheduled")
    if old is not None:
        schedule.scheduled = Scheduled(old.trigger, old.start_seq, old.since_seq)
    state["_schedule"] = schedule
    state["_decisions"] = DecisionLog.restored(
        DECISION_LOG_SIZE, state.pop("_decisions"), state.pop("_retrains")
    )
    shadow = ShadowStage(
        state["task"],
        state["shadow_events"],
        state["significance"],
        state["margin"],
        state["rollback_margin"],
    )
    shadow.challenger = state.pop("_challenger")
    shadow.probation = state.pop("_probation")
    state["_shadow"] = shadow
