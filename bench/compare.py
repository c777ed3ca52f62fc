"""``python -m bench compare``: every retraining strategy on one stream, side by side.

One stream (a drift scenario of the producer, one of River's bundled datasets, or your own CSV
or JSON Lines file) goes through each strategy in turn, in one process, through the service's
own :class:`~service.learner.Learner`, built by :func:`service.factory.build_learner` from the
service's :class:`~service.config.Settings` (the ``DRIFTLINE_*`` variables, then the options
here), with rebuilds inline (``DRIFTLINE_REBUILD_BACKGROUND=false``) so that every run gives the
same numbers. Every event is encoded as the producer sends it and decoded by the service's gate,
so the learner sees exactly what the service would: the comparison is the running service with
inline rebuilds, number for number, without Kafka.

It writes, in ``--out`` (``./compare-output/`` by default, under the current directory):

* ``{name}.csv`` and ``{name}.md``: per strategy, the prequential accuracy (MAE for a
  regressor), the worst rolling value after each change point, rebuilds promoted / rejected /
  rolled back, CPU seconds spent rebuilding and learning online, the memory-set score (what the
  final model still knows of everything seen), and the labelled events learned;
* ``{name}.png``: the rolling metric over time per strategy, the change points as vertical lines
  and each gate decision as a marker (● promoted, × rejected, ■ rolled back);
* ``{name}-candidates.csv`` and a second table in ``{name}.md``: the models of ``--candidates``
  (``DRIFTLINE_CANDIDATES``) and the no-change baseline ranked on the same stream, as
  ``GET /leaderboard`` ranks them: prequential and rolling metric, kappa-temporal (for a
  classifier: below 0, worse than repeating the last label) and CPU per event.

Examples
--------
>>> stream = load_stream(scenario="abrupt", n=3_000, position=1_500, seed=1)
>>> settings = Settings(rolling_window=200, initial_events=300)
>>> results = compare(stream, settings, strategies=("static", "online"))
>>> [(r.strategy, r.events_learned) for r in results]
[('static', 3000), ('online', 3000)]
>>> results[1].metric > results[0].metric + 0.1
True
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from producer.messages import Example, encode_event
from producer.scenarios import SCENARIOS, make_scenario
from producer.sources import SourceError, dataset, dataset_info, read_file
from service.candidates import CandidateRow
from service.config import Settings
from service.errors import DriftlineError
from service.events import Rejection, decode_event
from service.factory import build_learner
from service.learner import EventError, metric_names
from service.models import build_model
from service.strategies import (
    OUTCOMES,
    STRATEGY_NAMES,
    ModelVersion,
    Outcome,
    PromotionDecision,
    StrategyName,
)

__all__ = [
    "DEFAULT_OUT",
    "StrategyResult",
    "Stream",
    "compare",
    "compare_settings",
    "load_stream",
    "main",
    "markdown_table",
    "plot",
    "run_strategy",
    "write_csv",
    "write_outputs",
]

logger = logging.getLogger(__name__)

#: Relative to the current directory: a run never writes into the repository's tracked files
#: unless asked to (``--out docs/strategies`` regenerates the committed tables).
DEFAULT_OUT = Path("compare-output")
# The rolling window of the comparison: shorter than the service's 1,000 so that the dip at a
# change and the recovery after it are sharp in the plot.
DEFAULT_ROLLING_WINDOW = 500
DEFAULT_N = 10_000
# The plot: wide enough for 10,000 events, small enough to commit (about 100 kB).
_FIGSIZE = (11.0, 5.0)
_DPI = 90
_MARKERS: dict[Outcome, str] = {"promoted": "o", "rejected": "x", "rolled_back": "s", "failed": "^"}


@dataclass(frozen=True)
class Stream:
    """The events to compare on, and where they change concept (if anyone knows)."""

    name: str
    description: str
    examples: Sequence[Example]
    change_points: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's run over the stream, read from the learner when it ended."""

    strategy: StrategyName
    task: str
    metric: float
    """Prequential accuracy (MAE) over the whole stream: the service's cumulative metric."""
    cumulative: dict[str, float]
    """Every cumulative metric, as ``GET /model`` reports them."""
    worst_after_change: list[float]
    """The lowest rolling accuracy (highest MAE) between each change point and the next."""
    retrains: dict[Outcome, int]
    """Gate outcomes over the whole run (``rolled_back`` ones were ``promoted`` first)."""
    decisions: list[PromotionDecision]
    """The learner's recent decisions, as ``GET /model/versions`` lists them."""
    versions: list[ModelVersion]
    """The kept versions, the serving one last."""
    cpu_rebuild: float
    cpu_online: float
    memory_score: float
    events_learned: int
    refused: int
    """Events the service would dead-letter: refused by its gate or by the model."""
    final_version: int
    rolling: list[float]
    """The rolling metric after each labelled event learned."""
    kappa_temporal: float = math.nan
    """A classifier's cumulative kappa-temporal (against the no-change classifier)."""

    def count(self, outcome: Outcome) -> int:
        """Gate decisions with this outcome."""
        return self.retrains.get(outcome, 0)


