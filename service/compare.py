"""``python -m service.compare``: every retraining strategy on one stream, side by side.

One stream (a drift scenario of the producer, or one of River's bundled datasets) is replayed
through each strategy in turn, in one process, test-then-train, exactly as the service's learner
would (:class:`~service.strategies.replay.PrequentialRun`), with rebuilds run inline so that the
result is the same on every run. It writes, in ``--out``:

* ``{name}.csv`` and ``{name}.md``: per strategy, the prequential accuracy (MAE for a
  regressor), the worst rolling value after each change point, rebuilds promoted / rejected /
  rolled back, CPU seconds spent rebuilding and learning online, the memory-set score (what the
  final model still knows of everything seen), and the events seen (always the stream length);
* ``{name}.png``: the rolling metric over time per strategy, the change points as vertical lines
  and each gate decision as a marker (● promoted, × rejected, ■ rolled back).

Examples
--------
>>> from producer.scenarios import make_scenario
>>> scenario = make_scenario("abrupt", n=3_000, position=1_500, seed=1)
>>> results = compare(list(scenario), scenario.change_points, strategies=("static", "online"),
...                   model="logreg", seed=42, window=200, config=StrategyConfig())
>>> [(r.strategy, r.events_seen) for r in results]
[('static', 3000), ('online', 3000)]
>>> results[1].metric > results[0].metric + 0.1
True
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from service.strategies import (
    STRATEGY_NAMES,
    ModelManager,
    PrequentialRun,
    PromotionDecision,
    RisingErrorDetector,
    StrategyConfig,
    StrategyName,
)

__all__ = ["StrategyResult", "app", "compare", "main", "markdown_table", "plot", "write_csv"]

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("docs/strategies")
# The rolling window of the comparison: shorter than the service's 1,000 so that the dip at a
# change and the recovery after it are sharp in the plot.
DEFAULT_WINDOW = 500
# The memory set is scored every this many events (the service's default is sparser, to keep the
# hot path cheap): ten scores over a 10,000-event stream.
MEMORY_EVERY = 1_000
# The plot: wide enough for 10,000 events, small enough to commit (about 100 kB).
_FIGSIZE = (11.0, 5.0)
_DPI = 90
_MARKERS = {"promoted": "o", "rejected": "x", "rolled_back": "s", "failed": "^"}


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's run over the stream."""

    strategy: StrategyName
    task: str
    metric: float
    """Prequential accuracy (MAE) over the whole stream."""
    worst_after_change: list[float]
    """The lowest rolling accuracy (highest MAE) between each change point and the next."""
    decisions: list[PromotionDecision]
    cpu_rebuild: float
    cpu_online: float
    memory_score: float
    events_seen: int
    final_version: int
    rolling: list[float]
    """The rolling metric after each event."""

    def count(self, outcome: str) -> int:
        """Decisions with this outcome."""
        return sum(1 for decision in self.decisions if decision.outcome == outcome)


def run_strategy(
    strategy: StrategyName,
    events: Sequence[tuple[dict[str, Any], Any]],
    change_points: Sequence[int],
    *,
    model: str,
    seed: int,
    window: int,
    config: StrategyConfig,
) -> StrategyResult:
    """Test-then-train ``events`` through one strategy, rebuilding inline."""
    settings = config.model_copy(update={"strategy": strategy, "rebuild_background": False})
    manager = ModelManager.from_config(settings, model=model, seed=seed, clock=_EventClock())
    run = PrequentialRun(manager, rolling_window=window, detector=RisingErrorDetector())
    rolling: list[float] = []
    for offset, (x, y) in enumerate(events):
        run.learn(x, y, offset)
        rolling.append(run.rolling_metric)
    stats = manager.stats()
    worst = min if manager.task == "classification" else max
    bounds = [*change_points, len(events)]
    return StrategyResult(
        strategy=strategy,
        task=manager.task,
        metric=run.metric,
        worst_after_change=[worst(rolling[start:end]) for start, end in itertools.pairwise(bounds)],
        decisions=manager.decisions(),
        cpu_rebuild=stats["cpu_seconds"]["rebuild"],
        cpu_online=stats["cpu_seconds"]["online"],
        memory_score=manager.memory_score,
        events_seen=manager.events_seen,
        final_version=manager.version,
        rolling=rolling,
    )


class _EventClock:
    """A clock that never moves: the comparison schedules by events, so timing cannot leak in."""

    def __call__(self) -> float:
        return 0.0


def compare(
    events: Sequence[tuple[dict[str, Any], Any]],
    change_points: Sequence[int],
    *,
    strategies: Sequence[StrategyName] = STRATEGY_NAMES,
    model: str,
    seed: int,
    window: int,
    config: StrategyConfig,
) -> list[StrategyResult]:
    """Run every strategy over the same events, one after the other."""
    results = []
    for strategy in strategies:
        logger.info("replaying %d events through %s", len(events), strategy)
        results.append(
            run_strategy(
                strategy,
                events,
                change_points,
                model=model,
                seed=seed,
                window=window,
                config=config,
            )
        )
    return results


def _columns(results: Sequence[StrategyResult], change_points: Sequence[int]) -> list[str]:
    metric = "accuracy" if results[0].task == "classification" else "MAE"
    worst = "min rolling accuracy" if metric == "accuracy" else "max rolling MAE"
    return [
        "strategy",
        f"prequential {metric}",
        *(f"{worst} after {point}" for point in change_points),
        "rebuilds promoted",
        "rebuilds rejected",
        "rolled back",
        "CPU s rebuild",
        "CPU s online",
        f"memory-set {metric}",
        "events seen",
    ]


