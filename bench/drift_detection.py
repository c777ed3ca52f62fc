"""Drift detection benchmark: every detector on every scenario with known ground truth.

A real model learns each scenario test-then-train (``StandardScaler | LogisticRegression``,
predict then learn, as the service does); its error stream goes to every concept drift
detector through :class:`~service.drift.ConceptDriftMonitor` (with its defaults: cooldown,
quiet period, only rises in error), its features to :class:`~service.drift.DataDriftMonitor`.
The scenarios come from :mod:`producer.scenarios`, several seeds each.

Scoring. An alarm detects change ``c`` if it falls in ``[c, next change)``, at most
``max_delay`` events after ``c``; the first such alarm gives the delay, later ones are
``extra`` (the bursts a cooldown exists for); any other alarm is a false alarm. A gradual
change counts from where its transition starts (centre - width / 2, where ~12% of the events
already follow the new concept). Concept detectors are scored against the concept changes, so
on the covariate scenario (features shift, the concept does not) every concept alarm is false.

    python bench/drift_detection.py                  # 5 seeds x 20,000 events (~5 min)
    python bench/drift_detection.py --quick          # 2 seeds x 8,000 events, no KSWIN
    python bench/drift_detection.py --markdown drift.md
"""

from __future__ import annotations

import bisect
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river import linear_model, preprocessing
from river.drift import ADWIN

from producer.scenarios import make_scenario
from service.drift import (
    DEFAULT_COOLDOWN,
    DEFAULT_EVERY,
    DEFAULT_WINDOW,
    DETECTORS,
    RULES,
    ConceptDriftMonitor,
    DataDriftMonitor,
    DistributionDriftMonitor,
)

__all__ = ["Score", "Stream", "build_stream", "main", "markdown_table", "score_alarms"]

SCENARIOS = ("stationary", "abrupt", "gradual", "recurring", "covariate")
# An alarm later than this after a change does not count as detecting it: a detector that
# needs more than two thousand events to see a jump from 5% to 40% error is of no use.
DEFAULT_MAX_DELAY = 2_000
# Events per 10,000 for the false-alarm rate.
_PER = 10_000
# The covariate shift of the shift-size sweep, in standard deviations, injected into x0 of the
# stationary scenario: how small a shift each data-drift rule still sees.
_SWEEP_SHIFTS = (0.1, 0.25, 0.5, 1.0)
# Error rates of the pure-noise ADWIN table: a good, a fair and a poor classifier.
_NOISE_RATES = (0.05, 0.15, 0.3)
_NOISE_DELTAS = (0.05, 0.01, 0.002, 0.0002)

app = typer.Typer(add_completion=False)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- streams ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stream:
    """One seeded scenario, learnt once: what every detector is then fed."""

    scenario: str
    seed: int
    concept_starts: tuple[int, ...]
    """Where each concept change starts (its transition's start for a gradual change)."""
    data_starts: tuple[int, ...]
    """Where the features shift."""
    shifted: tuple[str, ...]
    features: list[dict[str, Any]]
    errors: list[float]
    predictions: list[Any]
    labels: list[Any]

    @property
    def n(self) -> int:
        return len(self.errors)


def build_stream(scenario: str, *, n: int, seed: int) -> Stream:
    """Generate a scenario and learn it test-then-train; keep the errors and the events."""
    truth = make_scenario(scenario, n=n, seed=seed)
    half_width = truth.width // 2 if truth.width > 1 else 0
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    features, errors, predictions, labels = [], [], [], []
    for x, y in truth.events():
        predicted = model.predict_one(x)
        model.learn_one(x, y)
        features.append(x)
        errors.append(0.0 if predicted == y else 1.0)
        predictions.append(predicted)
        labels.append(y)
    concept = getattr(truth, "concept_changes", truth.change_points)
    return Stream(
        scenario=scenario,
        seed=seed,
        concept_starts=tuple(c - half_width for c in concept),
        data_starts=tuple(truth.change_points) if truth.shifted_features else (),
        shifted=tuple(truth.shifted_features),
        features=features,
        errors=errors,
        predictions=predictions,
        labels=labels,
    )