def compare_settings(settings: Settings, strategy: StrategyName) -> Settings:
    """``settings`` with this strategy, rebuilding inline: deterministic, and still the service."""
    return settings.model_copy(
        update={
            "strategy": strategy,
            "rebuild_background": False,
            "candidates": [],
            "follow_leader": False,
        }
    )


def _events(stream: Stream, settings: Settings) -> Iterator[tuple[int, Any]]:
    """``(offset, Event or Rejection)``: each example encoded as the producer sends it and
    decoded by the service's gate."""
    for offset, (features, label) in enumerate(stream.examples):
        yield (
            offset,
            decode_event(
                encode_event(features, label),
                max_features=settings.max_features,
                max_magnitude=settings.max_magnitude,
            ),
        )


def run_strategy(strategy: StrategyName, stream: Stream, settings: Settings) -> StrategyResult:
    """Learn ``stream`` with the service's learner under one strategy, rebuilding inline."""
    learner = build_learner(compare_settings(settings, strategy))
    name = metric_names(learner.task)[0]
    rolling: list[float] = []
    refused = 0
    for offset, event in _events(stream, settings):
        if isinstance(event, Rejection):
            refused += 1
            continue
        try:
            learner.learn(event, partition=0, offset=offset)
        except EventError:
            refused += 1
            continue
        except Exception:  # the service dead-letters what the model cannot learn, and goes on
            logger.warning("the model refused offset %d", offset, exc_info=True)
            refused += 1
            continue
        if event.label is not None:
            rolling.append(learner.values().rolling[name])
    values, stats = learner.values(), learner.strategy_stats()
    versions, decisions = learner.versions()
    learner.close()
    retrains: dict[Outcome, int] = dict.fromkeys(OUTCOMES, 0)
    for (_, outcome), count in stats["retrains"].items():
        retrains[outcome] += count
    worst = min if learner.task == "classification" else max
    bounds = [*stream.change_points, len(rolling)]
    return StrategyResult(
        strategy=strategy,
        task=learner.task,
        metric=values.cumulative[name],
        cumulative=dict(values.cumulative),
        worst_after_change=[
            worst(rolling[start:end], default=math.nan) for start, end in itertools.pairwise(bounds)
        ],
        retrains=retrains,
        decisions=decisions,
        versions=versions,
        cpu_rebuild=stats["cpu_seconds"]["rebuild"],
        cpu_online=stats["cpu_seconds"]["online"],
        memory_score=stats["memory_score"],
        events_learned=values.events_learned,
        refused=refused,
        final_version=values.model_version,
        rolling=rolling,
        kappa_temporal=values.agreement.get("kappa_temporal", math.nan),
    )


def baseline(task: str) -> str:
    """The no-change model of a task: any claim on an autocorrelated stream must beat it."""
    return "nochange" if task == "classification" else "nochange_reg"


def rank_candidates(stream: Stream, settings: Settings, names: Sequence[str]) -> list[CandidateRow]:
    """The candidates and the no-change baseline ranked on ``stream``, as the leaderboard does."""
    task = build_model(settings.model, settings.seed).task
    listed = list(dict.fromkeys([*names, baseline(task)]))
    learner = build_learner(
        compare_settings(settings, "online").model_copy(update={"candidates": listed})
    )
    for offset, event in _events(stream, settings):
        if isinstance(event, Rejection):
            continue
        try:
            learner.learn(event, partition=0, offset=offset)
        except Exception:  # refused, as the service would dead-letter it
            continue
    rows = learner.leaderboard()
    learner.close()
    return rows


