"""``python -m bench compare``: the table and the plot, from a scenario, a dataset or a file."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.__main__ import app
from bench.compare import compare, load_stream
from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
# Small enough for seconds, with rebuilds, shadow runs and decisions in every rebuilding strategy.
SMALL = ["--n", "1200", "--rolling-window", "100", "--rebuild-every", "300",
         "--initial-events", "200"]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, from the repository."""
    return subprocess.run(
        [sys.executable, "-m", "bench", "compare", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_writes_csv_markdown_and_png_and_says_where(tmp_path: Path) -> None:
    out = tmp_path / "tables"
    result = CliRunner().invoke(
        app, ["compare", "--scenario", "abrupt", "--position", "600", *SMALL, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with (out / "abrupt.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["strategy"] for row in rows] == [
        "online", "static", "periodic", "triggered", "hybrid",
    ]  # fmt: skip
    assert all(row["events learned"] == "1200" for row in rows)
    assert "min rolling accuracy after 600" in rows[0]
    markdown = (out / "abrupt.md").read_text(encoding="utf-8")
    assert "| online |" in markdown and "![abrupt](abrupt.png)" in markdown
    assert (
        f"Regenerate with `python -m bench compare --scenario abrupt --n 1200 --position 600 "
        f"--rolling-window 100 --rebuild-every 300 --initial-events 200 --out {out}`"
    ) in markdown
    assert (out / "abrupt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for suffix in ("csv", "md", "png"):
        assert f"wrote {out / f'abrupt.{suffix}'}\n" in result.output


def test_by_default_it_writes_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["compare", "--dataset", "phishing", *SMALL])
    assert result.exit_code == 0, result.output
    written = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*") if path.is_file())
    assert written == [
        Path("compare-output") / name
        for name in ("phishing-candidates.csv", "phishing.csv", "phishing.md", "phishing.png")
    ]
    assert "wrote compare-output/phishing.md\n" in result.output


def test_a_file_through_the_producers_reader_gives_the_numbers_of_its_events(
    tmp_path: Path,
) -> None:
    scenario = load_stream(scenario="abrupt", n=1_200, position=600, seed=3)
    path = tmp_path / "mine.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        names = sorted(scenario.examples[0][0])
        writer.writerow([*names, "outcome"])
        for x, y in scenario.examples:
            writer.writerow([*(repr(x[name]) for name in names), "true" if y else "false"])
    settings = Settings(rolling_window=100, rebuild_every=300, initial_events=200)

    mine = load_stream(file=path, label_column="outcome")
    assert mine.examples == scenario.examples
    from_file = compare(mine, settings, strategies=("hybrid",))
    from_scenario = compare(scenario, settings, strategies=("hybrid",))
    assert [r.metric for r in from_file] == [r.metric for r in from_scenario]
    assert [r.retrains for r in from_file] == [r.retrains for r in from_scenario]
    assert [r.rolling for r in from_file] == [r.rolling for r in from_scenario]

    result = CliRunner().invoke(
        app, ["compare", "--file", str(path), "--label-column", "outcome", *SMALL,
              "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "mine.csv").exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--no-such-option"], "Error: No such option: --no-such-option"),
        (["--scenario", "abrupt", "--dataset", "phishing"], "give one of --scenario, --dataset"),
        (["--dataset", "no-such-dataset"], "unknown dataset 'no-such-dataset'"),
        (["--file", "missing.csv", "--label-column", "y"], "no such file: missing.csv"),
    ],
    ids=["unknown option", "two sources", "unknown dataset", "missing file"],
)
def test_a_bad_request_is_the_usage_and_one_line_and_status_2(args: list[str], error: str) -> None:
    done = run(*args)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0] == "Usage: python -m bench compare [OPTIONS]"
    assert lines[1] == "Try 'python -m bench compare --help' for help."
    assert len(lines) == 3 and lines[2].startswith("Error: ") and error in lines[2], lines
    assert done.stdout == ""


def test_a_file_without_labels_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "unlabelled.jsonl"
    path.write_text('{"x": 1.0}\n{"x": 2.0}\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["compare", "--file", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "has no labelled event to learn from (give --label-column)" in result.output
    assert list(tmp_path.iterdir()) == [path]


def test_it_ranks_the_candidates_beside_the_no_change_baseline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["compare", "--dataset", "phishing", *SMALL, "--candidates", "pa", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    with (out / "phishing-candidates.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["candidate"] for row in rows} == {"pa", "nochange"}
    assert [row["rank"] for row in rows] == ["1", "2"]
    nochange = next(row for row in rows if row["candidate"] == "nochange")
    assert nochange["kappa-temporal"] == "0.0000"  # no-change against itself
    assert "| kappa-temporal |" in (out / "phishing.md").read_text(encoding="utf-8")
