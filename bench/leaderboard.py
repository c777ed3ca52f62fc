"""``python -m bench leaderboard``: every candidate and the leader-following service on a suite
of streams, through the service's own learner.

Each stream (River's bundled datasets and its synthetic generators: abrupt, gradual, recurring
and incremental drift; binary, multiclass and regression) is learned once by a learner built as
the service builds it (:func:`service.factory.build_learner`) with ``DRIFTLINE_CANDIDATES`` set
to the task's candidate list and ``DRIFTLINE_FOLLOW_LEADER=true``, serving the list's first
model at the start. So one pass gives every candidate's prequential metric (each measured as
River measures it alone) and what the leader-following service served. The table gives the
prequential accuracy (MAE for regressors) of each, the best single candidate, and the
follower's distance to it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from producer.messages import Example, encode_event
from producer.scenarios import make_scenario
from producer.sources import dataset, synth
from service.config import Settings
from service.events import Rejection, decode_event
from service.factory import build_learner

__all__ = ["SuiteStream", "main", "run_stream", "suite"]

BINARY = ["logreg", "pa", "hoeffding", "arf", "amf", "knn", "nochange"]
MULTICLASS = ["ovr", "hoeffding", "arf", "knn", "nochange"]
REGRESSION = ["linreg", "pa_reg", "hoeffding_reg", "arf_reg", "amf_reg", "knn_reg", "nochange_reg"]


@dataclass(frozen=True)
class SuiteStream:
    """One stream of the suite and the candidates its task takes."""

    name: str
    what: str
    candidates: list[str]
    examples: list[Example]


def _take(examples: Iterable[Example], n: int) -> list[Example]:
    return list(itertools.islice(examples, n))


def suite(n: int) -> list[SuiteStream]:
    """The streams, at most ``n`` events each."""
    half = n // 2
    return [
        SuiteStream("phishing", "real, binary", BINARY, _take(dataset("phishing"), n)),
        SuiteStream("bananas", "real, binary", BINARY, _take(dataset("bananas"), n)),
        SuiteStream(
            "agrawal-drift",
            "abrupt drift, binary",
            BINARY,
            _take(synth("agrawal-drift", position=half, width=1), n),
        ),
        SuiteStream(
            "sea-drift",
            "gradual drift, binary",
            BINARY,
            _take(synth("sea-drift", position=half, width=n // 5), n),
        ),
        SuiteStream(
            "stagger-drift",
            "abrupt drift, nominal features",
            BINARY,
            _take(synth("stagger-drift", position=half, width=1), n),
        ),
        SuiteStream("hyperplane", "incremental drift", BINARY, _take(synth("hyperplane"), n)),
        SuiteStream(
            "recurring",
            "recurring drift, binary",
            BINARY,
            list(make_scenario("recurring", n=n, position=n // 4, seed=3)),
        ),
        SuiteStream(
            "image-segments", "real, 7 classes", MULTICLASS, _take(dataset("image-segments"), n)
        ),
        SuiteStream(
            "led-drift",
            "drift, 10 classes",
            MULTICLASS,
            _take(synth("led-drift", position=half), n),
        ),
        SuiteStream(
            "trump-approval", "real, regression", REGRESSION, _take(dataset("trump-approval"), n)
        ),
        SuiteStream(
            "friedman-drift",
            "recurring drift, regression",
            REGRESSION,
            _take(synth("friedman-drift", position=n // 3), n),
        ),
    ]


def run_stream(stream: SuiteStream, settings: Settings) -> dict[str, float]:
    """Each candidate's prequential metric and the follower's (under ``"follow"``)."""
    learner = build_learner(
        settings.model_copy(
            update={
                "model": stream.candidates[0],
                "candidates": stream.candidates,
                "follow_leader": True,
                "rebuild_background": False,
                "candidates_budget_us": 1e12,
            }
        )
    )
    for offset, (x, y) in enumerate(stream.examples):
        event = decode_event(encode_event(x, y), max_magnitude=settings.max_magnitude)
        if isinstance(event, Rejection):
            continue
        try:
            learner.learn(event, 0, offset)
        except Exception:  # refused, as the service would dead-letter it
            continue
    key = "accuracy" if learner.task == "classification" else "mae"
    scores = {row.name: row.cumulative[key] for row in learner.leaderboard()}
    scores["follow"] = learner.values().cumulative[key]
    scores["switches"] = float(sum(1 for v in learner.versions()[0] if v.trigger == "leader"))
    learner.close()
    return scores


def _table(rows: list[tuple[SuiteStream, dict[str, float]]]) -> str:
    lines = [
        "| stream | what | candidates (prequential accuracy, or MAE) | best | following the "
        "leader | behind the best | leader switches |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for stream, scores in rows:
        regression = stream.candidates is REGRESSION
        singles = {name: scores[name] for name in stream.candidates}
        ordered = sorted(singles, key=lambda name: singles[name], reverse=not regression)
        best = ordered[0]
        follow = scores["follow"]
        if regression:
            behind = f"{(follow - singles[best]) / singles[best] * 100:+.1f}% of the MAE"
        else:
            behind = f"{(singles[best] - follow) * 100:+.2f} points"
        listed = ", ".join(f"`{n}` {singles[n]:.4g}" for n in stream.candidates)
        lines.append(
            f"| {stream.name} ({len(stream.examples):,}) | {stream.what} | {listed} | `{best}` "
            f"| {follow:.4g} | {behind} | {int(scores['switches'])} |"
        )
    return "\n".join(lines) + "\n"


def main(
    n: Annotated[int, typer.Option(min=100, help="Events per stream (at most).")] = 10_000,
    out: Annotated[Path | None, typer.Option(help="Also write the table to this file.")] = None,
) -> None:
    """Every candidate and the leader-following service on a suite of streams: one table."""
    settings = Settings()
    rows = []
    for stream in suite(n):
        typer.echo(f"{stream.name}: {len(stream.examples):,} events ...", err=True)
        rows.append((stream, run_stream(stream, settings)))
    table = _table(rows)
    typer.echo(table)
    if out is not None:
        out.write_text(table, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)
    if any(math.isnan(score) for _, scores in rows for score in scores.values()):
        typer.echo("some scores are NaN: a model never predicted", err=True)