def candidates_table(rows: Sequence[CandidateRow]) -> tuple[list[str], list[list[str]]]:
    """The leaderboard's columns and rows, best first."""
    metric = "accuracy" if "accuracy" in rows[0].cumulative else "mae"
    columns = [
        "rank",
        "candidate",
        f"prequential {metric}",
        f"rolling {metric}",
        "kappa-temporal",
        "CPU µs/event",
        "paused",
    ]
    table = [
        [
            str(row.rank),
            row.name,
            _number(row.cumulative[metric], 4),
            _number(row.rolling[metric], 4),
            _number(row.agreement.get("kappa_temporal", math.nan), 4),
            _number(row.cpu_us_per_event, 1),
            row.paused or "",
        ]
        for row in rows
    ]
    return columns, table


def compare(
    stream: Stream, settings: Settings, *, strategies: Sequence[StrategyName] = STRATEGY_NAMES
) -> list[StrategyResult]:
    """Run every strategy over the same stream, one after the other."""
    results = []
    for strategy in strategies:
        logger.info("learning %d events with %s", len(stream.examples), strategy)
        results.append(run_strategy(strategy, stream, settings))
    return results


def load_stream(
    *,
    scenario: str | None = None,
    dataset_name: str | None = None,
    file: Path | None = None,
    label_column: str | None = None,
    n: int = DEFAULT_N,
    position: int | None = None,
    width: int | None = None,
    seed: int = 42,
) -> Stream:
    """The first ``n`` events of one source, read by the producer's own readers.

    Raises
    ------
    SourceError
        For an unknown scenario or dataset, a file the producer cannot read, or a stream with no
        labelled event (there is nothing to compare on).
    """
    if file is not None:
        examples = list(itertools.islice(read_file(file, label_column=label_column), n))
        where = f"label column `{label_column}`" if label_column else "no label column"
        stream = Stream(file.stem, f"{file.name} ({where})", examples)
    elif dataset_name is not None:
        info = dataset_info(dataset_name)
        examples = list(itertools.islice(dataset(dataset_name), n))
        stream = Stream(info.name, info.description, examples)
    else:
        name = scenario or "abrupt"
        options = {} if width is None else {"width": width}
        built = make_scenario(name, n=n, position=position, seed=seed, **options)
        stream = Stream(name, SCENARIOS[name], list(built), list(built.change_points))
    if not any(label is not None for _, label in stream.examples):
        hint = " (give --label-column)" if file is not None and label_column is None else ""
        raise SourceError(f"{stream.name} has no labelled event to learn from{hint}")
    return stream


def _columns(results: Sequence[StrategyResult], change_points: Sequence[int]) -> list[str]:
    metric = "accuracy" if results[0].task == "classification" else "MAE"
    worst = "min rolling accuracy" if metric == "accuracy" else "max rolling MAE"
    return [
        "strategy",
        f"prequential {metric}",
        "kappa-temporal",
        *(f"{worst} after {point}" for point in change_points),
        "rebuilds promoted",
        "rebuilds rejected",
        "rolled back",
        "CPU s rebuild",
        "CPU s online",
        f"memory-set {metric}",
        "events learned",
    ]


def _number(value: float, digits: int) -> str:
    # round, then + 0.0: a -1e-17 is "0.0000", not "-0.0000"
    return "" if math.isnan(value) else f"{round(value, digits) + 0.0:.{digits}f}"


def _rows(results: Sequence[StrategyResult]) -> list[list[str]]:
    return [
        [
            result.strategy,
            _number(result.metric, 4),
            _number(result.kappa_temporal, 4),
            *(_number(value, 4) for value in result.worst_after_change),
            str(result.count("promoted")),
            str(result.count("rejected")),
            str(result.count("rolled_back")),
            _number(result.cpu_rebuild, 3),
            _number(result.cpu_online, 3),
            _number(result.memory_score, 4),
            str(result.events_learned),
        ]
        for result in results
    ]


