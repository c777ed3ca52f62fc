"""Data drift: compare recent features, predictions and labels with a reference window.

The reference is the first ``window`` events after the monitor starts or is :meth:`reset`
(each time the learner retrains, the new model's world becomes the reference). After it, the
recent window slides over the last ``window`` events. Every ``every`` events, once the recent
window is full, each variable's recent distribution is compared with its reference (see
:mod:`service.drift.distributions`): the PSI for every variable, and for numbers also the
two-sample Kolmogorov-Smirnov test.

Per event, :meth:`DataDriftMonitor.observe` only appends the event's feature dict to a bounded
deque; the columns are pulled out and compared at evaluation time. The monitor keeps a
reference to the dict it is given: do not mutate it afterwards.

When a variable drifts is the ``rule``; by default PSI above ``psi_threshold`` and, for a
number, a K-S p-value below ``ks_alpha / k`` (Bonferroni over the ``k`` numeric features
compared). :mod:`service.drift.distributions` explains the rules.

A variable raises one :class:`~service.drift.log.DriftEvent` when it starts drifting, and
none while it stays so; it re-arms once an evaluation finds it back under the rule.

Examples
--------
Two features; ``x`` shifts by two standard deviations at event 3,000, ``colour`` does not.

>>> import random
>>> rng = random.Random(0)
>>> monitor = DataDriftMonitor(window=1_000, every=500)
>>> for offset in range(5_000):
...     x = rng.gauss(2.0 if offset >= 3_000 else 0.0, 1.0)
...     report = monitor.observe({"x": x, "colour": rng.choice("rgb")}, offset)
...     if report is not None:
...         print(offset, report.drifting, [e.feature for e in report.events])
1999 [] []
2499 [] []
2999 [] []
3499 ['x'] ['x']
3999 ['x'] []
4499 ['x'] []
4999 ['x'] []
>>> [(f.feature, round(f.psi, 1)) for f in monitor.top_features(2)]
[('x', 4.1), ('colour', 0.0)]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal

from service.drift.defaults import (
    DEFAULT_BINS,
    DEFAULT_EVERY,
    DEFAULT_KS_ALPHA,
    DEFAULT_MAX_FEATURES,
    DEFAULT_PSI_THRESHOLD,
    DEFAULT_RULE,
    DEFAULT_TOP_CATEGORIES,
    DEFAULT_WINDOW,
)
from service.drift.distributions import (
    RULES,
    AbsentProfile,
    CategoricalProfile,
    DataDriftRule,
    Profile,
    check_comparison_settings,
    drift_verdicts,
    feature_columns,
    make_profile,
)
from service.drift.errors import DriftConfigurationError
from service.drift.log import DriftEvent, DriftKind, DriftReport, FeatureDrift
from service.models import Task

__all__ = [
    "DEFAULT_EVERY",
    "DEFAULT_KS_ALPHA",
    "DEFAULT_MAX_FEATURES",
    "DEFAULT_PSI_THRESHOLD",
    "DEFAULT_RULE",
    "DEFAULT_WINDOW",
    "RULES",
    "DataDriftMonitor",
    "DataDriftRule",
    "DistributionDriftMonitor",
    "DriftReport",
    "FeatureDrift",
]


class _WindowedDriftMonitor:
    """A reference window, a sliding recent window and the evaluation both share."""

    kind: DriftKind

    def __init__(
        self,
        *,
        window: int,
        every: int,
        psi_threshold: float,
        ks_alpha: float,
        rule: DataDriftRule,
        bins: int,
        top_categories: int,
    ) -> None:
        if window < 2 or every < 1:
            raise DriftConfigurationError(
                f"window needs at least 2 events and every at least 1, not {window}, {every}"
            )
        check_comparison_settings(
            rule=rule,
            psi_threshold=psi_threshold,
            ks_alpha=ks_alpha,
            bins=bins,
            top_categories=top_categories,
        )
        self.window = window
        self.every = every
        self.psi_threshold = psi_threshold
        self.ks_alpha = ks_alpha
        self.rule: DataDriftRule = rule
        self.bins = bins
        self.top_categories = top_categories
        self._alarms = 0
        self.reset()

    def reset(self) -> None:
        """Start a new reference with the next event, e.g. after the learner retrained.

        Drifting variables re-arm; :attr:`alarms` carries on.
        """
        # While the reference fills, ``_buffer`` is a list; after, it is the recent deque.
        self._buffer: list[Any] | deque[Any] = []
        self._countdown = self.window
        self._profiles: dict[str, Profile] | None = None
        self._drifting: set[str] = set()
        self._last: DriftReport | None = None

    def _observe(self, row: Any, offset: int) -> DriftReport | None:
        """Keep one observation (by reference); the evaluation's report when one is due."""
        self._buffer.append(row)
        self._countdown -= 1
        if self._countdown:
            return None
        return self._tick(offset)

    def _tick(self, offset: int) -> DriftReport | None:
        """Every so often: the reference is complete, or an evaluation is due."""
        if self._profiles is None:
            self._profiles = self._profile(list(self._buffer))
            self._buffer = deque(maxlen=self.window)
            self._countdown = self.window
            return None
        self._countdown = self.every
        return self.evaluate(offset)

    # -- what subclasses say about their observations --------------------------------------

    def _profile(self, rows: list[Any]) -> dict[str, Profile]:
        raise NotImplementedError

    def _columns(self, rows: Collection[Any], profiles: dict[str, Profile]) -> dict[str, list[Any]]:
        raise NotImplementedError

    # -- evaluation ------------------------------------------------------------------------

    @property
    def reference_ready(self) -> bool:
        """Whether the reference window is complete."""
        return self._profiles is not None

    def evaluate(self, offset: int) -> DriftReport | None:
        """Compare the recent window, however full, with the reference; ``None`` before both.

        :meth:`observe` calls this every ``every`` events once the recent window is full; call
        it yourself for a reading in between.
        """
        profiles = self._profiles
        if profiles is None or not self._buffer:
            return None
        columns = self._columns(self._buffer, profiles)
        comparisons = {name: profiles[name].compare(columns[name]) for name in sorted(columns)}
        verdicts = drift_verdicts(comparisons, self.rule, self.psi_threshold, self.ks_alpha)
        results: dict[str, FeatureDrift] = {}
        events: list[DriftEvent] = []
        for name, comparison in comparisons.items():
            drifting = verdicts[name]
            results[name] = FeatureDrift(
                name, comparison.psi, comparison.ks_statistic, comparison.ks_pvalue, drifting
            )
            if not drifting:
                self._drifting.discard(name)
            elif name not in self._drifting:
                self._drifting.add(name)
                events.append(DriftEvent(self.rule, self.kind, offset, comparison.psi, name))
        self._alarms += len(events)
        self._last = DriftReport(self.kind, offset, results, tuple(events))
        return self._last

    # -- reading ---------------------------------------------------------------------------

    @property
    def alarms(self) -> int:
        """Drift events raised (one per variable per episode); never decreases."""
        return self._alarms

    @property
    def drifting(self) -> frozenset[str]:
        """The variables drifting at the last evaluation."""
        return frozenset(self._drifting)

    @property
    def last_report(self) -> DriftReport | None:
        """The last evaluation's report, ``None`` before the first (or since :meth:`reset`)."""
        return self._last

    def top_features(self, k: int) -> list[FeatureDrift]:
        """The ``k`` variables with the highest PSI at the last evaluation, highest first."""
        if self._last is None:
            return []
        ranked = sorted(self._last.features.values(), key=lambda r: (-r.psi, r.feature))
        return ranked[:k]


