"""When checkpoints are written, and what a request from another thread gets: no broker needed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from service.errors import DriftlineError
from service.events import Event
from service.ingest.status import ConsumerState
from service.learner import Learner
from service.metrics import ServiceMetrics
from service.state.checkpoint import CheckpointStore
from service.state.checkpointer import CheckpointCadence, Checkpointer

KEY = b"k" * 32


def test_a_checkpoint_is_due_after_n_changes_or_t_seconds_and_never_with_nothing_unsaved() -> None:
    cadence = CheckpointCadence(every_events=10, every_s=60.0, now=0.0)
    assert not cadence.due(now=1_000.0)  # nothing unsaved, however long it has been
    cadence.note(9)
    assert not cadence.due(now=59.0)
    assert cadence.due(now=60.0)  # T seconds, with 9 unsaved
    cadence.note(1)
    assert cadence.due(now=1.0)  # N changes
    cadence.written(now=1.0)
    assert (cadence.unsaved, cadence.due(now=60.0)) == (0, False)
    cadence.note(1)
    assert not cadence.due(now=60.0) and cadence.due(now=61.0)  # T counts from the write


def test_a_failed_write_is_not_tried_again_before_t_seconds_whatever_comes_meanwhile() -> None:
    cadence = CheckpointCadence(every_events=1, every_s=30.0, now=0.0)
    cadence.note(5)
    cadence.failed(now=10.0)
    cadence.note(1_000)
    assert not cadence.due(now=39.9)
    assert cadence.due(now=40.0)


def _checkpointer(directory: Path, every_events: int = 1_000) -> Checkpointer:
    learner = Learner.for_model("logreg", rolling_window=10)
    for offset in range(5):
        learner.learn(Event({"x": float(offset)}, label=offset % 2 == 0), 0, offset)
    return Checkpointer(
        CheckpointStore(directory, key=KEY),
        learner,
        ServiceMetrics(CollectorRegistry()),
        ConsumerState(),
        every_events=every_events,
        every_s=3_600.0,
    )


def test_a_request_from_another_thread_is_written_by_the_owner(tmp_path: Path) -> None:
    checkpointer = _checkpointer(tmp_path / "state")
    checkpointer.accepting = True
    answers: list[Path] = []
    asker = threading.Thread(target=lambda: answers.append(checkpointer.request(timeout=30)))
    asker.start()
    while not checkpointer.serve_requests():  # the owner's loop, between two batches
        pass
    asker.join()
    [path] = answers
    checkpoint = checkpointer.store.load_latest()
    assert checkpoint is not None and checkpoint.path == path
    assert checkpoint.positions == {0: 5}


def test_a_request_is_refused_when_nobody_serves_and_answered_when_the_owner_stops(
    tmp_path: Path,
) -> None:
    checkpointer = _checkpointer(tmp_path / "state")
    with pytest.raises(DriftlineError, match="not running"):
        checkpointer.request(timeout=1)
    checkpointer.accepting = True
    errors: list[Exception] = []

    def ask() -> None:
        try:
            checkpointer.request(timeout=30)
        except DriftlineError as error:
            errors.append(error)

    asker = threading.Thread(target=ask)
    asker.start()
    while checkpointer._requests.empty():  # the request is queued
        pass
    checkpointer.refuse_requests()
    asker.join(timeout=30)
    assert not asker.is_alive()
    assert [str(e) for e in errors] == ["the checkpoint could not be written; see the service log"]


def test_a_write_that_fails_is_counted_and_leaves_the_changes_unsaved(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    checkpointer = _checkpointer(directory, every_events=1)
    checkpointer.cadence.note(5)
    directory.rmdir()
    directory.write_text("a file where the folder was")  # the next write cannot happen
    assert checkpointer.write() is None
    failures = checkpointer._metrics.checkpoint_failures._value.get()
    assert (failures, checkpointer.cadence.unsaved) == (1, 5)
    assert not checkpointer.maybe_write(now=time.monotonic())  # tried again after every_s
