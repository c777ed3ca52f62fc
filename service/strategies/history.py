"""Training history: which past labelled events a rebuild learns from, and with what weight.

Three policies, all with bounded memory (a ``deque`` with a ``maxlen``):

* ``all``: every event seen, up to a cap (the oldest drop out past it);
* ``window``: the last ``size`` events, a sliding window;
* ``decay``: recent events count more, by exponentially decayed weights with a half-life in
  events (weight 1 for the newest, ½ one half-life back, …); events older than
  :data:`DECAY_HORIZON_HALF_LIVES` half-lives weigh under 1/1000 and are not kept.

``all`` and ``window`` are the same mechanism with different intents: a cap meant never to be
reached in normal use, against a window meant to forget.

How decayed weights are applied. An estimator whose ``learn_one`` takes a ``w`` parameter
(River's linear models and Hoeffding trees do; so does a pipeline ending in one, since River's
``Pipeline`` routes ``w`` to the steps that declare it) learns every kept event once with
``learn_one(x, y, w=weight)``. One that does not (``GaussianNB``; ``ARFClassifier``, which
takes ``**kwargs`` but ignores ``w``) learns a weighted sample instead: each event is kept with
probability equal to its weight, drawn from a seeded RNG, in stream order. Both give each event
the same expected influence.

Examples
--------
>>> history = make_history("window", size=3)
>>> for seq in range(5):
...     history.append(Labelled({"x": float(seq)}, seq % 2 == 0, offset=100 + seq, seq=seq))
>>> [event.offset for event in history.snapshot()]
[102, 103, 104]
>>> decay = make_history("decay", half_life=2)
>>> for seq in range(4):
...     decay.append(Labelled({"x": 1.0}, True, offset=seq, seq=seq))
>>> [round(w, 3) for _, w in decay.plan(decay.snapshot(), weighted=True, rng=random.Random(0))]
[0.354, 0.5, 0.707, 1.0]
"""

from __future__ import annotations

import inspect
import math
import random
from collections import deque
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple, get_args

from service.events import FeatureValue, Label
from service.strategies.errors import StrategyConfigurationError

__all__ = [
    "DECAY_HORIZON_HALF_LIVES",
    "DEFAULT_HALF_LIFE",
    "DEFAULT_HISTORY_CAP",
    "DEFAULT_WINDOW",
    "HISTORY_POLICIES",
    "DecayedHistory",
    "HistoryName",
    "HistoryPolicy",
    "Labelled",
    "WindowHistory",
    "accepts_weight",
    "make_history",
]

HistoryName = Literal["all", "window", "decay"]
HISTORY_POLICIES: tuple[HistoryName, ...] = get_args(HistoryName)

# Bounds memory whatever the policy: 100,000 events of a few features are a few tens of MB of
# Python dicts, and a rebuild from them takes a couple of seconds for a linear model.
DEFAULT_HISTORY_CAP = 100_000
# The sliding window: long enough to learn the demo scenarios' concept well, short enough to be
# mostly the new concept a few thousand events after a change.
DEFAULT_WINDOW = 2_000
DEFAULT_HALF_LIFE = 1_000
# Past 10 half-lives an event weighs 2**-10 < 1/1000 of the newest: it is dropped.
DECAY_HORIZON_HALF_LIVES = 10


class Labelled(NamedTuple):
    """One labelled event as the manager keeps it: a private copy of its features."""

    x: dict[str, FeatureValue]
    y: Label
    offset: int
    """The event's offset, as the caller gave it (for lineage: which data built a model)."""
    seq: int
    """Its position among the labelled events the manager has seen, from 0."""


