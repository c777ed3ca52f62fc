"""The benchmark protocol: interleaving order, medians with spreads, verdicts and the table."""

from __future__ import annotations

import os

import pytest

from bench.http import WrkRun, parse_wrk
from bench.protocol import (
    BenchResult,
    Level,
    Spread,
    at_least,
    at_most,
    interleave,
    markdown_table,
    pinned_command,
    spread,
    versions,
)

WRK_REPORT = """Running 5s test @ http://127.0.0.1:8000/predict
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  400.00us  12.00ms   90.00%
    Req/Sec     7.60k   300.00     8.00k    70.00%
  Latency Distribution
     50%    1.98ms
     75%    2.20ms
     90%    2.50ms
     99%    3.41ms
  37800 requests in 5.00s, 7.20MB read
Requests/sec:   7559.12
Transfer/sec:      1.44MB
"""


def test_interleave_runs_every_configuration_in_turn() -> None:
    calls: list[str] = []

    def config(name: str) -> object:
        return lambda: calls.append(name) or len(calls)

    results = interleave({"a": config("a"), "b": config("b"), "c": config("c")}, repetitions=2)
    assert calls == ["a", "b", "c", "a", "b", "c"]
    assert results == {"a": [1, 4], "b": [2, 5], "c": [3, 6]}


def test_spread_is_the_median_and_range() -> None:
    assert spread([3.0, 1.0, 2.0]) == Spread(2.0, 1.0, 3.0)
    assert str(spread([1.8, 1.93, 2.1])) == "1.93 (1.80–2.10)"
    with pytest.raises(ValueError):
        spread([])


def test_levels_judge_the_median() -> None:
    result = BenchResult("B0", "x", Spread(2.5, 1.0, 9.0), "×", at_least(2.0), at_least(3.0))
    assert (result.must_met, result.stretch_met) == (True, False)
    assert result.verdict() == "must pass, stretch miss"
    bare = BenchResult("B0", "x", Spread(4.0, 4.0, 4.0), "ms")
    assert (bare.must_met, bare.stretch_met, bare.verdict()) == (None, None, "—")
    assert at_most(3.5, " ms").check(3.5) and not at_most(3.5, " ms").check(3.6)
    assert Level("odd", lambda v: v % 2 == 1).check(3.0)


def test_the_markdown_table_has_a_row_per_result() -> None:
    results = [
        BenchResult("B3", "throughput", Spread(2.31, 2.2, 2.43), "× naive", at_least(2.0)),
        BenchResult("B4", "p99", Spread(4.2, 3.9, 4.8), "ms", at_most(5.0, " ms")),
    ]
    table = markdown_table(results).splitlines()
    assert table[0] == "| id | what | median | spread | must | stretch | result |"
    assert table[2] == "| B3 | throughput | 2.31 × naive | 2.20–2.43 | ≥ 2.00 | — | must pass |"
    assert table[3] == "| B4 | p99 | 4.20 ms | 3.90–4.80 | ≤ 5.00 ms | — | must pass |"


def test_versions_name_the_libraries_and_the_machine() -> None:
    found = versions()
    for name in ("python", "river", "fastapi", "uvicorn", "scipy", "cpu", "cores", "kernel"):
        assert found[name], name
    assert found["cores"] == str(os.cpu_count())


def test_a_missing_core_leaves_the_command_unpinned() -> None:
    assert pinned_command(["wrk"], core=10_000) == ["wrk"]
    first = min(os.sched_getaffinity(0))
    assert pinned_command(["wrk", "-t1"], core=first) == ["taskset", "-c", str(first), "wrk", "-t1"]


def test_wrk_reports_are_read_in_milliseconds() -> None:
    assert parse_wrk(WRK_REPORT) == WrkRun(
        rps=7559.12, p50_ms=1.98, p99_ms=3.41, requests=37800, socket_errors=0
    )


def test_a_wrk_run_with_http_errors_is_refused() -> None:
    # A 422 comes back fast: counting it would report great throughput for a broken body.
    with pytest.raises(ValueError, match="not 2xx"):
        parse_wrk(WRK_REPORT + "  Non-2xx or 3xx responses: 37800\n")
