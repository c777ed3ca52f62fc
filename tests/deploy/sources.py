"""The deployment files, loaded once, and what the tests need to read out of them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yaml"
DASHBOARD_PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "driftline.yaml"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
README = ROOT / "README.md"

# Grafana's built-in variables, replaced by what they would be on a short dashboard range,
# so that Prometheus can evaluate the dashboard's queries.
GRAFANA_VARIABLES = {
    "$__rate_interval": "30s",
    "$__interval": "5s",
    "$__range": "5m",
}


@cache
def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(COMPOSE)
    return document


def alert_rules() -> list[dict[str, Any]]:
    """Every alerting rule of alerts.yml."""
    return [
        rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "alert" in rule
    ]


def dashboards() -> dict[Path, dict[str, Any]]:
    return {path: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))}


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Panels, and the panels inside collapsed rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a deployment file, and where it is."""

    where: str
    expr: str
    kind: str  # "panel", "annotation" or "alert"

    def __str__(self) -> str:
        return f"{self.where}: {' '.join(self.expr.split())}"


def substitute_grafana_variables(expr: str) -> str:
    # Longest names first: $__rate_interval must not be read as $__range + "te_interval".
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def dashboard_queries() -> list[Query]:
    """Every Prometheus query of every dashboard: panel targets and annotations."""
    queries = []
    for path, dashboard in dashboards().items():
        for panel in all_panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                queries.append(
                    Query(
                        f"{path.name} panel {panel['id']} {panel['title']!r} {target['refId']}",
                        substitute_grafana_variables(target["expr"]),
                        "panel",
                    )
                )
        for annotation in dashboard.get("annotations", {}).get("list", []):
            if "expr" in annotation:
                queries.append(
                    Query(
                        f"{path.name} annotation {annotation['name']!r}",
                        substitute_grafana_variables(annotation["expr"]),
                        "annotation",
                    )
                )
    return queries


def alert_queries() -> list[Query]:
    return [Query(f"alert {rule['alert']}", rule["expr"], "alert") for rule in alert_rules()]


_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, environment: Mapping[str, str] | None = None) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` interpolation.

    Examples
    --------
    >>> interpolate("${RATE:-50} events/s, $$5")
    '50 events/s, $5'
    >>> interpolate("${RATE:-50}", {"RATE": "10"})
    '10'
    """
    environment = environment or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.groups()
        current = environment.get(name)
        unset = current is None or (
            operator is not None and operator.startswith(":") and not current
        )
        if operator is None or not unset:
            return current or ""
        if operator.endswith("-"):
            return argument
        raise KeyError(f"${{{name}}} is required: {argument}")

    return _VARIABLE.sub(replace, value)