# -- scoring ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Score:
    """Alarms against ground truth, summed over streams."""

    changes: int = 0
    delays: list[int] = field(default_factory=list)
    extra: int = 0
    false_alarms: int = 0
    events: int = 0

    @property
    def detected(self) -> int:
        return len(self.delays)

    @property
    def missed(self) -> int:
        return self.changes - self.detected

    @property
    def median_delay(self) -> float | None:
        return statistics.median(self.delays) if self.delays else None

    @property
    def false_alarm_rate(self) -> float:
        """False alarms per 10,000 events."""
        return self.false_alarms * _PER / self.events if self.events else 0.0

    def add(self, other: Score) -> None:
        self.changes += other.changes
        self.delays.extend(other.delays)
        self.extra += other.extra
        self.false_alarms += other.false_alarms
        self.events += other.events


def score_alarms(
    alarms: Iterable[int], starts: Sequence[int], n: int, max_delay: int = DEFAULT_MAX_DELAY
) -> Score:
    """Score alarm positions against change starts (sorted) in a stream of ``n`` events.

    Examples
    --------
    >>> s = score_alarms([100, 5_030, 5_040, 9_000], starts=[5_000], n=10_000)
    >>> s.delays, s.extra, s.false_alarms, s.missed
    ([30], 1, 2, 0)
    """
    result = Score(changes=len(starts), events=n)
    detected: set[int] = set()
    for alarm in sorted(alarms):
        index = bisect.bisect_right(starts, alarm) - 1
        if index < 0:
            result.false_alarms += 1
            continue
        start = starts[index]
        end = start + max_delay
        if index + 1 < len(starts):
            end = min(end, starts[index + 1])
        if alarm >= end:
            result.false_alarms += 1
        elif index in detected:
            result.extra += 1
        else:
            detected.add(index)
            result.delays.append(alarm - start)
    return result


# -- runs ------------------------------------------------------------------------------------


def concept_alarms(
    stream: Stream, make: Callable[[], ConceptDriftMonitor]
) -> tuple[list[int], ConceptDriftMonitor]:
    """Positions of the alarms (not warnings) a monitor raises on the stream's errors."""
    monitor = make()
    alarms = []
    for offset, error in enumerate(stream.errors):
        event = monitor.update(error, offset)
        if event is not None and not event.warning:
            alarms.append(offset)
    return alarms, monitor


def data_flags(stream: Stream, make: Callable[[], DataDriftMonitor]) -> dict[str, list[int]]:
    """Positions where each feature started drifting."""
    monitor = make()
    flags: dict[str, list[int]] = {}
    for offset, features in enumerate(stream.features):
        report = monitor.observe(features, offset)
        if report is not None:
            for event in report.events:
                flags.setdefault(event.feature or "", []).append(offset)
    return flags


def _score_data(stream: Stream, flags: dict[str, list[int]], max_delay: int) -> tuple[Score, int]:
    """The shifted features' detections, and the flags on features that did not shift."""
    shifted = Score()
    false_flags = 0
    for name in stream.features[0]:
        alarms = flags.get(name, [])
        if name in stream.shifted:
            shifted.add(score_alarms(alarms, stream.data_starts, stream.n, max_delay))
        else:
            false_flags += len(alarms)
    return shifted, false_flags


def _with_shift(stream: Stream, shift: float) -> Stream:
    """The stream with ``x0`` shifted by ``shift`` from its middle on."""
    middle = stream.n // 2
    features = [
        {**x, "x0": x["x0"] + shift} if i >= middle else x for i, x in enumerate(stream.features)
    ]
    return Stream(
        stream.scenario,
        stream.seed,
        (),
        (middle,),
        ("x0",),
        features,
        stream.errors,
        stream.predictions,
        stream.labels,
    )


