"""deploy/prometheus: promtool accepts the config and the rules, and the rules' unit tests pass.

promtool comes from Debian's ``prometheus`` package (scripts/bootstrap.sh installs it); a
missing promtool fails these tests.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.promql import comparison_thresholds, metric_names
from tests.deploy.sources import (
    ALERTS,
    ALERTS_TEST,
    PROMETHEUS_CONFIG,
    README,
    ROOT,
    alert_rules,
    load_yaml,
)

SEVERITIES = {"info", "warning", "critical"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is not installed: install Debian's prometheus package "
            "(scripts/bootstrap.sh does)",
            pytrace=False,
        )
    # Relative paths, as a person would type them from the checkout.
    return subprocess.run(
        [binary, *(str(arg) for arg in args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_promtool_accepts_the_config_and_the_rule_files_it_loads() -> None:
    result = promtool("check", "config", relative(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_yaml(PROMETHEUS_CONFIG)['rule_files'])} rule files found" in (
        result.stdout
    )


def test_promtool_accepts_the_rules() -> None:
    result = promtool("check", "rules", relative(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", relative(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_fail_when_a_rule_changes(tmp_path: Path) -> None:
    """The unit tests are not vacuous: moving one threshold breaks them."""
    (tmp_path / ALERTS.name).write_text(ALERTS.read_text().replace("< 0.7", "< 0.5"))
    shutil.copy(ALERTS_TEST, tmp_path / ALERTS_TEST.name)
    result = promtool("test", "rules", tmp_path / ALERTS_TEST.name)
    assert result.returncode != 0
    assert "DriftlineRollingAccuracyLow" in result.stdout + result.stderr


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_is_complete(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"Driftline[A-Z][A-Za-z]+", rule["alert"])
    assert "for" in rule, "say how long the condition must hold, even if 0m"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    # A state alert (`up == 0`) has nothing to say with its value; every other one does.
    if not re.search(r"==\s*0\s*$", rule["expr"].strip()):
        assert "$value" in annotations["description"] + annotations["summary"]
    assert metric_names(rule["expr"]), "an alert must read a metric"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_fires_and_stays_silent_in_its_unit_tests(rule: dict[str, Any]) -> None:
    """Each alert has a unit test where it fires and one where it does not."""
    cases = [
        case
        for test in load_yaml(ALERTS_TEST)["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == rule["alert"]
    ]
    assert any(case["exp_alerts"] for case in cases), "no case where it fires"
    assert any(not case["exp_alerts"] for case in cases), "no case where it does not fire"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_threshold_is_documented(rule: dict[str, Any]) -> None:
    """README's alert table names each alert with the threshold in its expression."""
    rows = [
        line for line in README.read_text().splitlines() if line.startswith(f"| `{rule['alert']}`")
    ]
    assert len(rows) == 1, f"{rule['alert']} is not in the alerts table"
    for _, threshold in comparison_thresholds(rule["expr"]):
        if threshold not in (0, 1):  # "any" or "none" are said in words
            written = f"{threshold:g}"
            percent = f"{threshold * 100:g}%"
            assert written in rows[0] or percent in rows[0] or f"{threshold:,.0f}" in rows[0], (
                threshold,
                rows[0],
            )
