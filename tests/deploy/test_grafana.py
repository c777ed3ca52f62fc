"""deploy/grafana: provisioning files and dashboards that Grafana loads as they are.

No Grafana server is installable here, so the dashboard JSON is checked for what provisioning
needs (uid, schema version, ids, grid, datasource references) and every query is parsed; the
queries are evaluated against a real Prometheus in test_queries.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest

from tests.deploy.promql import comparison_thresholds, metric_names
from tests.deploy.sources import (
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    alert_rules,
    all_panels,
    dashboard_queries,
    dashboards,
    load_yaml,
    substitute_grafana_variables,
)

GRID_COLUMNS = 24
# Grafana 11/12 write schemaVersion 39-41; older numbers are migrated on every load.
MIN_SCHEMA_VERSION = 39
# Panel types that show query results; rows only group panels.
DATA_PANELS = {"timeseries", "stat", "gauge", "state-timeline", "bargauge", "table"}
BUILT_IN_GRAFANA_UID = "-- Grafana --"


def datasource() -> dict[str, Any]:
    (found,) = load_yaml(DATASOURCES)["datasources"]
    assert isinstance(found, dict)
    return found


DASHBOARDS = dashboards()


def test_datasource_is_provisioned_with_a_fixed_uid() -> None:
    assert load_yaml(DATASOURCES)["apiVersion"] == 1
    source = datasource()
    assert source["type"] == "prometheus"
    assert source["uid"] == "prometheus"
    assert source["access"] == "proxy"
    assert source["isDefault"] is True
    scrape_interval = load_yaml(DATASOURCES.parents[3] / "prometheus" / "prometheus.yml")["global"][
        "scrape_interval"
    ]
    assert source["jsonData"]["timeInterval"] == scrape_interval


def test_dashboards_are_provisioned_from_files() -> None:
    providers = load_yaml(DASHBOARD_PROVIDERS)
    assert providers["apiVersion"] == 1
    for provider in providers["providers"]:
        assert provider["type"] == "file"
        assert provider["options"]["path"].startswith("/")
        if provider["options"].get("foldersFromFilesStructure"):
            assert not provider.get("folder") and not provider.get("folderUid")


def test_there_is_a_dashboard() -> None:
    assert DASHBOARDS


@pytest.mark.parametrize("path", list(DASHBOARDS), ids=lambda path: path.name)
def test_dashboard_top_level(path: Path) -> None:
    dashboard = DASHBOARDS[path]
    assert dashboard["id"] is None, "provisioned dashboards are found by uid, not id"
    assert re.fullmatch(r"[A-Za-z0-9_-]{8,40}", dashboard["uid"])
    assert dashboard["title"]
    assert dashboard["schemaVersion"] >= MIN_SCHEMA_VERSION
    assert dashboard["time"]["from"].startswith("now-")
    assert dashboard["refresh"]


def test_dashboard_uids_and_titles_are_unique() -> None:
    uids = [dashboard["uid"] for dashboard in DASHBOARDS.values()]
    titles = [dashboard["title"] for dashboard in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)


@pytest.mark.parametrize("path", list(DASHBOARDS), ids=lambda path: path.name)
def test_panel_ids_are_unique(path: Path) -> None:
    ids = [panel["id"] for panel in all_panels(DASHBOARDS[path]["panels"])]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    duplicates = sorted({panel_id for panel_id in ids if ids.count(panel_id) > 1})
    assert not duplicates


@pytest.mark.parametrize("path", list(DASHBOARDS), ids=lambda path: path.name)
def test_panels_fit_the_grid_without_overlapping(path: Path) -> None:
    occupied: dict[tuple[int, int], str] = {}
    for panel in all_panels(DASHBOARDS[path]["panels"]):
        grid = panel["gridPos"]
        x, y, w, h = grid["x"], grid["y"], grid["w"], grid["h"]
        assert all(isinstance(v, int) for v in (x, y, w, h)), panel["title"]
        assert x >= 0 and w > 0 and x + w <= GRID_COLUMNS, panel["title"]
        assert y >= 0 and h > 0, panel["title"]
        for cell in ((column, row) for column in range(x, x + w) for row in range(y, y + h)):
            assert cell not in occupied, f"{panel['title']!r} overlaps {occupied[cell]!r}"
            occupied[cell] = panel["title"]


@pytest.mark.parametrize("path", list(DASHBOARDS), ids=lambda path: path.name)
def test_every_query_uses_the_provisioned_datasource(path: Path) -> None:
    uid = datasource()["uid"]
    dashboard = DASHBOARDS[path]
    for panel in all_panels(dashboard["panels"]):
        if panel["type"] == "row":
            assert not panel.get("targets")
            continue
        assert panel["type"] in DATA_PANELS, panel["type"]
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        targets = panel["targets"]
        assert targets, f"{panel['title']!r} has no query"
        ref_ids = [target["refId"] for target in targets]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        for target in targets:
            assert target.get("expr"), panel["title"]
            assert target.get("datasource", {"uid": uid})["uid"] == uid, panel["title"]
    for annotation in dashboard["annotations"]["list"]:
        if annotation.get("builtIn"):
            assert annotation["datasource"]["uid"] == BUILT_IN_GRAFANA_UID
            continue
        assert annotation["datasource"] == {"type": "prometheus", "uid": uid}
        assert annotation.get("expr"), annotation["name"]


@pytest.mark.parametrize("path", list(DASHBOARDS), ids=lambda path: path.name)
def test_every_data_panel_has_a_unit(path: Path) -> None:
    for panel in all_panels(DASHBOARDS[path]["panels"]):
        if panel["type"] == "row":
            continue
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit, f"{panel['title']!r} has no unit"
        exprs = " ".join(target["expr"] for target in panel["targets"])
        if re.search(r"_ratio\b", exprs):
            assert unit == "percentunit", f"{panel['title']!r} shows a ratio"
        if re.search(r"_seconds_bucket\b", exprs):
            assert unit == "s", f"{panel['title']!r} shows a latency"
        if re.search(r"\brate\(", exprs) and not re.search(r"/|histogram_quantile", exprs):
            assert unit in {"ops", "reqps"}, f"{panel['title']!r} shows a rate"


@pytest.mark.parametrize(
    "query", dashboard_queries(), ids=lambda query: query.where.split(" ", 1)[1]
)
def test_every_query_parses(query: Any) -> None:
    promql_parser.parse(query.expr)
    assert metric_names(query.expr)


def panel_metric_names(target: dict[str, Any]) -> set[str]:
    return metric_names(substitute_grafana_variables(target["expr"]))


def _thresholds_drawn(panel: dict[str, Any]) -> set[float]:
    defaults = panel["fieldConfig"]["defaults"]
    if defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off") == "off":
        return set()
    return {
        float(step["value"])
        for step in defaults["thresholds"]["steps"]
        if step["value"] is not None
    }


@pytest.mark.parametrize(
    ("alert", "operand", "threshold"),
    [
        (rule["alert"], operand, threshold)
        for rule in alert_rules()
        for operand, threshold in comparison_thresholds(rule["expr"])
        if threshold not in (0, 1)  # "any alarm" and "down" have no line to draw
    ],
)
def test_alert_thresholds_are_drawn(alert: str, operand: str, threshold: float) -> None:
    """A panel showing what an alert watches draws the line where it fires."""
    watched = metric_names(operand)
    panels = [
        panel
        for dashboard in DASHBOARDS.values()
        for panel in all_panels(dashboard["panels"])
        if panel["type"] != "row"
        and watched <= set().union(*(panel_metric_names(target) for target in panel["targets"]))
    ]
    assert panels, f"no panel shows {sorted(watched)} ({alert})"
    assert any(threshold in _thresholds_drawn(panel) for panel in panels), (
        f"{alert}: no panel showing {sorted(watched)} draws {threshold}"
    )
