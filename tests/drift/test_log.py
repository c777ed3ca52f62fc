"""Drift events are small frozen records with a JSON view; the log keeps only the latest."""

from __future__ import annotations

import dataclasses
import json
import math
import pickle

import pytest

from service.drift import DriftEvent, DriftLog


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
