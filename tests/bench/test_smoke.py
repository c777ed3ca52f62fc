"""``python -m bench ... --smoke``: every benchmark runs on a tiny size and reports its ids.

The HTTP ones start their three servers; the Kafka ones use the session's broker.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from local_broker import LocalBroker

ROOT = Path(__file__).resolve().parents[2]
#: A table row: id, what, then a median that is a number with its unit.
ROW = re.compile(r"^\| (B\d+) \| [^|]+ \| ([\d,.]+) [^|]+ \| [\d,.]+–[\d,.]+ \|", re.MULTILINE)


def test_the_http_benchmarks_run_and_report_a_number_for_each_id(tmp_path: Path) -> None:
    markdown = tmp_path / "bench.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "B3", "B4", "--smoke", "--markdown", str(markdown)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.index("river: ") < out.index("B3 /predict") < out.index("| id |"), out
    rows = dict(ROW.findall(out))
    assert set(rows) == {"B3", "B4"}, out
    assert all(float(median.replace(",", "")) > 0 for median in rows.values()), rows
    assert "naive rps: " in out and "P ÷ P_floor: " in out and "naive p99 ms: " in out
    written = markdown.read_text()
    assert dict(ROW.findall(written)) == rows
    assert "cpu: " in written and "fastapi: " in written


def test_an_unknown_benchmark_is_refused_by_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "run", "B99"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "unknown benchmark B99" in done.stderr


#: Any result row: an id with an optional suffix (``B5a``, ``B2-arf``), then a number.
ANY_ROW = re.compile(r"^\| (B\d+)[^ |]* \| [^|]+ \| (-?[\d,.]+) [^|]* \|", re.MULTILINE)
KAFKA_BENCHMARKS = ["B1", "B2", "B5", "B6", "B7", "B8", "B9", "B10", "B11", "B12", "B13", "B14"]


@pytest.mark.slow
@pytest.mark.kafka
def test_every_kafka_benchmark_runs_on_a_tiny_size_and_reports_each_id(
    kafka_broker: LocalBroker,
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            *KAFKA_BENCHMARKS,
            "--smoke",
            "--bootstrap-servers",
            kafka_broker.bootstrap_servers,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout[done.stdout.index("| id |") :]
    rows = ANY_ROW.findall(table)
    assert {benchmark for benchmark, _ in rows} == set(KAFKA_BENCHMARKS), table
    assert all(median.replace(",", "").lstrip("-") for _, median in rows), table
    assert "overhead per event (µs): " in done.stdout
    assert "p99 idle (ms): " in done.stdout
