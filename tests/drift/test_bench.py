"""The detector benchmark's scoring: what counts as a detection, an extra or a false alarm."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bench.drift_detection import app, markdown_table, score_alarms


def test_the_first_alarm_after_a_change_detects_it_and_later_ones_are_extra() -> None:
    score = score_alarms([5_030, 5_040, 5_900], starts=[5_000], n=10_000)
    assert (score.delays, score.extra, score.false_alarms, score.missed) == ([30], 2, 0, 0)


def test_an_alarm_before_a_change_or_too_late_after_it_is_false() -> None:
    score = score_alarms([100, 7_500], starts=[5_000], n=10_000, max_delay=2_000)
    assert (score.detected, score.missed, score.false_alarms) == (0, 1, 2)
    assert score.false_alarm_rate == pytest.approx(2.0)


def test_a_change_window_ends_at_the_next_change() -> None:
    score = score_alarms([5_100, 6_050], starts=[5_000, 6_000], n=10_000)
    assert score.delays == [100, 50]


def test_no_change_no_alarm_scores_nothing() -> None:
    score = score_alarms([], starts=[], n=10_000)
    assert (score.changes, score.false_alarms, score.median_delay) == (0, 0, None)


def test_markdown_tables_right_align_numbers() -> None:
    table = markdown_table(["name", "delay"], [["adwin", 47], ["ddm", None]])
    assert table.splitlines() == [
        "| name | delay |",
        "|---|---:|",
        "| adwin | 47 |",
        "| ddm | – |",
    ]


def test_the_benchmark_runs_end_to_end_and_writes_markdown(tmp_path) -> None:
    out = tmp_path / "drift.md"
    result = CliRunner().invoke(
        app,
        ["--seeds", "1", "--events", "3000", "--detectors", "adwin,ddm", "--markdown", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "### Concept drift, monitor defaults" in out.read_text()
    assert "| adwin |" in result.output
