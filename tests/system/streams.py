"""Shared steps of the end-to-end tests: post a stream, read it back, compute River's answer."""

from __future__ import annotations

import functools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer
from river import evaluate, metrics

from service.ingest.ordering import merged
from service.models import build_model
from tests.fixtures.service import ServiceProcess

__all__ = [
    "PredictLoad",
    "assert_equivalent_to_river",
    "killed_at",
    "produce",
    "read_back",
    "read_back_examples",
    "read_back_merged",
    "records",
    "start_producing",
]

PROBES = 25


def producer_command(
    bootstrap_servers: str, topic: str, *source: str, rate: float = 0
) -> list[str]:
    return [
        sys.executable, "-m", "producer", *source, "--topic", topic,
        "--bootstrap-servers", bootstrap_servers, "--rate", str(rate), "--quiet",
    ]  # fmt: skip


def produce(bootstrap_servers: str, topic: str, *source: str) -> None:
    """Post a source through the producer's command line, as fast as possible, and wait."""
    subprocess.run(producer_command(bootstrap_servers, topic, *source), check=True, timeout=180)


def start_producing(
    bootstrap_servers: str, topic: str, *source: str, rate: float
) -> subprocess.Popen:
    """Post a source at a steady rate in the background."""
    return subprocess.Popen(producer_command(bootstrap_servers, topic, *source, rate=rate))


def records(bootstrap_servers: str, topic: str, count: int) -> list[Any]:
    """The first ``count`` records of every partition of ``topic``, as Kafka holds them."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    found = []
    for record in consumer:
        found.append(record)
        if len(found) == count:
            break
    consumer.close()
    assert len(found) == count
    return found


def read_back(bootstrap_servers: str, topic: str, count: int) -> list[tuple[dict, Any]]:
    """The events exactly as Kafka holds them, in offset order (one partition)."""
    events = (orjson.loads(record.value) for record in records(bootstrap_servers, topic, count))
    return [(event["features"], event["label"]) for event in events]


def read_back_merged(bootstrap_servers: str, topic: str, count: int) -> list[tuple[dict, Any]]:
    """The events of every partition, in the order the service learns a backlog of them."""
    found = records(bootstrap_servers, topic, count)
    events = (orjson.loads(record.value) for record in merged(found))
    return [(event["features"], event["label"]) for event in events]


def read_back_examples(
    bootstrap_servers: str, topic: str, count: int, feedback_topic: str | None = None
) -> list[tuple[dict, Any]]:
    """The examples behind ``count`` questions and answers, in the order of their ids.

    With ``feedback_topic`` the questions are read from ``topic`` and the answers from it.
    """
    features: dict[int, dict] = {}
    labels: dict[int, Any] = {}
    if feedback_topic is None:
        found = records(bootstrap_servers, topic, count)
    else:
        found = records(bootstrap_servers, topic, count // 2)
        found += records(bootstrap_servers, feedback_topic, count // 2)
    for record in found:
        document = orjson.loads(record.value)
        if "features" in document:
            features[int(document["id"])] = document["features"]
        else:
            labels[int(document["id"])] = document["label"]
    assert features.keys() == labels.keys()
    return [(features[i], labels[i]) for i in sorted(features)]


def river_oracle(model_name: str, events: list[tuple[dict, Any]]) -> tuple[Any, Any]:
    """The same model, trained offline by River's progressive validation on the same events."""
    spec = build_model(model_name)
    metric = (
        metrics.Accuracy() + metrics.LogLoss()
        if spec.task == "classification"
        else metrics.MAE() + metrics.RMSE()
    )
    evaluate.progressive_val_score(events, spec.estimator, metric)
    return spec.estimator, metric


def _label_key(label: Any) -> str:
    return ("true" if label else "false") if isinstance(label, bool) else str(label)


def assert_equivalent_to_river(
    service: ServiceProcess, model_name: str, events: list[tuple[dict, Any]]
) -> None:
    """Same count, same cumulative metrics to 1e-12, same answers on probe instances."""
    described = service.http.get("/model").json()
    offline, metric = river_oracle(model_name, events)
    assert described["events_learned"] == len(events)
    for name, river_metric in zip(described["metrics"]["cumulative"], metric, strict=True):
        assert described["metrics"]["cumulative"][name] == pytest.approx(
            river_metric.get(), abs=1e-12
        ), name

    probes = [x for x, _ in events[:: max(1, len(events) // PROBES)]][:PROBES]
    response = service.http.post(
        "/predict/batch", json={"instances": [{"features": x} for x in probes]}
    )
    assert response.status_code == 200
    task = build_model(model_name).task
    for x, answer in zip(probes, response.json()["predictions"], strict=True):
        if task == "classification":
            expected = {_label_key(k): v for k, v in offline.predict_proba_one(x).items()}
            assert answer["probabilities"].keys() == expected.keys()
            for key, probability in expected.items():
                assert answer["probabilities"][key] == pytest.approx(probability, abs=1e-12)
        else:
            assert answer["prediction"] == pytest.approx(offline.predict_one(x), abs=1e-9)


def killed_at(
    service_factory: Callable[..., ServiceProcess],
    settings: dict[str, Any],
    points: list[int],
    reached: Callable[[ServiceProcess, int], bool],
) -> ServiceProcess:
    """Start the service and SIGKILL it once ``reached(service, point)``, for each point in
    turn (each time a new process on the same settings); then start it once more."""
    for point in points:
        service = service_factory(**settings)
        service.wait_until(
            functools.partial(reached, service, point),
            timeout=120,
            what=f"past {point}",
            pause=0.02,
        )
        assert service.stop(signal.SIGKILL) == -signal.SIGKILL
    return service_factory(**settings)


class PredictLoad:
    """Calls /predict in a loop on its own thread and counts the answers by status."""

    def __init__(self, url: str) -> None:
        self.statuses: dict[int | str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,))

    def _run(self, url: str) -> None:
        with httpx.Client(base_url=url, timeout=5.0) as client:
            while not self._stop.is_set():
                try:
                    status: int | str = client.post(
                        "/predict", json={"features": {"x0": 0.1, "x1": -0.3, "x2": 1.2}}
                    ).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                self.statuses[status] = self.statuses.get(status, 0) + 1
                time.sleep(0.01)

    def __enter__(self) -> PredictLoad:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
