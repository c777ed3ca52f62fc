"""A background rebuild never stalls learning or serving, and its model misses no event."""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Any

from river import base, linear_model, preprocessing

from producer.scenarios import make_scenario
from service.models import ModelSpec
from service.strategies import ModelManager, PrequentialRun
from service.strategies.history import make_history
from service.strategies.hybrid import HybridStrategy
from tests.strategies.streams import FixedClock

# Every learn_one sleeps this long (releasing the GIL), so that a rebuild from 400 events takes
# a good 80 ms during which the stream goes on arriving.
_LEARN_DELAY_S = 0.0002
# From the rebuild on, events arrive at most this often (2,000 a second), as from a topic: a
# little slower than the rebuild learns, so that it catches up.
_ARRIVAL_S = 0.0005


class SlowStep(base.Transformer):
    """An identity step whose learning takes time, like a bigger model's would."""

    def learn_one(self, x: dict[str, Any]) -> None:
        time.sleep(_LEARN_DELAY_S)

    def transform_one(self, x: dict[str, Any]) -> dict[str, Any]:
        return x


def slow_logreg(seed: int) -> ModelSpec:
    estimator = SlowStep() | preprocessing.StandardScaler() | linear_model.LogisticRegression()
    return ModelSpec("slow-logreg", "classification", estimator)


def test_rebuild_in_background_misses_no_event_and_never_blocks_predictions() -> None:
    # Abrupt change at 1,000: the online champion relearns slowly, a model rebuilt from the 400
    # events after the change is far better (96% against 82% on the next 200), so it is promoted.
    events = list(make_scenario("abrupt", n=1_800, position=1_000, seed=5))
    manager = ModelManager(
        partial(slow_logreg, 5),
        HybridStrategy(on_drift=False, metric_threshold=0.0),  # rebuilds only when asked
        make_history("window", size=400),
        initial_events=200,
        shadow_events=200,
        background=True,
        seed=5,
        clock=FixedClock(),
    )
    run = PrequentialRun(manager, rolling_window=200)
    lock = threading.Lock()
    stop = threading.Event()
    answered, failures = [0], []
    probe = events[0][0]

    def predict_in_a_loop() -> None:
        while not stop.is_set():
            try:
                with lock:
                    manager.predict_proba_one(probe)
                answered[0] += 1
            except Exception as error:  # the assertion below reports it
                failures.append(error)
            time.sleep(0)

    reader = threading.Thread(target=predict_in_a_loop)
    reader.start()
    running_during = 0
    try:
        for offset, (x, y) in enumerate(events):
            if offset == 1_400:
                manager.request_rebuild()
            with lock:
                run.learn(x, y, offset)
            running_during += manager.rebuild_running
            if offset >= 1_400:
                time.sleep(_ARRIVAL_S)
    finally:
        stop.set()
        reader.join(5)
        manager.close()

    assert failures == []
    assert answered[0] > 100
    assert running_during > 50  # events that arrived while the rebuild ran
    (decision,) = manager.decisions()
    assert decision.outcome == "promoted", decision
    version = manager.versions()[-1]
    assert version.id == decision.challenger_id == manager.version
    # It learned its history (offsets 1001..1400), then every event after it up to the one at
    # which it was promoted, each once: the same coverage as the online champion it replaced.
    assert (version.first_offset, version.last_offset) == (1_001, 1_400)
    assert version.learned_to_offset == decision.offset
    assert version.events_learned == decision.offset - version.first_offset + 1
    # The gate judged the first 200 events after its history, replayed from the buffer or not:
    # the same decision as an inline rebuild's, whatever the threads' timing.
    assert decision.shadow_events == 200
    assert decision.offset >= version.last_offset + 200
    assert (decision.champion_score, decision.challenger_score) == (0.815, 0.96)
    assert run.learned == manager.events_seen == len(events)
    stats = manager.stats()
    assert stats["cpu_seconds"]["rebuild"] > 0
    assert stats["model_events_learned"] == version.events_learned + (
        len(events) - 1 - decision.offset
    )