def write_csv(path: Path, results: Sequence[StrategyResult], change_points: Sequence[int]) -> None:
    """The table as CSV, one row per strategy."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(_columns(results, change_points))
        writer.writerows(_rows(results))


def markdown_table(results: Sequence[StrategyResult], change_points: Sequence[int]) -> str:
    """The table as GitHub Markdown."""
    return _markdown(_columns(results, change_points), _rows(results))


def _markdown(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def plot(
    path: Path,
    results: Sequence[StrategyResult],
    change_points: Sequence[int],
    *,
    title: str,
    window: int,
) -> None:
    """The rolling metric per strategy, change points and gate decisions, as a PNG.

    matplotlib is a development dependency (``pip install -e '.[dev]'``): the service never
    imports it.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=_FIGSIZE, dpi=_DPI)
    try:
        for result in results:
            (line,) = axes.plot(result.rolling, linewidth=1.2, label=result.strategy)
            for decision in result.decisions:
                if decision.seq >= len(result.rolling):
                    continue
                axes.plot(
                    decision.seq,
                    result.rolling[decision.seq],
                    marker=_MARKERS[decision.outcome],
                    color=line.get_color(),
                    markersize=7,
                    fillstyle="full" if decision.outcome != "rejected" else "none",
                    linestyle="none",
                )
        for point in change_points:
            axes.axvline(point, color="grey", linestyle="--", linewidth=1)
        metric = "accuracy" if results[0].task == "classification" else "MAE"
        axes.set_xlabel("labelled events")
        axes.set_ylabel(f"rolling {metric} ({window} events)")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        axes.legend(loc="lower left", ncols=len(results), fontsize="small")
        figure.tight_layout()
        figure.savefig(path)
    finally:
        pyplot.close(figure)


def _environment_settings(settings: Settings, explicit: Iterable[str]) -> list[str]:
    """``DRIFTLINE_NAME=value`` for each setting read from the environment that is not its
    default: a table is reproducible only with them (secrets are named, never shown)."""
    defaults = Settings.model_construct()
    shown = []
    for name in Settings.model_fields:
        if name in explicit or name in ("strategy", "rebuild_background"):
            continue
        value = getattr(settings, name)
        if value == getattr(defaults, name):
            continue
        if isinstance(value, SecretStr):
            text = "..."
        elif isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, list | dict):
            text = json.dumps(value)  # how pydantic-settings reads a complex variable
        else:
            text = str(value)
        shown.append(f"DRIFTLINE_{name.upper()}={shlex.quote(text)}")
    return shown