# -- tables ----------------------------------------------------------------------------------


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned."""
    body = [[_cell(value) for value in row] for row in rows]
    align = ["---:" if body and _numeric(body, i) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(body: list[list[str]], column: int) -> bool:
    return all(row[column][:1].isdigit() or row[column] == "–" for row in body)


def _delay(score: Score) -> int | None:
    delay = score.median_delay
    return None if delay is None else round(delay)


def _detected(score: Score) -> str:
    return f"{score.detected}/{score.changes}"


def _missed_delay(score: Score) -> str:
    delay = _delay(score)
    return f"{score.missed}/{score.changes}, {'–' if delay is None else delay}"


def concept_table(
    streams: dict[str, list[Stream]],
    detectors: Sequence[tuple[str, Callable[[], ConceptDriftMonitor]]],
    max_delay: int,
) -> str:
    """One row per detector: each drifting scenario's misses and delay, then false alarms."""
    drifting = [name for name, runs in streams.items() if runs and runs[0].concept_starts]
    rows = []
    for label, make in detectors:
        started = time.perf_counter()
        scores = {}
        suppressed = 0
        for scenario, runs in streams.items():
            total = Score()
            for stream in runs:
                alarms, monitor = concept_alarms(stream, make)
                total.add(score_alarms(alarms, stream.concept_starts, stream.n, max_delay))
                suppressed += monitor.suppressed
            scores[scenario] = total
        everything = Score()
        for total in scores.values():
            everything.add(total)
        stationary = scores.get("stationary", Score())
        rows.append(
            [
                label,
                *(_missed_delay(scores[scenario]) for scenario in drifting),
                everything.extra,
                suppressed,
                everything.false_alarm_rate,
                stationary.false_alarms,
            ]
        )
        _progress(f"  {label}: {time.perf_counter() - started:.0f} s")
    headers = [
        "detector",
        *(f"{scenario}: missed, delay" for scenario in drifting),
        "extra alarms",
        "suppressed",
        "false alarms / 10k",
        "false alarms, stationary",
    ]
    return markdown_table(headers, rows)


def data_table(streams: dict[str, list[Stream]], max_delay: int) -> str:
    """Per rule: the covariate scenario's shifted features, and flags on everything else."""
    rows = []
    for rule in RULES:
        shifted = Score()
        false_covariate = false_stationary = 0
        for stream in streams.get("covariate", []):
            score, false = _score_data(stream, data_flags(stream, _data(rule)), max_delay)
            shifted.add(score)
            false_covariate += false
        stationary_events = 0
        for stream in streams.get("stationary", []):
            _, false = _score_data(stream, data_flags(stream, _data(rule)), max_delay)
            false_stationary += false
            stationary_events += stream.n
        rows.append(
            [
                rule,
                _detected(shifted),
                _delay(shifted),
                false_covariate,
                false_stationary,
            ]
        )
    headers = [
        "rule",
        "shifted features flagged",
        "median delay",
        "false flags, unshifted (covariate)",
        "false flags (stationary)",
    ]
    return markdown_table(headers, rows)


def sweep_table(streams: Sequence[Stream], max_delay: int) -> str:
    """Per rule and shift size: how often a shift of x0 alone is flagged, and how fast."""
    rows = []
    for shift in _SWEEP_SHIFTS:
        row: list[Any] = [f"{shift:g} sd"]
        for rule in RULES:
            total = Score()
            for stream in streams:
                shifted = _with_shift(stream, shift)
                score, _ = _score_data(shifted, data_flags(shifted, _data(rule)), max_delay)
                total.add(score)
            delay = _delay(total)
            row.append(f"{_detected(total)}, {'–' if delay is None else delay}")
        rows.append(row)
    return markdown_table(["shift of x0", *(f"{r}: flagged, delay" for r in RULES)], rows)


def output_table(streams: dict[str, list[Stream]]) -> str:
    """Prediction and label drift alarms per scenario (none of them moves either)."""
    rows = []
    for scenario, runs in streams.items():
        counts = []
        for kind in ("prediction", "label"):
            alarms = 0
            for stream in runs:
                monitor = DistributionDriftMonitor(kind, task="classification")
                values = stream.predictions if kind == "prediction" else stream.labels
                for offset, value in enumerate(values):
                    report = monitor.observe(value, offset)
                    if report is not None:
                        alarms += len(report.events)
            counts.append(alarms)
        rows.append([scenario, *counts])
    return markdown_table(["scenario", "prediction drift alarms", "label drift alarms"], rows)


