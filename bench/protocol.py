"""The protocol every Driftline benchmark follows, so that results from one run compare.

This 2-core VM is noisy (one config varied 2.9× between repetitions), so a benchmark never
gates on an absolute number: it pins the service to one core and its load to the other, runs
its configurations interleaved (A B C, A B C, ...), and reports the median of same-run ratios
with their spread. Absolute numbers go to ``details``, printed and never asserted.

Examples
--------
>>> results = interleave({"a": lambda: 1.0, "b": lambda: 2.0}, repetitions=3)
>>> ratio = spread([b / a for a, b in zip(results["a"], results["b"], strict=True)])
>>> str(ratio)
'2.00 (2.00–2.00)'
>>> result = BenchResult("B0", "doubling", ratio, "×", must=at_least(1.5), stretch=at_least(3.0))
>>> result.must_met, result.stretch_met
(True, False)
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import shutil
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

__all__ = [
    "LOAD_CORE",
    "SERVICE_CORE",
    "BenchOptions",
    "BenchResult",
    "Level",
    "Spread",
    "at_least",
    "at_most",
    "child_processes",
    "interleave",
    "markdown_table",
    "number",
    "pin",
    "pinned_command",
    "ratios",
    "spread",
    "versions",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The service under test runs alone on this core ...
SERVICE_CORE = 0
#: ... and everything that loads it (wrk, producers, the broker) on this one, so the load
#: generator never steals the service's CPU.
LOAD_CORE = 1

#: Distributions whose versions move the numbers (SciPy once made GaussianNB 100× costlier).
_DISTRIBUTIONS = (
    "river",
    "kafka-python",
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "orjson",
    "prometheus-client",
    "scipy",
    "numpy",
)


@dataclass(frozen=True)
class BenchOptions:
    """What every benchmark function receives from ``python -m bench``.

    ``smoke`` asks for a tiny size that finishes in seconds and only proves the benchmark runs;
    its numbers mean nothing. ``bootstrap_servers`` names a running Kafka broker for the
    benchmarks that need one (``None``: they start their own).
    """

    smoke: bool = False
    repetitions: int = 3
    bootstrap_servers: str | None = None
    model: str = "logreg"


def _core_exists(core: int) -> bool:
    # Not this thread's affinity: a benchmark may have narrowed it to one core on purpose.
    return 0 <= core < (os.cpu_count() or 1)


def pin(pid: int, core: int) -> None:
    """Move every thread of a running process onto ``core``.

    Threads a process starts later inherit the affinity of the thread that starts them. On a
    machine without that core this only logs a note: the numbers are then less trustworthy,
    not wrong.
    """
    if not _core_exists(core):
        log.warning("core %d does not exist here: process %d is not pinned", core, pid)
        return
    tasks = Path(f"/proc/{pid}/task")
    thread_ids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [pid]
    for thread_id in thread_ids:
        try:
            os.sched_setaffinity(thread_id, {core})
        except ProcessLookupError:  # the thread ended meanwhile
            continue


def pinned_command(command: list[str], core: int) -> list[str]:
    """``command`` run on ``core`` only, from its first instruction (``taskset -c``)."""
    if not _core_exists(core) or shutil.which("taskset") is None:
        log.warning("cannot pin to core %d here: running %s unpinned", core, command[0])
        return list(command)
    return ["taskset", "-c", str(core), *command]


def number(value: float) -> str:
    """A measured value with as many digits as the noise allows."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements and their range: one number hides the noise."""

    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{number(self.median)} ({number(self.low)}–{number(self.high)})"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Per-repetition ratios of two interleaved configurations (the same length, in order)."""
    return [a / b for a, b in zip(numerators, denominators, strict=True)]


def child_processes(pid: int) -> list[int]:
    """The pids of ``pid``'s child processes, whichever of its threads started them."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:  # the thread ended meanwhile
            continue
    return found


def spread(values: Sequence[float]) -> Spread:
    """Median, lowest and highest of ``values``."""
    if not values:
        raise ValueError("no values to summarize")
    return Spread(statistics.median(values), min(values), max(values))


def interleave(runs: dict[str, Callable[[], T]], repetitions: int) -> dict[str, list[T]]:
    """Run every configuration once per repetition, in turn (A B C, A B C, ...).

    A slow minute of the VM then hurts every configuration of that repetition alike, so the
    ratios within one repetition stay fair. Returns each configuration's results in order.
    """
    if repetitions < 1:
        raise ValueError("at least one repetition")
    results: dict[str, list[T]] = {name: [] for name in runs}
    for _ in range(repetitions):
        for name, run in runs.items():
            results[name].append(run())
    return results


@dataclass(frozen=True)
class Level:
    """A target level, as README states it (``text``) and as a check of the median."""

    text: str
    check: Callable[[float], bool] = field(compare=False)


def at_least(threshold: float, unit: str = "") -> Level:
    """Met when the median is ``threshold`` or more."""
    return Level(f"≥ {number(threshold)}{unit}", lambda value: value >= threshold)


def at_most(threshold: float, unit: str = "") -> Level:
    """Met when the median is ``threshold`` or less."""
    return Level(f"≤ {number(threshold)}{unit}", lambda value: value <= threshold)


@dataclass
class BenchResult:
    """One benchmark's outcome: the gated median with its spread, and absolute numbers aside."""

    id: str
    title: str
    measured: Spread
    unit: str
    must: Level | None = None
    stretch: Level | None = None
    details: dict[str, str] = field(default_factory=dict)

    @property
    def must_met(self) -> bool | None:
        return None if self.must is None else self.must.check(self.measured.median)

    @property
    def stretch_met(self) -> bool | None:
        return None if self.stretch is None else self.stretch.check(self.measured.median)

    def verdict(self) -> str:
        """``must pass, stretch miss``; a level that is not set is left out."""
        parts = [
            f"{name} {'pass' if met else 'miss'}"
            for name, met in (("must", self.must_met), ("stretch", self.stretch_met))
            if met is not None
        ]
        return ", ".join(parts) or "—"

    def __str__(self) -> str:
        lines = [
            f"{self.id} {self.title}: {self.measured} {self.unit}  [{self.verdict()}]",
            *(f"    {key}: {value}" for key, value in self.details.items()),
        ]
        return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _wrk_version() -> str:
    if shutil.which("wrk") is None:
        return "not installed"
    run = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (run.stdout or run.stderr).splitlines()
    return first[0].split(" [")[0].removeprefix("wrk ") if first else "unknown"


def versions() -> dict[str, str]:
    """Everything a published number depends on: library versions, CPU, cores, kernel."""
    found = {"python": platform.python_version()}
    for name in _DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    found["wrk"] = _wrk_version()
    found["cpu"] = _cpu_model()
    found["cores"] = str(os.cpu_count())
    found["kernel"] = platform.release()
    return found


def markdown_table(results: list[BenchResult]) -> str:
    """The results as README's table: one row per result, levels and verdict included."""
    rows = [
        "| id | what | median | spread | must | stretch | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        measured = r.measured
        rows.append(
            f"| {r.id} | {r.title} | {number(measured.median)} {r.unit} "
            f"| {number(measured.low)}–{number(measured.high)} "
            f"| {r.must.text if r.must else '—'} | {r.stretch.text if r.stretch else '—'} "
            f"| {r.verdict()} |"
        )
    return "\n".join(rows)
