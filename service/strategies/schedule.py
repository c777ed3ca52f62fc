"""When the next rebuild starts, and which events it learns from.

The :class:`RebuildSchedule` turns the strategy's trigger into a start: a manual request is
served first; a drift or metric trigger waits for ``collect`` events after it (after the alarm,
for an alarm that came while the manager was busy) and the rebuild learns only those and later
ones; a periodic one starts at once, from the whole history. It keeps the anchors the strategy
reads: events and seconds since the last rebuild started, events since the serving model last
changed, and a pending alarm, which is never lost to a busy spell and dropped when the model it
was about is replaced.

Examples
--------
>>> from service.strategies.triggered import TriggeredStrategy
>>> schedule = RebuildSchedule(initial_events=0, now=0.0)
>>> strategy = TriggeredStrategy(on_drift=True, collect=2, cooldown=0)
>>> schedule.note_alarm(5)
>>> plan = schedule.plan(strategy, "classification", seq=5, busy=False, rolling_metric=0.9,
...                      now=0.0)
>>> plan
Scheduled(trigger='drift', start_seq=7, since_seq=5)
>>> schedule.due(6), schedule.due(7) == plan, schedule.scheduled
(None, True, None)
"""

from __future__ import annotations

from dataclasses import dataclass

from service.models import Task
from service.strategies.base import Strategy, StrategyStatus, Trigger

__all__ = ["RebuildSchedule", "Scheduled"]


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A rebuild waiting for its start (after the events a drift rebuild collects)."""

    trigger: Trigger
    start_seq: int
    since_seq: int | None


class RebuildSchedule:
    """The anchors and the pending trigger of one manager; plain, picklable state."""

    def __init__(self, initial_events: int, now: float) -> None:
        self.anchor_seq = initial_events
        self.anchor_time = now
        self.change_seq = initial_events
        self.alarm_seq: int | None = None
        self.requested = False
        self.scheduled: Scheduled | None = None

    def note_alarm(self, seq: int) -> None:
        """A concept alarm at event ``seq``: kept until the manager is free to act on it."""
        if self.alarm_seq is None:
            self.alarm_seq = seq

    def plan(
        self,
        strategy: Strategy,
        task: Task,
        *,
        seq: int,
        busy: bool,
        rolling_metric: float,
        now: float,
    ) -> Scheduled | None:
        """Ask the strategy (when nothing else runs) and schedule what it triggers."""
        if not busy and self.scheduled is None:
            trigger: Trigger | None = "manual" if self.requested else None
            if trigger is None:
                trigger = strategy.check(self._status(task, seq + 1, rolling_metric, now))
            if trigger is not None:
                self.requested = False
                self.scheduled = self._schedule(strategy, trigger, seq)
        return self.scheduled

    def due(self, seq: int) -> Scheduled | None:
        """The scheduled rebuild if it starts at event ``seq`` (and is then no longer pending)."""
        scheduled = self.scheduled
        if scheduled is None or seq < scheduled.start_seq:
            return None
        self.scheduled = None
        return scheduled

    def started(self, events_seen: int, now: float) -> None:
        """A rebuild started: periods count from here."""
        self.anchor_seq = events_seen
        self.anchor_time = now

    def served(self, events_seen: int) -> None:
        """Another model serves: the cooldown counts from here, and a pending alarm was about
        the model that has just been replaced."""
        self.change_seq = events_seen
        self.alarm_seq = None

    def _schedule(self, strategy: Strategy, trigger: Trigger, seq: int) -> Scheduled:
        collect = strategy.collect_events
        if trigger not in ("drift", "metric") or collect == 0:
            return Scheduled(trigger, seq, None)
        since = seq
        if trigger == "drift" and self.alarm_seq is not None:
            since = self.alarm_seq
            self.alarm_seq = None
        return Scheduled(trigger, max(seq, since + collect), since)

    def _status(
        self, task: Task, events_seen: int, rolling_metric: float, now: float
    ) -> StrategyStatus:
        return StrategyStatus(
            task=task,
            events_seen=events_seen,
            events_since_rebuild=events_seen - self.anchor_seq,
            seconds_since_rebuild=now - self.anchor_time,
            events_since_change=events_seen - self.change_seq,
            rolling_metric=rolling_metric,
            drift_alarm=self.alarm_seq is not None,
        )
