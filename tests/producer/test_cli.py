"""The command line, through typer's CliRunner: help, list, dry runs and errors (no broker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from producer import __main__ as cli
from producer.publish import PublishError, PublishSummary
from producer.scenarios import SCENARIOS
from producer.sources import DATASETS, STREAMS
from service.events import Event, decode_event

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(cli.app, list(args), env={"COLUMNS": "200", **(env or {})})


def flat(text: str) -> str:
    """Help text with rich's wrapping undone."""
    return " ".join(text.split())


def lines(result: Result) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("args", [["--help"], ["scenario", "--help"]])
def test_help_lists_every_scenario_with_its_description(args: list[str]) -> None:
    result = run(*args)

    assert result.exit_code == 0
    for name, description in SCENARIOS.items():
        assert f"{name}: {flat(description)}" in flat(result.stdout)


def test_help_shows_env_vars_and_defaults_of_the_delivery_options() -> None:
    text = flat(run("dataset", "--help").stdout)

    for expected in (
        "DRIFTLINE_TOPIC",
        "driftline.events",
        "DRIFTLINE_BOOTSTRAP_SERVERS",
        "localhost:9092",
        "--rate",
        "--limit",
        "--ids",
        "--dry-run",
        "--quiet",
        "--partitions",
    ):
        assert expected in text


def test_list_names_every_dataset_stream_and_scenario() -> None:
    result = run("list")

    assert result.exit_code == 0
    for name in [*DATASETS, *STREAMS, *SCENARIOS]:
        assert name in result.stdout


def test_scenario_dry_run_prints_valid_events_and_a_summary_on_stderr() -> None:
    result = run("scenario", "abrupt", "--n", "50", "--position", "25", "--dry-run", "--ids")

    assert result.exit_code == 0, result.stderr
    events = [decode_event(line.encode()) for line in result.stdout.splitlines()]
    assert len(events) == 50
    assert all(isinstance(e, Event) for e in events)
    assert [e.id for e in events if isinstance(e, Event)] == [str(i) for i in range(50)]
    assert result.stderr.startswith("sent 50 events to stdout in ")


def test_dry_run_output_is_determined_by_the_seed() -> None:
    def output(seed: str) -> str:
        return run("synth", "agrawal-drift", "--limit", "20", "--seed", seed, "--dry-run").stdout

    assert output("1") == output("1")
    assert output("1") != output("2")


def test_dataset_dry_run_respects_the_limit() -> None:
    result = run("dataset", "phishing", "--limit", "5", "--dry-run", "--quiet")

    assert result.exit_code == 0
    assert len(lines(result)) == 5
    assert result.stderr == ""
    assert all(type(event["label"]) is bool for event in lines(result))


def test_file_with_a_label_column(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("x,colour,y\n1,red,true\n2,,false\n")

    result = run("file", str(csv), "--label-column", "y", "--dry-run", "-q")

    assert result.exit_code == 0, result.stderr
    assert lines(result) == [
        {"features": {"x": 1.0, "colour": "red"}, "label": True},
        {"features": {"x": 2.0}, "label": False},
    ]


def test_output_writes_json_lines_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"

    result = run("scenario", "covariate", "--n", "10", "--output", str(target))

    assert result.exit_code == 0
    assert result.stdout == ""
    assert len(target.read_bytes().splitlines()) == 10
    assert f"sent 10 events to {target}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scenario", "sudden"], "unknown scenario 'sudden'"),
        (["synth", "elec2"], "unknown stream 'elec2'"),
        (["dataset", "elec2"], "unknown dataset 'elec2'"),
        (["file", "missing.csv"], "no such file: missing.csv"),
        (["scenario", "abrupt", "--n", "10", "--position", "10"], "position must be between"),
        (["synth", "hyperplane", "--concept", "1"], "has no concept to choose"),
    ],
)
def test_bad_requests_exit_2_with_one_line_on_stderr(args: list[str], message: str) -> None:
    result = run(*args, "--dry-run")

    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("driftline-producer: error: ")
    assert message in line


def test_an_unknown_label_column_exits_2(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("x,y\n1,2\n")

    result = run("file", str(csv), "--label-column", "label", "--dry-run")

    assert result.exit_code == 2
    assert "has no column 'label' (its columns: x, y)" in result.stderr


class FakePublish:
    """Stands in for the Kafka side: records what it was asked and consumes the messages."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def __call__(self, messages: Any, **options: Any) -> PublishSummary:
        self.calls.append({"messages": list(messages), **options})
        if self.error is not None:
            raise self.error
        return PublishSummary(
            sent=len(self.calls[-1]["messages"]), seconds=0.5, destination=options["topic"]
        )


def test_without_dry_run_events_go_to_kafka_with_options_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakePublish()
    monkeypatch.setattr(cli, "publish", fake)
    env = {
        "DRIFTLINE_TOPIC": "events.from.env",
        "DRIFTLINE_BOOTSTRAP_SERVERS": "broker:19092",
        "DRIFTLINE_TOPIC_PARTITIONS": "3",
    }

    result = run("dataset", "bananas", "--limit", "7", "--rate", "50", env=env)

    assert result.exit_code == 0, result.stderr
    [call] = fake.calls
    assert len(call["messages"]) == 5300  # the limit is applied by publish
    assert {k: call[k] for k in ("topic", "bootstrap_servers", "partitions", "rate", "limit")} == {
        "topic": "events.from.env",
        "bootstrap_servers": "broker:19092",
        "partitions": 3,
        "rate": 50.0,
        "limit": 7,
    }
    assert call["total"] == 5300
    assert "sent 5,300 events to events.from.env" in result.stderr


def test_options_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakePublish()
    monkeypatch.setattr(cli, "publish", fake)

    result = run(
        "scenario",
        "stationary",
        "--n",
        "3",
        "--topic",
        "mine",
        env={"DRIFTLINE_TOPIC": "theirs"},
    )

    assert result.exit_code == 0
    assert fake.calls[0]["topic"] == "mine"


def test_a_delivery_failure_exits_1_with_one_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "publish", FakePublish(PublishError("no Kafka broker answered")))

    result = run("scenario", "abrupt", "--n", "10")

    assert result.exit_code == 1
    assert result.stderr == "driftline-producer: error: no Kafka broker answered\n"