def write_outputs(
    out: Path,
    stream: Stream,
    results: Sequence[StrategyResult],
    settings: Settings,
    *,
    command: str,
    environment: Sequence[str] = (),
    candidates: Sequence[CandidateRow] = (),
) -> list[Path]:
    """Write the CSV, the Markdown page and the plot into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    name, change_points = stream.name, stream.change_points
    csv_path, md_path, png_path = (out / f"{name}.{suffix}" for suffix in ("csv", "md", "png"))
    write_csv(csv_path, results, change_points)
    where = f", changes at {', '.join(map(str, change_points))}" if change_points else ""
    env = "".join(f"{item} " for item in environment)
    md_path.write_text(
        f"### {name}: {stream.description}\n\n"
        f"{len(stream.examples):,} events{where}; model `{settings.model}`, seed "
        f"{settings.seed}, rolling window {settings.rolling_window}, history "
        f"`{settings.history_policy}`, the service's learner with rebuilds inline. "
        f"Regenerate with `{env}python -m bench compare {command}`.\n\n"
        f"{markdown_table(results, change_points)}\n![{name}]({name}.png)\n"
        + (
            f"\nCandidates and the no-change baseline on the same stream:\n\n"
            f"{_markdown(*candidates_table(candidates))}"
            if candidates
            else ""
        ),
        encoding="utf-8",
    )
    written = [csv_path, md_path, png_path]
    if candidates:
        candidates_path = out / f"{name}-candidates.csv"
        columns, rows = candidates_table(candidates)
        with candidates_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows(rows)
        written.append(candidates_path)
    plot(
        png_path,
        results,
        change_points,
        title=f"{name}: rolling metric per strategy ({settings.model})",
        window=settings.rolling_window,
    )
    return written


def _names(listed: str) -> list[str]:
    return [name.strip() for name in listed.split(",") if name.strip()]


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


def main(
    scenario: Annotated[
        str | None,
        typer.Option(help=f"A producer drift scenario: {', '.join(SCENARIOS)} [default: abrupt]."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="A River dataset instead (e.g. bananas, phishing).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            help="Your own .csv, .jsonl or .ndjson file instead, read as 'producer file'."
        ),
    ] = None,
    label_column: Annotated[
        str | None, typer.Option(help="The file's label column; every other one is a feature.")
    ] = None,
    n: Annotated[int, typer.Option(min=1, help="Events in the stream (at most).")] = DEFAULT_N,
    position: Annotated[
        int | None,
        typer.Option(min=1, help="Scenario change point (recurring: period) [default: half-way]."),
    ] = None,
    width: Annotated[
        int | None, typer.Option(min=1, help="Width of the gradual scenario's change, in events.")
    ] = None,
    seed: Annotated[int, typer.Option(envvar="DRIFTLINE_SEED", help="Seed.")] = _default("seed"),
    model: Annotated[
        str, typer.Option(envvar="DRIFTLINE_MODEL", help="Registry name or module:factory.")
    ] = _default("model"),
    rolling_window: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="DRIFTLINE_ROLLING_WINDOW",
            help="Rolling window, in events (the service's default is 1000).",
        ),
    ] = DEFAULT_ROLLING_WINDOW,
    history: Annotated[
        str, typer.Option(envvar="DRIFTLINE_HISTORY_POLICY", help="History: all, window, decay.")
    ] = _default("history_policy"),
    rebuild_every: Annotated[
        int,
        typer.Option(
            min=1, envvar="DRIFTLINE_REBUILD_EVERY", help="Periodic rebuild interval, in events."
        ),
    ] = _default("rebuild_every"),
    initial_events: Annotated[
        int,
        typer.Option(
            min=0,
            envvar="DRIFTLINE_INITIAL_EVENTS",
            help="Events every strategy's first model learns online.",
        ),
    ] = _default("initial_events"),
    candidates: Annotated[
        str | None,
        typer.Option(
            help=(
                "Models to rank beside the no-change baseline, comma-separated registry names "
                "[default: DRIFTLINE_CANDIDATES]."
            )
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Directory for the CSV, Markdown and PNG (created if need be).")
    ] = DEFAULT_OUT,
) -> None:
    """Every strategy on one stream through the service's learner: a table and a plot.

    Any other setting of the service is read from its DRIFTLINE_* variable, as the service
    reads it (e.g. DRIFTLINE_SHADOW_EVENTS, DRIFTLINE_DRIFT_DETECTOR).
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if sum(source is not None for source in (scenario, dataset, file)) > 1:
        raise typer.BadParameter("give one of --scenario, --dataset and --file")
    if label_column is not None and file is None:
        raise typer.BadParameter("--label-column goes with --file")
    options: dict[str, Any] = {
        "model": model,
        "seed": seed,
        "rolling_window": rolling_window,
        "history_policy": history,
        "rebuild_every": rebuild_every,
        "initial_events": initial_events,
    }
    try:
        settings = Settings(**options)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        raise typer.BadParameter(problems) from None
    try:
        stream = load_stream(
            scenario=scenario,
            dataset_name=dataset,
            file=file,
            label_column=label_column,
            n=n,
            position=position,
            width=width,
            seed=seed,
        )
        results = compare(stream, settings)
        names = settings.candidates if candidates is None else _names(candidates)
        ranked = rank_candidates(stream, settings, names)
    except (SourceError, DriftlineError) as error:
        raise typer.BadParameter(str(error)) from None
    refused = max(result.refused for result in results)
    if refused:
        typer.echo(f"{refused:,} events refused, as the service would dead-letter them", err=True)
    given = {
        "--scenario": scenario,
        "--dataset": dataset,
        "--file": file,
        "--label-column": label_column,
        "--n": n,
        "--position": position,
        "--width": width,
    }
    command = " ".join(f"{option} {value}" for option, value in given.items() if value is not None)
    for option, value, default in (
        ("--model", model, _default("model")),
        ("--seed", seed, _default("seed")),
        ("--rolling-window", rolling_window, DEFAULT_ROLLING_WINDOW),
        ("--history", history, _default("history_policy")),
        ("--rebuild-every", rebuild_every, _default("rebuild_every")),
        ("--initial-events", initial_events, _default("initial_events")),
        ("--candidates", candidates, None),
        ("--out", out, DEFAULT_OUT),
    ):
        if value != default:
            command += f" {option} {value}"
    environment = _environment_settings(settings, options)
    written = write_outputs(
        out,
        stream,
        results,
        settings,
        command=command.strip(),
        environment=environment,
        candidates=ranked,
    )
    typer.echo(markdown_table(results, stream.change_points))
    typer.echo(_markdown(*candidates_table(ranked)))
    for path in written:
        typer.echo(f"wrote {path}")
