"""A prediction names the model that made it, even when a promotion follows at once."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import TracebackType

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from service.events import Event
from service.learner import Learner
from service.models import build_model


class _ChangesOnRelease:
    """The learner's lock, with a model change run the moment a reader lets go of it.

    That moment is the race: a request that reads the version or the learned count after the
    lock is released names the next model, not the one that answered.
    """

    def __init__(self, lock: threading.Lock, change: Callable[[], None]) -> None:
        self._lock = lock
        self._change = change
        self.armed = False

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._lock.release()
        if self.armed:
            self.armed = False
            self._change()


@pytest.fixture
def client() -> Iterator[TestClient]:
    # A static champion that never learns, so a trained challenger is promoted after its
    # shadow run: version 2 serves, and version 1 is kept to roll back to.
    settings = Settings(
        strategy="static", initial_events=0, shadow_events=10, rebuild_background=False
    )
    with TestClient(create_app(settings, consume=False)) as client:
        yield client


def _promote_a_trained_challenger(learner: Learner) -> None:
    challenger = build_model("logreg", 42).estimator
    for i in range(200):
        challenger.learn_one({"x": float(i % 2)}, bool(i % 2))
    learner.manager.propose(challenger)
    for offset in range(10):
        learner.learn(Event({"x": 1.0}, label=True), 0, offset)
    assert learner.model_version == 2


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/predict", {"features": {"x": 1.0}}),
        ("/predict/batch", {"instances": [{"features": {"x": 1.0}}, {"features": {"x": 0.0}}]}),
    ],
)
def test_an_answer_carries_the_version_and_count_of_the_model_that_made_it(
    client: TestClient, path: str, body: dict[str, object]
) -> None:
    learner: Learner = client.app_state["runtime"].learner
    _promote_a_trained_challenger(learner)
    real_lock = learner.lock

    def roll_back_and_learn() -> None:
        # A rollback makes a new serving version; one more event moves the count.
        learner.lock = real_lock
        learner.rollback(1)
        learner.learn(Event({"x": 1.0}, label=True), 0, 10)

    watched = _ChangesOnRelease(real_lock, roll_back_and_learn)
    learner.lock = watched  # type: ignore[assignment]
    before = (learner.model_version, learner.events_learned)
    watched.armed = True

    response = client.post(path, json=body)

    assert response.status_code == 200
    assert (learner.model_version, learner.events_learned) != before  # the change did happen
    answer = response.json()
    assert (answer["model_version"], answer["events_learned"]) == before