def accepts_weight(estimator: Any) -> bool:
    """Whether ``estimator.learn_one`` uses a per-event weight ``w``.

    For a pipeline, its last step decides. A ``**kwargs`` catch-all does not count: River's
    forests take one and drop ``w``.

    >>> from river import linear_model, naive_bayes, preprocessing
    >>> accepts_weight(preprocessing.StandardScaler() | linear_model.LogisticRegression())
    True
    >>> accepts_weight(naive_bayes.GaussianNB())
    False
    """
    steps = getattr(estimator, "steps", None)
    final = list(steps.values())[-1] if steps else estimator
    try:
        parameters = inspect.signature(type(final).learn_one).parameters
    except (TypeError, ValueError, AttributeError):
        return False
    return "w" in parameters and parameters["w"].kind is not inspect.Parameter.VAR_KEYWORD


class HistoryPolicy:
    """A bounded store of labelled events and the plan a rebuild follows through them."""

    def __init__(self, name: HistoryName, maxlen: int) -> None:
        self.name = name
        if maxlen < 1:
            raise StrategyConfigurationError(f"a history must hold at least 1 event, not {maxlen}")
        self._events: deque[Labelled] = deque(maxlen=maxlen)

    @property
    def maxlen(self) -> int:
        """The most events kept."""
        return self._events.maxlen or 0

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: Labelled) -> None:
        """Keep one event; the oldest goes when the history is full."""
        self._events.append(event)

    def snapshot(self, since_seq: int | None = None) -> list[Labelled]:
        """A copy of the kept events (from ``since_seq`` on), safe to read from another thread."""
        if since_seq is None:
            return list(self._events)
        return [event for event in self._events if event.seq >= since_seq]

    def plan(
        self, events: list[Labelled], *, weighted: bool, rng: random.Random
    ) -> Iterator[tuple[Labelled, float | None]]:
        """The events a rebuild learns, in order, each with its weight (``None``: unweighted)."""
        for event in events:
            yield event, None

    def empty_copy(self) -> HistoryPolicy:
        """A history with the same parameters and no events."""
        raise NotImplementedError


class WindowHistory(HistoryPolicy):
    """The last ``size`` events (``all`` is the same with a large cap)."""

    def __init__(self, size: int, name: HistoryName = "window") -> None:
        super().__init__(name, size)

    def empty_copy(self) -> WindowHistory:
        return WindowHistory(self.maxlen, self.name)


class DecayedHistory(HistoryPolicy):
    """Recent events weigh more: weight ``0.5 ** (age / half_life)``, age in events."""

    def __init__(self, half_life: int, cap: int = DEFAULT_HISTORY_CAP) -> None:
        if half_life < 1:
            raise StrategyConfigurationError(f"half_life must be at least 1 event, not {half_life}")
        super().__init__("decay", min(cap, half_life * DECAY_HORIZON_HALF_LIVES))
        self.half_life = half_life
        self._cap = cap

    def weight(self, age: int) -> float:
        """The weight of an event ``age`` events older than the newest."""
        return math.pow(0.5, age / self.half_life)

    def plan(
        self, events: list[Labelled], *, weighted: bool, rng: random.Random
    ) -> Iterator[tuple[Labelled, float | None]]:
        if not events:
            return
        newest = events[-1].seq
        for event in events:
            w = self.weight(newest - event.seq)
            if weighted:
                yield event, w
            elif rng.random() < w:
                yield event, None

    def empty_copy(self) -> DecayedHistory:
        return DecayedHistory(self.half_life, self._cap)


def make_history(
    name: HistoryName,
    *,
    size: int = DEFAULT_WINDOW,
    cap: int = DEFAULT_HISTORY_CAP,
    half_life: int = DEFAULT_HALF_LIFE,
) -> HistoryPolicy:
    """Build a history policy by name: ``all`` (up to ``cap``), ``window`` (``size``), ``decay``."""
    if name == "all":
        return WindowHistory(cap, name="all")
    if name == "window":
        return WindowHistory(size)
    if name == "decay":
        return DecayedHistory(half_life, cap)
    raise StrategyConfigurationError(
        f"unknown history policy {name!r}; choose from: {', '.join(HISTORY_POLICIES)}"
    )