class DataDriftMonitor(_WindowedDriftMonitor):
    """Per-feature drift of the events' features against a reference window.

    Parameters
    ----------
    window
        Events in the reference and in the recent window.
    every
        Events between two evaluations, once the recent window is full.
    psi_threshold
        PSI above which a variable has shifted.
    ks_alpha
        Family-wise significance of an evaluation's K-S tests (Bonferroni-corrected).
    rule
        When a variable counts as drifting; see :mod:`service.drift.distributions`.
    bins
        Quantile buckets of a numeric feature.
    top_categories
        Categories of a string or bool feature kept apart; the rest share ``other``.
    watch
        Only these features are compared; ``None``: every feature seen, up to
        ``max_features`` names (those of the reference first, then in name order). A feature
        absent from the reference is compared as one that was always missing.
    max_features
        Most feature names tracked when ``watch`` is ``None``.

    Raises
    ------
    DriftConfigurationError
        For an unknown rule or an out-of-range number.
    """

    kind: DriftKind = "data"

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        every: int = DEFAULT_EVERY,
        psi_threshold: float = DEFAULT_PSI_THRESHOLD,
        ks_alpha: float = DEFAULT_KS_ALPHA,
        rule: DataDriftRule = DEFAULT_RULE,
        bins: int = DEFAULT_BINS,
        top_categories: int = DEFAULT_TOP_CATEGORIES,
        watch: Collection[str] | None = None,
        max_features: int = DEFAULT_MAX_FEATURES,
    ) -> None:
        if max_features < 1:
            raise DriftConfigurationError(f"max_features must be at least 1, not {max_features}")
        self.watch = None if watch is None else tuple(sorted(set(watch)))
        self.max_features = max_features
        super().__init__(
            window=window,
            every=every,
            psi_threshold=psi_threshold,
            ks_alpha=ks_alpha,
            rule=rule,
            bins=bins,
            top_categories=top_categories,
        )

    def observe(self, features: Mapping[str, Any], offset: int) -> DriftReport | None:
        """Keep one event's features; the evaluation's report when one is due, else ``None``.

        Parameters
        ----------
        features
            The event's features, kept by reference (not copied).
        offset
            The event's stream position, only copied into the drift events.
        """
        return self._observe(features, offset)

    def _names(self, rows: Iterable[Mapping[str, Any]], known: Collection[str]) -> list[str]:
        if self.watch is not None:
            return [name for name in self.watch if name not in known]
        room = self.max_features - len(known)
        if room <= 0:
            return []
        return sorted(set().union(*rows) - set(known))[:room]

    def _profile(self, rows: list[Mapping[str, Any]]) -> dict[str, Profile]:
        columns, _ = feature_columns(rows, self._names(rows, ()))
        return {
            name: make_profile(column, bins=self.bins, top_categories=self.top_categories)
            for name, column in columns.items()
        }

    def _columns(
        self, rows: Collection[Mapping[str, Any]], profiles: dict[str, Profile]
    ) -> dict[str, list[Any]]:
        columns, complete = feature_columns(rows, profiles)
        # Looking for names the reference did not have means going through every key of every
        # event; skip it when every event has every known feature and nothing else.
        if self.watch is None and not (
            complete and sum(map(len, rows)) == len(rows) * len(profiles)
        ):
            new, _ = feature_columns(rows, self._names(rows, profiles))
            for name, column in new.items():
                profiles[name] = AbsentProfile(self.window)
                columns[name] = column
        return columns


