"""Learners pickled by earlier releases restore and learn on to the numbers they measured.

The first fixture was written by the release before the strategy manager was split
(``triggered`` strategy, a challenger 20 events into its shadow run, on the ``abrupt``
scenario), with what that release then measured on the rest of the stream; the second is the
same learner as the next release pickled it (read, then written again), before the rebuild
settings and job moved into their own part. Restored here, each must take the rest of the
stream to the same numbers: the classes it names are read at their new homes, and the state
that moved is rebuilt.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from producer.scenarios import make_scenario
from service.events import Event
from service.learner import Learner
from service.state.unpickle import restricted_loads

DATA = Path(__file__).parent / "data"
CUT = 1_220  # the events the fixture had learned


@pytest.mark.parametrize(
    "fixture",
    ["triggered-learner-mid-shadow.pickle", "triggered-learner-mid-shadow-split.pickle"],
    ids=["before-the-split", "split-release"],
)
def test_an_earlier_releases_learner_learns_on_to_the_same_numbers(fixture: str) -> None:
    learner = restricted_loads((DATA / fixture).read_bytes())
    expected = json.loads((DATA / "triggered-learner-mid-shadow.json").read_text())
    assert isinstance(learner, Learner)
    assert learner.manager.stats()["challenger_shadow_events"] == 20

    events = list(make_scenario("abrupt", n=2_000, position=1_000, seed=5))
    for offset, (x, y) in enumerate(events[CUT:], CUT):
        learner.learn(Event(x, label=y), 0, offset)

    values = learner.values()
    stats = learner.manager.stats()
    assert values.events_learned == expected["events_learned"]
    assert values.model_version == expected["model_version"]
    assert values.cumulative == expected["cumulative"]
    assert values.rolling == expected["rolling"]
    decisions = [[d.challenger_id, d.outcome, d.seq] for d in learner.manager.decisions()]
    assert decisions == expected["decisions"]
    retrains = {f"{t}/{o}": n for (t, o), n in stats["retrains"].items() if n}
    assert retrains == expected["retrains"]
    assert sorted(stats["cpu_seconds"]) == expected["cpu_buckets"]
