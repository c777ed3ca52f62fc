"""``/model/offsets`` says how far the model has learned, and waits for a writer's offset."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.events import Event
from service.learner import Learner


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(), consume=False)) as client:
        yield client


def learner_of(client: TestClient) -> Learner:
    learner: Learner = client.app_state["runtime"].learner
    return learner


def learn(learner: Learner, partition: int, offsets: range) -> None:
    for offset in offsets:
        learner.learn(Event({"x": float(offset % 2)}, label=bool(offset % 2)), partition, offset)


def test_without_a_target_it_answers_the_positions_at_once(client: TestClient) -> None:
    learn(learner_of(client), 0, range(5))
    learn(learner_of(client), 2, range(3))
    body = client.get("/model/offsets").json()
    assert body == {"offsets": {"0": 5, "2": 3}, "events_learned": 8, "reached": True}


def test_a_target_already_learned_is_reached_and_the_next_one_is_not(client: TestClient) -> None:
    learn(learner_of(client), 0, range(5))
    assert client.get("/model/offsets?partition=0&offset=4").json()["reached"] is True
    started = time.monotonic()
    body = client.get("/model/offsets?partition=0&offset=5&wait_ms=50").json()
    assert body["reached"] is False
    assert time.monotonic() - started >= 0.05


def test_a_waiting_request_answers_once_the_target_is_learned(client: TestClient) -> None:
    learner = learner_of(client)
    writer = threading.Timer(0.2, learn, args=(learner, 1, range(10)))
    writer.start()
    try:
        started = time.monotonic()
        body = client.get("/model/offsets?partition=1&offset=9&wait_ms=5000").json()
        waited = time.monotonic() - started
    finally:
        writer.join()
    assert body["reached"] is True and body["offsets"]["1"] == 10
    assert 0.15 < waited < 2.0


@pytest.mark.parametrize(
    "query",
    ["partition=-1&offset=1", "partition=0&offset=-1", "partition=0&offset=1&wait_ms=99999"],
)
def test_bad_targets_get_422(client: TestClient, query: str) -> None:
    assert client.get(f"/model/offsets?{query}").status_code == 422
