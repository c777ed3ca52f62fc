"""End to end on the real broker: the service's numbers are River's numbers.

A dataset goes through the producer into a one-partition topic; the service learns it from
Kafka; its cumulative metrics must equal ``river.evaluate.progressive_val_score`` on the same
events in the same order (read back from the topic), and its answers on probe instances must
equal those of the same model trained offline.
"""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest
from kafka import KafkaConsumer
from river import evaluate, metrics

from service.models import build_model
from tests.fixtures.service import ServiceProcess

pytestmark = pytest.mark.kafka

PROBES = 25


def produce_dataset(bootstrap_servers: str, topic: str, dataset: str) -> None:
    """Replay a River dataset through the producer's command line, as a user would."""
    subprocess.run(
        [sys.executable, "-m", "producer", "dataset", dataset, "--topic", topic,
         "--bootstrap-servers", bootstrap_servers, "--rate", "0", "--quiet"],
        check=True,
        timeout=120,
    )  # fmt: skip


def read_back(bootstrap_servers: str, topic: str, count: int) -> list[tuple[dict, object]]:
    """The events exactly as Kafka holds them, in offset order."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    events = []
    for record in consumer:
        event = orjson.loads(record.value)
        events.append((event["features"], event["label"]))
        if len(events) == count:
            break
    consumer.close()
    assert len(events) == count
    return events


def oracle(model_name: str, events: list[tuple[dict, object]]):
    model = build_model(model_name).estimator
    task = build_model(model_name).task
    metric = (
        metrics.Accuracy() + metrics.LogLoss()
        if task == "classification"
        else metrics.MAE() + metrics.RMSE()
    )
    evaluate.progressive_val_score(events, model, metric)
    return model, metric


def assert_probes_match(service: ServiceProcess, offline_model, events, task: str) -> None:
    probes = [x for x, _ in events[:: max(1, len(events) // PROBES)]][:PROBES]
    response = service.http.post(
        "/predict/batch", json={"instances": [{"features": x} for x in probes]}
    )
    assert response.status_code == 200
    for x, answer in zip(probes, response.json()["predictions"], strict=True):
        if task == "classification":
            expected = offline_model.predict_proba_one(x)
            got = {k: v for k, v in answer["probabilities"].items()}
            expected_keys = {("true" if k else "false") if isinstance(k, bool) else str(k): v
                             for k, v in expected.items()}  # fmt: skip
            assert got.keys() == expected_keys.keys()
            for key, probability in expected_keys.items():
                assert got[key] == pytest.approx(probability, abs=1e-12)
            assert answer["prediction"] == max(expected, key=expected.get)
        else:
            assert answer["prediction"] == pytest.approx(offline_model.predict_one(x), abs=1e-9)


@pytest.mark.parametrize(
    ("dataset", "model_name", "count"),
    [
        ("phishing", "logreg", 1250),
        ("bananas", "hoeffding", 5300),
        ("trump-approval", "linreg", 1001),
    ],
)
def test_service_metrics_and_predictions_equal_river_offline(
    kafka_broker, new_topic, service_factory, dataset: str, model_name: str, count: int
) -> None:
    topic = new_topic(partitions=1)
    produce_dataset(kafka_broker.bootstrap_servers, topic, dataset)
    service = service_factory(
        topic=topic, dead_letter_topic=f"{topic}.dlq", group_id=topic, model=model_name
    )
    described = service.wait_handled(count)

    events = read_back(kafka_broker.bootstrap_servers, topic, count)
    offline_model, metric = oracle(model_name, events)
    task = build_model(model_name).task

    assert described["events_learned"] == count
    for name, river_metric in zip(described["metrics"]["cumulative"], metric, strict=True):
        assert described["metrics"]["cumulative"][name] == pytest.approx(
            river_metric.get(), abs=1e-12
        ), name
    assert_probes_match(service, offline_model, events, task)
