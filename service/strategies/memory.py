"""Forgetting, measured: the serving model's score on a uniform sample of everything seen.

The prequential metric says how well the model does on *new* events; it cannot say what the
model has forgotten. :class:`MemorySet` keeps a uniform reservoir sample of the labelled events
seen so far (Li's algorithm L, seeded: it draws random numbers only at the events it keeps, so
an event that is not kept costs one comparison), and every ``every`` events scores the serving
model on it: accuracy for a classifier, MAE for a regressor. After a recurring change, a model
that learned the new concept and forgot the old one scores about half the sample wrong.

The scoring of one pass is spread over the events that follow, a few predictions per event, so
that it never holds the learner's lock (and ``/predict``) for a whole pass; the score is that of
a model that may have learned a little during the pass.

Examples
--------
>>> from river import linear_model
>>> from service.strategies.history import Labelled
>>> memory = MemorySet(size=50, every=100, seed=1)
>>> model = linear_model.LogisticRegression()
>>> for seq in range(300):
...     x = {"x": float(seq % 2)}
...     model.learn_one(x, seq % 2 == 1)
...     memory.observe(Labelled(x, seq % 2 == 1, offset=seq, seq=seq), model, "classification")
>>> len(memory), memory.score
(50, 1.0)
"""

from __future__ import annotations

import math
import random
from typing import Any

from service.models import Task
from service.strategies.errors import StrategyConfigurationError
from service.strategies.history import Labelled
from service.strategies.scoring import prediction_error, score

__all__ = ["MemorySet"]


class MemorySet:
    """A seeded reservoir sample of labelled events, and the serving model's score on it."""

    def __init__(self, size: int, every: int, seed: int) -> None:
        if size < 0 or every < 1:
            raise StrategyConfigurationError(
                f"memory_size must be >= 0 and memory_every >= 1, not {size} and {every}"
            )
        self.size = size
        self.every = every
        self._rng = random.Random(f"{seed}/memory")
        self._sample: list[Labelled] = []
        self._seen = 0
        self._since_pass = 0
        # Predictions per event while a pass runs, so that a pass ends within ``every`` events.
        self._per_event = max(1, math.ceil(size / every))
        self._pass: list[Labelled] = []
        self._pass_errors: list[float] = []
        # Algorithm L's state: the running weight, and the count at which the next event is kept.
        self._weight = 1.0
        self._next = 0
        self.score = math.nan
        """The last complete pass's accuracy (or MAE); NaN until the first pass ends."""
        self.passes = 0

    def _skip(self) -> None:
        """Draw the next event to keep (Li 1994, algorithm L); ``1 - random()`` is never 0."""
        self._weight *= math.exp(math.log(1.0 - self._rng.random()) / self.size)
        gap = math.log(1.0 - self._rng.random()) / math.log1p(-self._weight)
        self._next = self._seen + math.floor(gap) + 1

    def __len__(self) -> int:
        return len(self._sample)

    def observe(self, event: Labelled, model: Any, task: Task) -> None:
        """Offer one event to the sample, then score a few of the current pass's events."""
        if self.size == 0:
            return
        self._seen += 1
        if len(self._sample) < self.size:
            self._sample.append(event)
            if len(self._sample) == self.size:
                self._weight = 1.0
                self._skip()
        elif self._seen == self._next:
            self._sample[self._rng.randrange(self.size)] = event
            self._skip()
        self._since_pass += 1
        if not self._pass and self._since_pass >= self.every:
            self._pass = list(self._sample)
            self._pass_errors = []
            self._since_pass = 0
        for _ in range(min(self._per_event, len(self._pass))):
            item = self._pass.pop()
            error = prediction_error(task, model, item.x, item.y)
            if error is not None:
                self._pass_errors.append(error)
            if not self._pass:
                self.score = score(task, self._pass_errors)
                self.passes += 1
