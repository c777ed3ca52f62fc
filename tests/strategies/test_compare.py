"""``python -m service.compare`` writes the table and the plot."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from service.compare import app


def test_the_command_writes_csv_markdown_and_png(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["--scenario", "abrupt", "--n", "1500", "--position", "750", "--out", str(tmp_path),
         "--window", "100", "--rebuild-every", "300"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with (tmp_path / "abrupt.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["strategy"] for row in rows] == [
        "online", "static", "periodic", "triggered", "hybrid",
    ]  # fmt: skip
    assert all(row["events seen"] == "1500" for row in rows)
    assert "min rolling accuracy after 750" in rows[0]
    markdown = (tmp_path / "abrupt.md").read_text(encoding="utf-8")
    assert "| online |" in markdown and "![abrupt](abrupt.png)" in markdown
    assert (tmp_path / "abrupt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