def _rows(results: Sequence[StrategyResult]) -> list[list[str]]:
    return [
        [
            result.strategy,
            f"{result.metric:.4f}",
            *(f"{value:.4f}" for value in result.worst_after_change),
            str(result.count("promoted")),
            str(result.count("rejected")),
            str(result.count("rolled_back")),
            f"{result.cpu_rebuild:.3f}",
            f"{result.cpu_online:.3f}",
            "" if math.isnan(result.memory_score) else f"{result.memory_score:.4f}",
            str(result.events_seen),
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
    columns = _columns(results, change_points)
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in _rows(results)]
    return "\n".join(lines) + "\n"


def plot(
    path: Path,
    results: Sequence[StrategyResult],
    change_points: Sequence[int],
    *,
    title: str,
    window: int,
) -> None:
    """The rolling metric per strategy, change points and gate decisions, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=_FIGSIZE, dpi=_DPI)
    try:
        for result in results:
            (line,) = axes.plot(result.rolling, linewidth=1.2, label=result.strategy)
            for decision in result.decisions:
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


def _load(
    scenario: str, dataset_name: str | None, n: int, position: int | None, width: int, seed: int
) -> tuple[str, list[tuple[dict[str, Any], Any]], list[int], str]:
    if dataset_name is not None:
        from producer.sources import dataset, dataset_info

        info = dataset_info(dataset_name)
        events = [(x, y) for x, y in dataset(dataset_name) if y is not None][:n]
        return dataset_name, events, [], info.description
    from producer.scenarios import SCENARIOS, make_scenario

    built = make_scenario(scenario, n=n, position=position, width=width, seed=seed)
    return scenario, list(built), built.change_points, SCENARIOS[scenario]


app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0] if __doc__ else None)


@app.command()
def main(
    scenario: Annotated[
        str, typer.Option(help="Producer drift scenario: abrupt, gradual, recurring, ...")
    ] = "abrupt",
    dataset: Annotated[
        str | None, typer.Option(help="A River dataset instead (e.g. bananas, phishing).")
    ] = None,
    n: Annotated[int, typer.Option(help="Events in the stream (at most, for a dataset).")] = 10_000,
    position: Annotated[
        int | None, typer.Option(help="Change point (recurring: period); default: half-way.")
    ] = None,
    width: Annotated[int, typer.Option(help="Width of a gradual change, in events.")] = 1_000,
    seed: Annotated[int, typer.Option(envvar="DRIFTLINE_SEED", help="Seed.")] = 42,
    model: Annotated[
        str, typer.Option(envvar="DRIFTLINE_MODEL", help="Registry name of the model.")
    ] = "logreg",
    out: Annotated[Path, typer.Option(help="Directory for the CSV, Markdown and PNG.")] = (
        DEFAULT_OUT
    ),
    window: Annotated[int, typer.Option(help="Rolling window, in events.")] = DEFAULT_WINDOW,
    history: Annotated[str, typer.Option(help="History policy: all, window, decay.")] = "window",
    rebuild_every: Annotated[
        int, typer.Option(help="Periodic rebuild interval (periodic, hybrid), in events.")
    ] = StrategyConfig.model_fields["rebuild_every"].default,
    initial_events: Annotated[
        int, typer.Option(help="Events every strategy's first model learns online.")
    ] = StrategyConfig.model_fields["initial_events"].default,
) -> None:
    """Replay one stream through every strategy; write a table (CSV, Markdown) and a plot."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    config = StrategyConfig.model_validate(
        {
            "history_policy": history,
            "rebuild_every": rebuild_every,
            "initial_events": initial_events,
            "memory_set_every": MEMORY_EVERY,
        }
    )
    name, events, change_points, description = _load(scenario, dataset, n, position, width, seed)
    results = compare(events, change_points, model=model, seed=seed, window=window, config=config)
    source = f"--dataset {dataset}" if dataset else f"--scenario {scenario}"
    command = f"{source} --n {n} --model {model} --seed {seed} --window {window}"
    for option, value, default in (
        ("position", position, None),
        ("history", history, "window"),
        ("rebuild-every", rebuild_every, StrategyConfig.model_fields["rebuild_every"].default),
        ("initial-events", initial_events, StrategyConfig.model_fields["initial_events"].default),
    ):
        if value != default:
            command += f" --{option} {value}"
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / f"{name}.csv", results, change_points)
    table = markdown_table(results, change_points)
    where = f", changes at {', '.join(map(str, change_points))}" if change_points else ""
    (out / f"{name}.md").write_text(
        f"### {name}: {description}\n\n"
        f"{len(events):,} events{where}; model `{model}`, seed {seed}, rolling window "
        f"{window}, history `{history}`, memory set scored every {MEMORY_EVERY:,} events. "
        f"Regenerate with `python -m service.compare {command}`.\n\n"
        f"{table}\n![{name}]({name}.png)\n",
        encoding="utf-8",
    )
    plot(
        out / f"{name}.png",
        results,
        change_points,
        title=f"{name}: rolling metric per strategy ({model})",
        window=window,
    )
    typer.echo(table)


if __name__ == "__main__":
    app()