class DistributionDriftMonitor(_WindowedDriftMonitor):
    """Drift of one variable, the model's predictions or the labels, against a reference.

    The same windows, PSI, K-S and rule as :class:`DataDriftMonitor`; the variable is named
    after ``kind`` in reports and events.

    Parameters
    ----------
    kind
        ``"prediction"`` or ``"label"``.
    task
        ``"classification"``: values are classes, compared as categories even when they are
        numbers; ``"regression"``: values are numbers. ``None``: decided by the reference's
        values.
    window, every, psi_threshold, ks_alpha, rule, bins, top_categories
        As for :class:`DataDriftMonitor`.

    Examples
    --------
    >>> monitor = DistributionDriftMonitor("label", task="classification", window=100, every=50)
    >>> for offset in range(300):  # balanced labels, then only True from offset 200
    ...     report = monitor.observe(offset >= 200 or offset % 2 == 0, offset)
    ...     if report is not None:
    ...         print(offset, [(e.kind, e.feature, round(e.statistic, 2)) for e in report.events])
    199 []
    249 [('label', 'label', 0.27)]
    299 []
    """

    def __init__(
        self,
        kind: Literal["prediction", "label"],
        *,
        task: Task | None = None,
        window: int = DEFAULT_WINDOW,
        every: int = DEFAULT_EVERY,
        psi_threshold: float = DEFAULT_PSI_THRESHOLD,
        ks_alpha: float = DEFAULT_KS_ALPHA,
        rule: DataDriftRule = DEFAULT_RULE,
        bins: int = DEFAULT_BINS,
        top_categories: int = DEFAULT_TOP_CATEGORIES,
    ) -> None:
        if kind not in ("prediction", "label"):
            raise DriftConfigurationError(f"kind is 'prediction' or 'label', not {kind!r}")
        self.kind = kind
        self.task = task
        super().__init__(
            window=window,
            every=every,
            psi_threshold=psi_threshold,
            ks_alpha=ks_alpha,
            rule=rule,
            bins=bins,
            top_categories=top_categories,
        )

    def observe(self, value: Any, offset: int) -> DriftReport | None:
        """Keep one prediction or label (``None``: none); the report when one is due."""
        return self._observe(value, offset)

    def _profile(self, rows: list[Any]) -> dict[str, Profile]:
        if self.task == "classification":
            profile: Profile = CategoricalProfile.from_column(rows, self.top_categories)
        else:
            profile = make_profile(rows, bins=self.bins, top_categories=self.top_categories)
        return {self.kind: profile}

    def _columns(self, rows: Collection[Any], profiles: dict[str, Profile]) -> dict[str, list[Any]]:
        return {self.kind: list(rows)}
