"""The ingest worker's one retry policy: try again after a Kafka error until it works or stops."""

from __future__ import annotations

import threading

import pytest
from kafka.errors import KafkaConnectionError

from service.config import Settings
from service.ingest import kafka
from service.ingest.kafka import KafkaLink


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "RETRY_PAUSE_S", 0.0)


def test_a_step_is_tried_again_after_each_kafka_error_until_it_succeeds() -> None:
    link = KafkaLink(Settings(), threading.Event())
    failures = iter([KafkaConnectionError("down"), KafkaConnectionError("still down")])

    def step() -> str:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return "answered"

    assert link._until_stopped(step, "reaching Kafka") == "answered"
    assert next(failures, None) is None  # both failures were used


def test_a_stop_ends_the_retries_with_none() -> None:
    stopped = threading.Event()
    link = KafkaLink(Settings(), stopped)
    attempts = []

    def step() -> str:
        attempts.append(1)
        if len(attempts) == 3:
            stopped.set()
        raise KafkaConnectionError("down")

    assert link._until_stopped(step, "reaching Kafka") is None
    assert len(attempts) == 3


def test_an_error_that_is_not_kafkas_is_not_retried() -> None:
    link = KafkaLink(Settings(), threading.Event())
    attempts = []

    def step() -> str:
        attempts.append(1)
        raise ValueError("a bug, not a broker")

    with pytest.raises(ValueError):
        link._until_stopped(step, "reaching Kafka")
    assert len(attempts) == 1