def burst_table(streams: dict[str, list[Stream]], detectors: Sequence[str], cooldown: int) -> str:
    """Events between consecutive alarms with no cooldown: bursts, and separate changes."""
    rows = []
    for name in detectors:
        gaps = []
        for runs in streams.values():
            for stream in runs:
                alarms, _ = concept_alarms(stream, _concept(name, cooldown=0))
                gaps += [later - earlier for earlier, later in itertools.pairwise(alarms)]
        bursts = [gap for gap in gaps if gap < cooldown]
        apart = [gap for gap in gaps if gap >= cooldown]
        rows.append([name, len(bursts), max(bursts, default=None), min(apart, default=None)])
    headers = [
        "detector (no cooldown)",
        f"re-alarms within {cooldown:,} events",
        "longest of those gaps",
        f"shortest gap over {cooldown:,}",
    ]
    return markdown_table(headers, rows)


def noise_table(seeds: int, n: int) -> str:
    """ADWIN's delta on Bernoulli errors: false alarms before, delay after, a 1.5x rise."""
    rows = []
    for delta in _NOISE_DELTAS:
        row: list[Any] = [f"{delta:g}"]
        for rate in _NOISE_RATES:
            false_alarms, delays = 0, []
            for seed in range(seeds):
                rng = random.Random(seed)
                change = n // 2
                monitor = ConceptDriftMonitor("adwin", {"delta": delta})
                first = None
                for offset in range(n):
                    rising = rate * 1.5 if offset >= change else rate
                    event = monitor.update(float(rng.random() < rising), offset)
                    if event is None:
                        continue
                    if offset < change:
                        false_alarms += 1
                    elif first is None:
                        first = offset - change
                if first is not None:
                    delays.append(first)
            delay = round(statistics.median(delays)) if delays else None
            row.append(f"{false_alarms}, {'–' if delay is None else delay}")
        rows.append(row)
    headers = [
        "ADWIN delta",
        *(f"error {rate:.0%} → {rate * 1.5:.1%}: false alarms, delay" for rate in _NOISE_RATES),
    ]
    return markdown_table(headers, rows) + (
        f"\n\n({seeds} streams of {n:,} events per rate; the rise at event {n // 2:,}; "
        f"false alarms counted over the {seeds * (n // 2):,} events before it.)"
    )


def _data(rule: str) -> Callable[[], DataDriftMonitor]:
    return lambda: DataDriftMonitor(rule=rule)  # type: ignore[arg-type]


def _per_event(run: Callable[[], Any], events: int, repeat: int = 3) -> float:
    best = min(_timed(run) for _ in range(repeat))
    return best / events * 1e6


def _timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def timing_table(stream: Stream) -> str:
    """Per-event cost of the monitors against a bare ADWIN on the same events."""
    errors, rows_ = stream.errors, stream.features

    def bare() -> None:
        adwin = ADWIN()
        for error in errors:
            adwin.update(error)
            _ = adwin.drift_detected

    def monitor() -> None:
        concept = ConceptDriftMonitor()
        for offset, error in enumerate(errors):
            concept.update(error, offset)

    def observe_only() -> None:
        data = DataDriftMonitor(window=len(rows_) + 1)
        for offset, features in enumerate(rows_):
            data.observe(features, offset)

    def observe() -> None:
        data = DataDriftMonitor()
        for offset, features in enumerate(rows_):
            data.observe(features, offset)

    n = len(errors)
    bare_us = _per_event(bare, n)
    monitor_us = _per_event(monitor, n)
    rows = [
        ["river ADWIN update + drift_detected", bare_us, None],
        ["ConceptDriftMonitor.update (ADWIN)", monitor_us, monitor_us - bare_us],
        ["DataDriftMonitor.observe, append only", _per_event(observe_only, n), None],
        ["DataDriftMonitor.observe, with evaluations", _per_event(observe, n), None],
    ]
    features = len(rows_[0])
    return markdown_table(["per event", "µs", "over bare ADWIN, µs"], rows) + (
        f"\n\n({n:,} events of {features} features; evaluations every {DEFAULT_EVERY:,} events "
        f"on {DEFAULT_WINDOW:,}-event windows; best of 3.)"
    )


