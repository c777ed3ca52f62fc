"""``python -m bench run B3 B4 --smoke`` starts the three servers, loads them and reports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
