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

When a variable drifts (``rule``):

``"psi_and_ks"`` (default)
    PSI above ``psi_threshold`` and, for a number, the K-S p-value below ``ks_alpha / k`` (a
    Bonferroni correction over the ``k`` numeric features compared). The PSI says the shift is
    big enough to matter, whatever the window size; the K-S test says it is not sampling noise,
    which protects small windows and lumpy (discrete) variables from PSI's noise floor. For a
    category, or a number too sparse for the test, the PSI alone decides.
``"psi"``
    PSI above the threshold.
``"ks"``
    For a number, the K-S p-value below ``ks_alpha / k``; PSI for the rest. With 1,000-event
    windows the test sees shifts of a quarter of a standard deviation: statistically real,
    rarely worth a retrain; and a stationary stream fails about one evaluation in
    ``1 / ks_alpha``.
``"psi_or_ks"``
    Either of the two: the most sensitive, and the most false flags.

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
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

from service.drift.distributions import (
    DEFAULT_BINS,
    DEFAULT_TOP_CATEGORIES,
    AbsentProfile,
    CategoricalProfile,
    Comparison,
    Profile,
    make_profile,
)
from service.drift.errors import DriftConfigurationError
from service.drift.log import DriftEvent, DriftKind
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

DataDriftRule = Literal["psi_and_ks", "psi", "ks", "psi_or_ks"]
RULES: tuple[DataDriftRule, ...] = ("psi_and_ks", "psi", "ks", "psi_or_ks")

# Events in the reference and in the recent window: ~100 per PSI bucket, and enough for the K-S
# test to see a shift of a quarter of a standard deviation.
DEFAULT_WINDOW = 1_000
# Events between two evaluations: one window, so each evaluation sees a fresh batch of events
# (independent tests) and each event is pulled out of its dict once. An evaluation costs about
# 0.2 ms per feature (columns, sort, K-S): 1.2 µs per event for five features, twice that at
# every=500 for at most half a window less delay.
DEFAULT_EVERY = 1_000
# The usual reading of PSI: above 0.2, a significant shift. In the benchmark it flags both
# shifted features of the covariate scenario at the first evaluation after the shift, shifts
# from half a standard deviation up, and nothing on 100,000 stationary events; sampling noise
# alone stays near 0.02 with the default window (see distributions.DEFAULT_BINS).
DEFAULT_PSI_THRESHOLD = 0.2
# Family-wise significance of the K-S tests of one evaluation (Bonferroni over the numeric
# features). The p-values are calibrated (checked by simulation at n = 50 to 1,000), so a
# stationary stream fails an evaluation with probability ~0.01; with the default rule the PSI
# must agree as well.
DEFAULT_KS_ALPHA = 0.01
# PSI and K-S together: at 1,000-event windows as sensitive as PSI alone (the K-S test agrees
# whenever PSI is above 0.2) and, unlike PSI alone, it stays quiet with small windows.
DEFAULT_RULE: DataDriftRule = "psi_and_ks"
# Events have a bounded number of features, but their names need not repeat: past this many
# distinct names, new ones are not tracked, so memory and the exported series stay bounded.
DEFAULT_MAX_FEATURES = 100


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


def _column(rows: Iterable[Mapping[str, Any]], name: str) -> list[Any]:
    """One feature's values, ``None`` where an event lacks it."""
    return [row.get(name) for row in rows]


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
        if rule not in RULES:
            raise DriftConfigurationError(
                f"unknown data drift rule {rule!r}; choose from: {', '.join(RULES)}"
            )
        if psi_threshold <= 0 or not 0 < ks_alpha < 1:
            raise DriftConfigurationError(
                f"psi_threshold must be positive and ks_alpha within (0, 1), "
                f"not {psi_threshold}, {ks_alpha}"
            )
        if bins < 2 or top_categories < 1:
            raise DriftConfigurationError(
                f"bins must be at least 2 and top_categories at least 1, not {bins}, "
                f"{top_categories}"
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

    def _drifts(self, comparison: Comparison, ks_cutoff: float) -> bool:
        over = comparison.psi > self.psi_threshold
        if comparison.ks_pvalue is None:
            return over
        significant = comparison.ks_pvalue < ks_cutoff
        if self.rule == "psi_and_ks":
            return over and significant
        if self.rule == "ks":
            return significant
        if self.rule == "psi_or_ks":
            return over or significant
        return over

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
        tested = sum(c.ks_pvalue is not None for c in comparisons.values())
        ks_cutoff = self.ks_alpha / max(tested, 1)
        results: dict[str, FeatureDrift] = {}
        events: list[DriftEvent] = []
        for name, comparison in comparisons.items():
            drifting = self._drifts(comparison, ks_cutoff)
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
        When a variable counts as drifting; see the module's documentation.
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
        names = self._names(rows, ())
        return {
            name: make_profile(
                _column(rows, name), bins=self.bins, top_categories=self.top_categories
            )
            for name in names
        }

    def _columns(
        self, rows: Collection[Mapping[str, Any]], profiles: dict[str, Profile]
    ) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {}
        complete = True
        for name in profiles:
            try:
                columns[name] = list(map(itemgetter(name), rows))  # twice as fast as get
            except KeyError:
                columns[name] = [row.get(name) for row in rows]
                complete = False
        # Looking for names the reference did not have means going through every key of every
        # event; skip it when every event has every known feature and nothing else.
        if self.watch is None and not (
            complete and sum(map(len, rows)) == len(rows) * len(profiles)
        ):
            for name in self._names(rows, profiles):
                profiles[name] = AbsentProfile(self.window)
                columns[name] = _column(rows, name)
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