# -- the command -----------------------------------------------------------------------------


@app.command()
def main(
    quick: Annotated[bool, typer.Option(help="2 seeds x 8,000 events, KSWIN left out.")] = False,
    seeds: Annotated[int, typer.Option(help="Seeds per scenario.")] = 5,
    events: Annotated[int, typer.Option(help="Events per scenario.")] = 20_000,
    detectors: Annotated[
        str | None, typer.Option(help="Comma-separated detector names (default: all).")
    ] = None,
    max_delay: Annotated[
        int, typer.Option(help="Latest alarm, in events after a change, that detects it.")
    ] = DEFAULT_MAX_DELAY,
    markdown: Annotated[
        Path | None, typer.Option(help="Also write the tables to this Markdown file.")
    ] = None,
) -> None:
    """Run every scenario against every detector and print the tables."""
    if quick:
        seeds, events = 2, 8_000
    names = (
        [name.strip() for name in detectors.split(",")]
        if detectors
        else [name for name in DETECTORS if not (quick and name == "kswin")]
    )
    _progress(f"learning {len(SCENARIOS)} scenarios x {seeds} seeds x {events:,} events")
    streams = {
        scenario: [build_stream(scenario, n=events, seed=seed) for seed in range(seeds)]
        for scenario in SCENARIOS
    }
    _progress("concept drift detectors (monitor defaults)")
    concept = concept_table(
        streams, [(name, _concept(name)) for name in names], max_delay=max_delay
    )
    _progress("ADWIN: delta and monitor settings")
    tuning = concept_table(
        streams,
        [
            ("raw ADWIN (no cooldown, falls too)", _concept("adwin", cooldown=0, both=True)),
            ("ADWIN, no cooldown", _concept("adwin", cooldown=0)),
            ("ADWIN delta=0.01", _concept("adwin", delta=0.01)),
            ("ADWIN delta=0.002 (default)", _concept("adwin")),
            ("ADWIN delta=0.0002", _concept("adwin", delta=0.0002)),
        ],
        max_delay=max_delay,
    )
    _progress("ADWIN on Bernoulli noise; bursts without a cooldown")
    noise = noise_table(seeds=4 * seeds, n=events)
    bursts = burst_table(
        streams, [name for name in names if name != "kswin"], cooldown=DEFAULT_COOLDOWN
    )
    _progress("data drift")
    data = data_table(streams, max_delay)
    sweep = sweep_table(streams["stationary"], max_delay)
    outputs = output_table(streams)
    timing = timing_table(streams["stationary"][0])
    report = "\n\n".join(
        [
            f"## Drift detection benchmark\n\n{len(SCENARIOS)} scenarios x {seeds} seeds x "
            f"{events:,} events; StandardScaler | LogisticRegression learnt test-then-train; "
            f"an alarm detects a change if it comes within {max_delay:,} events (and before "
            "the next change).",
            "### Concept drift, monitor defaults\n\n" + concept,
            "### ADWIN settings\n\n" + tuning,
            "### ADWIN's delta on pure noise\n\n" + noise,
            "### Bursts: the gaps between consecutive alarms without a cooldown\n\n" + bursts,
            "### Data drift on the covariate scenario (x0, x1 shift by 2 sd)\n\n" + data,
            "### Data drift: smallest shift seen (x0 shifted mid-stream in the stationary "
            "scenario)\n\n" + sweep,
            "### Prediction and label drift\n\n" + outputs,
            "### Cost per event\n\n" + timing,
        ]
    )
    print(report)
    if markdown is not None:
        markdown.write_text(report + "\n", encoding="utf-8")


def _concept(
    name: str, *, cooldown: int | None = None, both: bool = False, **params: Any
) -> Callable[[], ConceptDriftMonitor]:
    def make() -> ConceptDriftMonitor:
        settings: dict[str, Any] = {"direction": "both" if both else "increase"}
        if cooldown is not None:
            settings["cooldown"] = cooldown
        return ConceptDriftMonitor(name, params, **settings)

    return make


if __name__ == "__main__":
    app()
