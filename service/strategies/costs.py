"""What each kind of the manager's work costs in CPU seconds, measured cheaply enough to keep on.

``time.thread_time()`` costs about 1.5 µs here, a tenth of a linear model's ``learn_one``: the
per-event costs (online learning, shadow and probation runs, memory scoring) are measured on
one event in :data:`CPU_SAMPLE_EVERY`, less the clock's own cost, and scaled up. Rebuilds run
whole on their own thread and are added as measured.

Examples
--------
>>> meter = CpuMeter()
>>> started = meter.start(seq=0)
>>> meter.charge("online", started)
>>> meter.add("rebuild", 0.25)
>>> meter.seconds()["rebuild"], meter.start(seq=1)
(0.25, None)
"""

from __future__ import annotations

import math
import time
from typing import Literal

__all__ = ["CPU_BUCKETS", "CPU_SAMPLE_EVERY", "CpuBucket", "CpuMeter"]

CPU_SAMPLE_EVERY = 16
CpuBucket = Literal["rebuild", "online", "shadow", "memory"]
CPU_BUCKETS: tuple[CpuBucket, ...] = ("rebuild", "online", "shadow", "memory")
_CLOCK_CALIBRATION_TRIES = 64


def _clock_cost() -> float:
    """What one ``time.thread_time()`` call adds to a measurement: the least of a few tries."""
    least = math.inf
    for _ in range(_CLOCK_CALIBRATION_TRIES):
        started = time.thread_time()
        least = min(least, time.thread_time() - started)
    return least


_CLOCK_COST = _clock_cost()


class CpuMeter:
    """CPU seconds by kind of work; picklable (it holds only the totals)."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = dict.fromkeys(CPU_BUCKETS, 0.0)

    def start(self, seq: int) -> float | None:
        """The thread clock now if event ``seq`` is one of the sampled ones, else ``None``."""
        return time.thread_time() if seq % CPU_SAMPLE_EVERY == 0 else None

    def charge(self, bucket: CpuBucket, started: float | None) -> None:
        """Add a sampled measurement begun at ``started``, scaled to every event."""
        if started is None:
            return
        spent = time.thread_time() - started - _CLOCK_COST
        self._seconds[bucket] += max(spent, 0.0) * CPU_SAMPLE_EVERY

    def add(self, bucket: CpuBucket, seconds: float) -> None:
        """Add work measured whole (a rebuild)."""
        self._seconds[bucket] += seconds

    def seconds(self) -> dict[str, float]:
        """A copy of the totals."""
        return dict(self._seconds)
