"""The mean of the last ``n`` values, at a constant cost per value.

River's ``utils.Rolling`` wraps any metric by reverting the value that leaves the window, which
costs about 2 µs per update for ``Accuracy`` or ``LogLoss``: more than a tenth of a logistic
regression's own step, paid twice per event. The learner's rolling metrics are all means of a
per-event value (right or wrong, the log loss, the absolute or squared error), so a ring of
values and their running sum does the same for about a tenth of the cost. The sum is computed
afresh once per window, so rounding cannot build up over a long stream.

>>> window = RollingMean(3)
>>> for value in (1.0, 0.0, 1.0, 1.0):
...     window.add(value)
>>> window.get(), len(window)
(0.6666666666666666, 3)
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["RollingMean"]


class RollingMean:
    """The mean of the last ``size`` values added (``nan`` before the first)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a rolling window holds at least 1 value, not {size}")
        self.size = size
        self._values: deque[float] = deque(maxlen=size)
        self._sum = 0.0
        self._until_exact = size

    def add(self, value: float) -> None:
        values = self._values
        if len(values) == self.size:
            self._sum -= values[0]
        values.append(value)
        self._sum += value
        self._until_exact -= 1
        if not self._until_exact:
            self._sum = math.fsum(values)
            self._until_exact = self.size

    def get(self) -> float:
        values = self._values
        return self._sum / len(values) if values else math.nan

    def __len__(self) -> int:
        return len(self._values)
