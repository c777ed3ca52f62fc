"""``/model/offsets`` says how far the model has learned, and waits for a writer's offset."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.events import Answer, Event
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
    assert body == {
        "offsets": {"0": 5, "2": 3},
        "feedback_offsets": {},
        "events_learned": 8,
        "reached": True,
    }


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


@pytest.fixture
def feedback_client() -> Iterator[TestClient]:
    settings = Settings(topic="events", feedback_topic="answers")
    with TestClient(create_app(settings, consume=False)) as client:
        yield client


def test_an_answer_on_the_feedback_topic_is_waited_for_by_that_topics_offset(
    feedback_client: TestClient,
) -> None:
    learner = learner_of(feedback_client)
    learner.learn(Event({"x": 1.0}, id="q"), 0, 0)
    learner.learn(Answer("q", True), 0, 7, feedback=True)
    answered = feedback_client.get("/model/offsets?topic=answers&partition=0&offset=7").json()
    assert answered["reached"] is True
    assert answered["offsets"] == {"0": 1} and answered["feedback_offsets"] == {"0": 8}
    # The event topic's offset 7 is another message, not learned yet.
    asked = feedback_client.get("/model/offsets?topic=events&partition=0&offset=7").json()
    assert asked["reached"] is False
    assert feedback_client.get("/model").json()["feedback_offsets"] == {"0": 8}


def test_a_topic_the_service_does_not_read_gets_422(feedback_client: TestClient) -> None:
    response = feedback_client.get("/model/offsets?topic=elsewhere&partition=0&offset=1")
    assert response.status_code == 422
    assert "elsewhere" in response.json()["detail"]
