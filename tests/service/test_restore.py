"""Restoring at start: the state folder must be this stream's and this model's, its files whole.

These run without Kafka: the topic, model and task are known from the settings before any
connection (the cluster and the partition count are checked by the ingest worker on the real
broker, ``tests/system/test_checkpoint_faults.py``).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from river import datasets

from service.app import open_checkpoints, restore_or_build_learner
from service.config import Settings
from service.events import Event
from service.factory import build_learner
from service.learner import Learner
from service.state.checkpoint import (
    CheckpointError,
    CheckpointStore,
    StateMismatchError,
    pickle_state,
)
from service.state.owner import Owner

KEY = "a-restore-test-key-0123456789abcdef"


def settings_for(state_dir: Path, **changes: object) -> Settings:
    return Settings(state_dir=state_dir, checkpoint_key=KEY, **changes)


def learner_through(offset: int, events: int = 30) -> Learner:
    learner = Learner.for_model("logreg", rolling_window=50)
    rows = itertools.islice(datasets.Phishing(), events)
    for position, (x, y) in enumerate(rows, start=offset - events):
        learner.learn(Event(x, label=y), partition=0, offset=position)
    return learner


def save(store: CheckpointStore, learner: Learner, positions: dict[int, int] | None = None) -> Path:
    return store.save(
        pickle_state(learner), positions or dict(learner.positions), learner.events_learned
    )


def claimed_store(settings: Settings) -> CheckpointStore:
    store = open_checkpoints(settings)
    assert store is not None
    store.claim(Owner(topic=settings.topic, model=settings.model, task="classification"))
    return store


def test_a_header_whose_offsets_are_not_the_states_is_refused_and_the_older_one_restored(
    tmp_path: Path,
) -> None:
    settings = settings_for(tmp_path / "state")
    store = claimed_store(settings)
    save(store, learner_through(20, events=20))
    save(store, learner_through(1_500), positions={0: 10})  # the header says 10, the state 1,500
    restored = restore_or_build_learner(settings, open_checkpoints(settings))
    assert restored.positions == {0: 20} and restored.events_learned == 20


def test_a_folder_of_another_topic_is_refused_naming_both(tmp_path: Path) -> None:
    store = claimed_store(settings_for(tmp_path / "state", topic="orders"))
    save(store, learner_through(100))
    with pytest.raises(StateMismatchError, match="topic 'orders' in the state folder, 'payments'"):
        restore_or_build_learner(
            settings_for(tmp_path / "state", topic="payments"),
            open_checkpoints(settings_for(tmp_path / "state", topic="payments")),
        )


def test_start_fresh_moves_another_topics_state_aside(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = claimed_store(settings_for(state, topic="orders"))
    saved = save(store, learner_through(100))
    settings = settings_for(state, topic="payments", state_mismatch="start_fresh")
    checkpoints = open_checkpoints(settings)
    learner = restore_or_build_learner(settings, checkpoints)
    assert learner.events_learned == 0 and learner.positions == {}
    (aside,) = state.glob("mismatched-*")
    assert (aside / saved.name).is_file() and not saved.exists()
    assert checkpoints.owner == Owner("payments", "logreg", "classification")


def test_a_checkpoint_of_another_model_is_refused(tmp_path: Path) -> None:
    store = claimed_store(settings_for(tmp_path / "state"))
    save(store, learner_through(100))
    settings = settings_for(tmp_path / "state", model="hoeffding")
    with pytest.raises(StateMismatchError, match="model 'logreg' in the state folder, 'hoeffding'"):
        restore_or_build_learner(settings, open_checkpoints(settings))


def test_a_checkpoint_that_holds_no_learner_is_refused(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state")
    save_any = claimed_store(settings).save(pickle_state({"not": "a learner"}), {0: 1}, 1)
    with pytest.raises(CheckpointError, match=f"{save_any.name}: does not hold a Driftline"):
        restore_or_build_learner(settings, open_checkpoints(settings))


def test_the_same_stream_restores_its_learner(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state")
    original = learner_through(100)
    save(claimed_store(settings), original)
    restored = restore_or_build_learner(settings, open_checkpoints(settings))
    assert restored.values() == original.values()


def test_starting_over_keeps_the_object_and_its_lock() -> None:
    learner = learner_through(100)
    lock = learner.lock
    learner.start_over(build_learner(Settings()))
    assert learner.lock is lock
    assert learner.events_learned == 0 and learner.positions == {}


def test_an_unknown_checkpoint_class_setting_is_refused_at_start(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "state", checkpoint_classes=["no.such.module:Model"])
    with pytest.raises(CheckpointError, match="DRIFTLINE_CHECKPOINT_CLASSES: cannot find"):
        open_checkpoints(settings)
