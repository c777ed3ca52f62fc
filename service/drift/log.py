"""What a drift monitor reports: one :class:`DriftEvent` per change, kept in a bounded log.

A data-drift evaluation also reports every variable's comparison, a :class:`FeatureDrift`
each, in one :class:`DriftReport`.

Examples
--------
>>> log = DriftLog(maxlen=2)
>>> for offset in (10, 20, 30):
...     log.append(DriftEvent("adwin", "concept", offset=offset, statistic=0.4, baseline=0.1))
>>> [event.offset for event in log.recent()], log.total
([30, 20], 3)
>>> log.recent()[0].to_dict()["baseline"]
0.1
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from service.drift.defaults import DEFAULT_LOG_SIZE

__all__ = [
    "DEFAULT_LOG_SIZE",
    "DriftEvent",
    "DriftKind",
    "DriftLog",
    "DriftReport",
    "FeatureDrift",
]

DriftKind = Literal["concept", "data", "prediction", "label"]
"""What drifted: the model's error (concept), a feature, the predictions or the labels."""


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """One drift alarm (or, with ``warning``, one warning) at a position of the stream.

    Parameters
    ----------
    detector
        The detector or rule that fired: ``"adwin"``, ``"ddm"``, ... for concept drift, the
        data-drift rule (``"psi_and_ks"``, ...) for the distributions.
    kind
        What drifted; see :data:`DriftKind`.
    offset
        The stream position passed to ``update`` or ``observe`` when the monitor fired.
    statistic
        For concept drift, the detector's estimate of the error after the change (ADWIN's mean
        error of its new window, DDM's error rate, ...); for the distributions, the PSI.
    feature
        The drifting feature for ``kind="data"``; the kind's own name for ``"prediction"`` and
        ``"label"``; ``None`` for concept drift.
    baseline
        For concept drift, the mean error before the change when the detector can tell it
        apart (ADWIN, KSWIN); ``None`` otherwise.
    warning
        A warning (the detector suspects a change) rather than an alarm.
    """

    detector: str
    kind: DriftKind
    offset: int
    statistic: float
    feature: str | None = None
    baseline: float | None = None
    warning: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view: plain types, and ``None`` where a number is not finite."""
        return {
            "detector": self.detector,
            "kind": self.kind,
            "feature": self.feature,
            "offset": self.offset,
            "statistic": _finite_or_none(self.statistic),
            "baseline": _finite_or_none(self.baseline),
            "warning": self.warning,
        }


@dataclass(frozen=True, slots=True)
class FeatureDrift:
    """One variable's comparison with its reference at one evaluation."""

    feature: str
    psi: float
    ks_statistic: float | None
    ks_pvalue: float | None
    drifting: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "feature": self.feature,
            "psi": self.psi,
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "drifting": self.drifting,
        }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """What one evaluation found: every variable's comparison, and the new drift events."""

    kind: DriftKind
    offset: int
    features: Mapping[str, FeatureDrift]
    """By variable name, in name order."""
    events: tuple[DriftEvent, ...]
    """One per variable that started drifting at this evaluation."""

    @property
    def drifting(self) -> list[str]:
        """The variables drifting now (newly or still), in name order."""
        return [name for name, result in self.features.items() if result.drifting]


class DriftLog:
    """The most recent drift events, oldest dropped first, for ``GET /drift``.

    Parameters
    ----------
    maxlen
        How many events to keep.
    """

    def __init__(self, maxlen: int = DEFAULT_LOG_SIZE) -> None:
        if maxlen < 1:
            raise ValueError(f"a drift log keeps at least 1 event, not {maxlen}")
        self._events: deque[DriftEvent] = deque(maxlen=maxlen)
        self.total = 0
        """Events ever appended, including those the log no longer holds."""

    @property
    def maxlen(self) -> int:
        """How many events the log keeps."""
        return self._events.maxlen or 0

    def append(self, event: DriftEvent) -> None:
        """Keep ``event``, dropping the oldest one if the log is full."""
        self._events.append(event)
        self.total += 1

    def extend(self, events: Iterable[DriftEvent]) -> None:
        """Keep each of ``events`` in order."""
        for event in events:
            self.append(event)

    def recent(self, n: int | None = None) -> list[DriftEvent]:
        """The ``n`` most recent events (all kept if ``None``), newest first."""
        newest_first = list(reversed(self._events))
        return newest_first if n is None else newest_first[:n]

    def to_list(self, n: int | None = None) -> list[dict[str, Any]]:
        """:meth:`recent` as JSON-ready dicts."""
        return [event.to_dict() for event in self.recent(n)]

    def __iter__(self) -> Iterator[DriftEvent]:
        """Oldest first."""
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __repr__(self) -> str:
        return f"DriftLog({len(self)}/{self.maxlen} events, {self.total} in all)"
