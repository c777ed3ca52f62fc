"""A fetch process that dies is replaced from the learned offsets: nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import time

import pytest
from prometheus_client import CollectorRegistry
from river import metrics

from service.config import Settings
from service.consumer import IngestWorker
from service.learner import Learner
from service.metrics import ConsumerState, ServiceMetrics
from service.models import build_model
from tests.system.streams import produce, read_back

pytestmark = pytest.mark.kafka

EVENTS = 20_000


def test_a_killed_fetch_process_is_replaced_and_the_model_is_as_if_it_never_died(
    kafka_broker, new_topic
) -> None:
    topic = new_topic()
    produce(kafka_broker.bootstrap_servers, topic, "synth", "agrawal", "--limit", str(EVENTS))
    settings = Settings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        group_id=topic,
        model="logreg",
        drift_detection=False,
    )
    learner = Learner.for_model("logreg", rolling_window=settings.rolling_window)
    worker = IngestWorker(
        settings,
        learner,
        ServiceMetrics(CollectorRegistry()),
        ConsumerState(),
        max_events=EVENTS,
        idle_timeout=60.0,
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while learner.events_learned < EVENTS // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        first = worker._fetch
        assert first is not None and learner.events_learned < EVENTS, "killed too late"
        os.kill(first.pid, signal.SIGKILL)
        worker.join(120)
    finally:
        worker.stop()
    assert worker.error is None
    assert worker._fetch is not first  # a second fetch process finished the stream
    assert (learner.events_learned, learner.positions) == (EVENTS, {0: EVENTS})

    # The same events, learned by River alone, in Kafka's order: the same model and metrics.
    model = build_model("logreg").estimator
    cumulative = metrics.Accuracy() + metrics.LogLoss()
    events = read_back(kafka_broker.bootstrap_servers, topic, EVENTS)
    for x, y in events:
        proba = model.predict_proba_one(x)
        if proba:
            cumulative.update(y, proba)
        model.learn_one(x, y)
    values = learner.values()
    assert values.cumulative["accuracy"] == pytest.approx(cumulative[0].get(), abs=1e-12)
    assert values.cumulative["log_loss"] == pytest.approx(cumulative[1].get(), abs=1e-12)
    probe = events[-1][0]
    assert learner.predict(probe).probabilities == pytest.approx(model.predict_proba_one(probe))
