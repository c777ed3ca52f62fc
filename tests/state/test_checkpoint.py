"""Checkpoints: signed, atomic, bounded, and refused with a clear message when not trustworthy."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
from river import datasets

from service.models import MODEL_NAMES, build_model
from service.state.checkpoint import (
    CheckpointError,
    CheckpointStore,
    pickle_state,
    restricted_loads,
)

KEY = b"a-test-key-of-32-bytes-exactly!!"


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    return CheckpointStore(tmp_path / "state", key=KEY, keep=3)


def test_a_saved_checkpoint_loads_with_its_offsets(store: CheckpointStore) -> None:
    store.save(pickle_state({"n": 1}), positions={0: 10, 2: 7}, events_learned=17)
    loaded = store.load_latest()
    assert loaded is not None
    assert loaded.state == {"n": 1}
    assert loaded.positions == {0: 10, 2: 7}
    assert loaded.events_learned == 17


def test_only_the_newest_k_are_kept(store: CheckpointStore) -> None:
    for n in range(5):
        store.save(pickle_state(n), positions={0: n}, events_learned=n)
    assert [p.name for p in store.paths()] == [
        "checkpoint-000000000003.ckpt",
        "checkpoint-000000000004.ckpt",
        "checkpoint-000000000005.ckpt",
    ]
    assert store.load_latest().state == 4


def test_an_empty_folder_has_no_checkpoint(store: CheckpointStore) -> None:
    assert store.load_latest() is None


def test_a_flipped_byte_is_refused_naming_the_file(store: CheckpointStore) -> None:
    path = store.save(pickle_state({"n": 1}), positions={0: 1}, events_learned=1)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=f"{path.name}.*signature does not verify"):
        store.load(path)


def test_a_file_signed_with_another_key_is_refused(tmp_path: Path, store: CheckpointStore) -> None:
    other = CheckpointStore(tmp_path / "other", key=b"another-key-entirely-0123456789")
    path = other.save(pickle_state({"n": 1}), positions={0: 1}, events_learned=1)
    with pytest.raises(CheckpointError, match="signature does not verify"):
        store.load(path)


@pytest.mark.parametrize("keep_bytes", [0, 5, 30, 60])
def test_a_truncated_file_is_refused(store: CheckpointStore, keep_bytes: int) -> None:
    path = store.save(pickle_state(list(range(100))), positions={0: 1}, events_learned=1)
    path.write_bytes(path.read_bytes()[:keep_bytes])
    with pytest.raises(CheckpointError, match=path.name):
        store.load(path)


def test_an_unsigned_pickle_is_never_unpickled(store: CheckpointStore, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = store.directory / "checkpoint-000000000009.ckpt"
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(CheckpointError, match="not a Driftline checkpoint"):
        store.load(path)
    assert not marker.exists()


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_even_a_signed_file_cannot_name_a_class_off_the_allow_list(
    store: CheckpointStore, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    path = store.save(pickle.dumps(_Exploit(marker)), positions={0: 1}, events_learned=1)
    with pytest.raises(CheckpointError, match=r"posix\.system.*not on the allow-list"):
        store.load(path)
    assert not marker.exists()


def test_dunder_attributes_are_refused_even_through_getattr() -> None:
    payload = pickle.dumps(_GlobalsThief())
    with pytest.raises(pickle.UnpicklingError, match="__init__"):
        restricted_loads(payload)


class _GlobalsThief:
    def __reduce__(self):
        from service.learner import Learner  # on the allow-list; its __init__ is not

        return (getattr, (Learner, "__init__"))


def test_another_river_version_is_refused(store: CheckpointStore) -> None:
    path = store.save(pickle_state(1), positions={0: 1}, events_learned=1)
    data = path.read_bytes()
    prefix = 8 + 32
    (length,) = struct.unpack_from(">I", data, prefix)
    header = json.loads(data[prefix + 4 : prefix + 4 + length])
    header["river"] = "0.1.0"
    new_header = json.dumps(header, sort_keys=True).encode()
    body = struct.pack(">I", len(new_header)) + new_header + data[prefix + 4 + length :]
    signature = hmac.new(KEY, body, hashlib.sha256).digest()
    path.write_bytes(data[:8] + signature + body)
    with pytest.raises(CheckpointError, match=r"River 0\.1\.0"):
        store.load(path)


def test_a_bad_newest_file_falls_back_to_the_previous_one(store: CheckpointStore) -> None:
    store.save(pickle_state("old"), positions={0: 1}, events_learned=1)
    newest = store.save(pickle_state("new"), positions={0: 2}, events_learned=2)
    newest.write_bytes(newest.read_bytes()[:-1])
    assert store.load_latest().state == "old"


def test_when_no_file_is_usable_loading_says_why(store: CheckpointStore) -> None:
    path = store.save(pickle_state("only"), positions={0: 1}, events_learned=1)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        store.load_latest()


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="at least 16 bytes"):
        CheckpointStore(tmp_path, key=b"short")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_model_round_trips_through_the_allow_list(name: str) -> None:
    spec = build_model(name)
    stream = datasets.Phishing() if spec.task == "classification" else datasets.TrumpApproval()
    examples = list(itertools.islice(stream, 200))
    model = spec.estimator
    for x, y in examples[:150]:
        model.learn_one(x, y)
    restored = restricted_loads(pickle_state(model))
    for x, y in examples[150:]:
        if spec.task == "classification":
            assert restored.predict_proba_one(x) == model.predict_proba_one(x)
        else:
            assert restored.predict_one(x) == model.predict_one(x)
        model.learn_one(x, y)
        restored.learn_one(x, y)


def test_a_learner_with_evaluated_drift_monitors_round_trips() -> None:
    import random

    from service.drift.watch import DriftConfig, DriftWatch
    from service.events import Event
    from service.learner import Learner

    spec = build_model("hoeffding")
    learner = Learner.for_model(
        "hoeffding", rolling_window=100, drift=DriftWatch(DriftConfig(), spec.task)
    )
    rng = random.Random(0)
    for offset in range(4_000):
        x = {"x": rng.gauss(0, 1), "colour": rng.choice("rgb")}
        learner.learn(Event(x, label=x["x"] > 0), partition=0, offset=offset)
    restored = restricted_loads(pickle_state(learner))
    assert restored.values() == learner.values()
    assert restored.drift_values(5) == learner.drift_values(5)


@pytest.mark.parametrize("strategy", ["online", "static", "periodic", "triggered", "hybrid"])
@pytest.mark.parametrize("history", ["window", "decay", "all"])
def test_a_learner_under_every_strategy_round_trips(strategy: str, history: str) -> None:
    from service.events import Event
    from service.learner import Learner
    from service.strategies.config import StrategyConfig

    config = StrategyConfig(
        strategy=strategy,
        history_policy=history,
        rebuild_every=300,
        initial_events=100,
        rebuild_background=False,
    )
    learner = Learner.for_model("logreg", rolling_window=100, strategy=config)
    examples = list(itertools.islice(datasets.Phishing(), 1_000))
    for offset, (x, y) in enumerate(examples[:900]):
        learner.learn(Event(x, label=y), partition=0, offset=offset)
    restored = restricted_loads(pickle_state(learner))
    for offset, (x, y) in enumerate(examples[900:], start=900):
        learner.learn(Event(x, label=y), partition=0, offset=offset)
        restored.learn(Event(x, label=y), partition=0, offset=offset)
    assert restored.values() == learner.values()
    assert restored.model_version == learner.model_version
