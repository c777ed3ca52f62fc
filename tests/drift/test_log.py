"""Drift events are small frozen records with a JSON view; the log keeps only the latest."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import pytest

from service.drift import DriftEvent, DriftLog, DriftReport, FeatureDrift
from service.state.unpickle import restricted_loads


def test_an_event_is_frozen() -> None:
    event = DriftEvent("adwin", "concept", offset=5, statistic=0.4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.offset = 6  # type: ignore[misc]


def test_the_json_view_has_every_field_and_no_nan() -> None:
    event = DriftEvent("psi_and_ks", "data", offset=7, statistic=math.inf, feature="x")
    view = event.to_dict()
    assert view == {
        "detector": "psi_and_ks",
        "kind": "data",
        "feature": "x",
        "offset": 7,
        "statistic": None,
        "baseline": None,
        "warning": False,
    }
    json.dumps(view, allow_nan=False)


def test_the_log_keeps_the_newest_events_and_counts_them_all() -> None:
    log = DriftLog(maxlen=3)
    log.extend(DriftEvent("adwin", "concept", offset=i, statistic=0.1) for i in range(5))
    assert (len(log), log.total, log.maxlen) == (3, 5, 3)
    assert [e.offset for e in log] == [2, 3, 4]
    assert [e.offset for e in log.recent()] == [4, 3, 2]
    assert [d["offset"] for d in log.to_list(2)] == [4, 3]


def test_the_log_pickles_with_its_bound() -> None:
    log = DriftLog(maxlen=2)
    log.append(DriftEvent("ddm", "concept", offset=1, statistic=0.2, warning=True))
    restored = pickle.loads(pickle.dumps(log))
    assert restored.recent() == log.recent() and restored.maxlen == 2 and restored.total == 1


def test_an_empty_log_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 event"):
        DriftLog(maxlen=0)


def _report() -> DriftReport:
    feature = FeatureDrift("x", psi=0.3, ks_statistic=0.2, ks_pvalue=1e-4, drifting=True)
    event = DriftEvent("psi_and_ks", "data", offset=10, statistic=0.3, feature="x")
    return DriftReport("data", 10, {"x": feature}, (event,))


def test_a_report_pickles_under_the_module_it_lives_in() -> None:
    payload = pickle.dumps(_report())
    assert b"service.drift.log" in payload and b"service.drift.data" not in payload
    assert restricted_loads(payload) == _report()


def test_a_report_pickled_where_reports_used_to_live_still_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Checkpoints written before reports moved to ``service.drift.log`` name them in ``data``."""
    for moved in (FeatureDrift, DriftReport):
        monkeypatch.setattr(moved, "__module__", "service.drift.data")
    payload = pickle.dumps(_report())
    monkeypatch.undo()
    assert b"service.drift.data" in payload
    assert restricted_loads(payload) == _report()
