"""``python -m bench``: run Driftline's benchmarks and print their ratios in one table.

    python -m bench all                       # every registered benchmark
    python -m bench run B3 B4                 # some of them
    python -m bench run B3 B4 --smoke         # tiny sizes, seconds: proves they run
    python -m bench all --markdown bench.md   # the table and versions, for README
    python -m bench compare --scenario abrupt # every retraining strategy on one stream

It prints the versions first, then each result as it completes, then the table. ``compare``
(:mod:`bench.compare`) writes its tables and plot into ``./compare-output/`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated

import typer

from bench import candidates, compare, feedback, http, ingest, leaderboard, memory, serving
from bench.protocol import BenchOptions, BenchResult, markdown_table, versions

#: Benchmark id -> the function producing it. One function may produce several ids (B3 and B4
#: come from the same wrk runs): it is listed under each and runs once.
BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]] = {
    "B1": ingest.run,
    "B2": ingest.run,
    "B3": http.run,
    "B4": http.run,
    "B5": serving.interference,
    "B6": serving.freshness,
    "B7": ingest.run,
    "B8": ingest.run,
    "B9": serving.checkpoint_pause,
    "B10": memory.growth,
    "B11": serving.rebuild_no_stall,
    "B12": feedback.served_cost,
    "B13": feedback.pending_memory,
    "B14": candidates.ingest_with_candidates,
}

# Plain click output: a usage error is the usage and one line saying what is wrong (rich would
# draw it in a box, wrapped to the terminal's width).
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None)

Smoke = Annotated[bool, typer.Option(help="Tiny sizes (seconds); numbers mean nothing.")]
Repetitions = Annotated[int, typer.Option(min=1, help="Interleaved repetitions per ratio.")]
MarkdownFile = Annotated[
    Path | None, typer.Option(help="Write the table and the versions to this file.")
]
BootstrapServers = Annotated[
    str | None, typer.Option(help="A running Kafka broker (default: start one when needed).")
]


def _versions_block(found: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in found.items())


def _benchmark_id(result_id: str) -> str:
    """``B5`` for the results ``B5a``, ``B5b``, ``B2-arf``: a benchmark may report several."""
    found = re.match(r"B\d+", result_id)
    return found.group() if found else result_id


def run_benchmarks(ids: Iterable[str], options: BenchOptions) -> list[BenchResult]:
    """Run each function behind ``ids`` once, printing results as they complete."""
    wanted = list(dict.fromkeys(ids))
    results: list[BenchResult] = []
    done: set[Callable[[BenchOptions], list[BenchResult]]] = set()
    for benchmark_id in wanted:
        function = BENCHMARKS[benchmark_id]
        if function in done:
            continue
        done.add(function)
        for result in function(options):
            if _benchmark_id(result.id) in wanted:
                print(result, flush=True)
                results.append(result)
    return results


def _main(
    ids: list[str],
    smoke: bool,
    repetitions: int,
    markdown: Path | None,
    bootstrap_servers: str | None,
) -> None:
    unknown = [i for i in ids if i not in BENCHMARKS]
    if unknown:
        raise typer.BadParameter(
            f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    found = versions()
    print(_versions_block(found), flush=True)
    options = BenchOptions(
        smoke=smoke, repetitions=repetitions, bootstrap_servers=bootstrap_servers
    )
    results = run_benchmarks(ids, options)
    table = markdown_table(results)
    print(table)
    if markdown is not None:
        markdown.write_text(f"{table}\n\n```\n{_versions_block(found)}\n```\n")


@app.command("all")
def run_all(
    smoke: Smoke = False,
    repetitions: Repetitions = 3,
    markdown: MarkdownFile = None,
    bootstrap_servers: BootstrapServers = None,
) -> None:
    """Run every registered benchmark."""
    _main(list(BENCHMARKS), smoke, repetitions, markdown, bootstrap_servers)


@app.command("run")
def run_some(
    ids: Annotated[list[str], typer.Argument(help="Benchmark ids, e.g. B3 B4.")],
    smoke: Smoke = False,
    repetitions: Repetitions = 3,
    markdown: MarkdownFile = None,
    bootstrap_servers: BootstrapServers = None,
) -> None:
    """Run the benchmarks with these ids."""
    _main([i.upper() for i in ids], smoke, repetitions, markdown, bootstrap_servers)


app.command("compare")(compare.main)
app.command("leaderboard")(leaderboard.main)


if __name__ == "__main__":
    app()
