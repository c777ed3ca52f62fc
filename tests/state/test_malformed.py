"""A signed file is not a well-formed one: every malformed checkpoint is a named refusal.

The key holder (or a bug, or a leaked key) can sign anything. Whatever the header or the payload
holds, loading ends in a checkpoint or a :class:`CheckpointError` naming the file, and the store
falls back to the previous valid checkpoint; a folder or a link by a checkpoint's name is not
a checkpoint, is never deleted, and never stops a save from being tried again.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.state.checkpoint import CheckpointError, CheckpointStore, pickle_state
from service.state.owner import Owner

KEY = b"a-test-key-of-32-bytes-exactly!!"


def signed(header: bytes, payload: bytes, *, length: int | None = None) -> bytes:
    """A file signed with the right key, holding exactly these bytes as header and payload."""
    body = struct.pack(">I", len(header) if length is None else length) + header + payload
    return b"DRFTCKPT" + hmac.new(KEY, body, hashlib.sha256).digest() + body


def good_header(**changes: object) -> dict:
    import river

    import service

    header = {
        "format": 2,
        "river": river.__version__,
        "driftline": service.__version__,
        "sequence": 2,
        "created_at": 1.0,
        "positions": {"0": 10},
        "events_learned": 10,
        "owner": None,
    }
    return {**header, **changes}


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    store = CheckpointStore(tmp_path / "state", key=KEY, keep=5)
    store.save(pickle_state("older and valid"), positions={0: 5}, events_learned=5)
    return store


def newest(store: CheckpointStore) -> Path:
    return store.directory / "checkpoint-000000000002.ckpt"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (signed(b"{}", b"", length=2**32 - 1), "header length 4294967295 runs past the end"),
        (signed(b"\xff\xfe not json", pickle_state(1)), "the header is not JSON"),
        (signed(b"[" * 100_000, pickle_state(1)), "the header is not JSON"),
        (signed(b"[1, 2]", pickle_state(1)), "not a JSON object"),
        (signed(json.dumps(good_header(format=9)).encode(), b""), "format 9"),
        (signed(json.dumps(good_header(positions={"x": 1})).encode(), b""), "positions"),
        (signed(json.dumps(good_header(positions={"0": -1})).encode(), b""), "positions"),
        (signed(json.dumps(good_header(events_learned="10")).encode(), b""), "events_learned"),
        (signed(json.dumps(good_header(sequence=True)).encode(), b""), "sequence"),
        (signed(json.dumps(good_header(owner={"topic": 3})).encode(), b""), "owner.topic"),
        (signed(json.dumps(good_header()).encode(), b"\x80\x05truncated"), "cannot be unpickled"),
        (signed(json.dumps(good_header()).encode(), b""), "cannot be unpickled"),
    ],
)
def test_a_malformed_signed_file_is_refused_by_name_and_the_older_one_loads(
    store: CheckpointStore, content: bytes, reason: str
) -> None:
    newest(store).write_bytes(content)
    with pytest.raises(CheckpointError, match=f"{newest(store).name}.*{reason}"):
        store.load(newest(store))
    assert store.load_latest().state == "older and valid"


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.binary(max_size=300), payload=st.binary(max_size=300))
def test_any_signed_bytes_load_or_are_refused(
    store: CheckpointStore, header: bytes, payload: bytes
) -> None:
    newest(store).write_bytes(signed(header, payload))
    with contextlib.suppress(CheckpointError):  # any other exception fails the test
        store.load(newest(store))
    assert store.load_latest() is not None


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.dictionaries(st.text(max_size=20), st.none() | st.integers() | st.text()))
def test_any_signed_json_header_loads_or_is_refused(store: CheckpointStore, header: dict) -> None:
    newest(store).write_bytes(signed(json.dumps(good_header(**header)).encode(), pickle_state(1)))
    with contextlib.suppress(CheckpointError):  # any other exception fails the test
        store.load(newest(store))


def test_a_folder_by_a_checkpoints_name_is_neither_loaded_nor_deleted(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    (directory / "checkpoint-000000000001.ckpt").mkdir(parents=True)
    os.symlink("/dev/null", directory / "checkpoint-000000000009.ckpt")
    store = CheckpointStore(directory, key=KEY, keep=1)
    assert store.load_latest() is None
    with pytest.raises(CheckpointError, match="cannot write"):  # the folder is in the way
        store.save(pickle_state("first"), positions={0: 1}, events_learned=1)
    for n in range(2, 6):
        store.save(pickle_state(n), positions={0: n}, events_learned=n)
    assert store.load_latest().state == 5
    assert (directory / "checkpoint-000000000001.ckpt").is_dir()
    assert (directory / "checkpoint-000000000009.ckpt").is_symlink()
    assert [p.name for p in store.paths()] == ["checkpoint-000000000005.ckpt"]


def test_a_state_path_that_is_a_file_is_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot be used as the state folder"):
        CheckpointStore(path, key=KEY)
    with pytest.raises(CheckpointError, match="cannot be used as the state folder"):
        CheckpointStore(path / "below", key=KEY)


def test_the_owner_is_signed_into_every_checkpoint(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, key=KEY)
    owner = Owner(topic="t", model="logreg", task="classification", partitions=3, cluster_id="c")
    store.claim(owner)
    store.save(pickle_state(1), positions={0: 1}, events_learned=1)
    assert CheckpointStore(tmp_path, key=KEY).load_latest().owner == owner


@pytest.mark.parametrize(
    ("now", "conflict"),
    [
        (Owner(topic="other"), "topic 'events' in the state folder, 'other' now"),
        (Owner(model="hoeffding"), "model 'logreg' in the state folder, 'hoeffding' now"),
        (Owner(task="regression"), "task 'classification' in the state folder"),
        (Owner(cluster_id="B"), "cluster_id 'A' in the state folder, 'B' now"),
        (Owner(partitions=2), "3 partitions in the state folder, 2 now"),
    ],
)
def test_a_folder_of_another_stream_is_refused_naming_both_sides(
    tmp_path: Path, now: Owner, conflict: str
) -> None:
    store = CheckpointStore(tmp_path, key=KEY)
    store.claim(Owner("events", "logreg", "classification", partitions=3, cluster_id="A"))
    store.save(pickle_state(1), positions={0: 1}, events_learned=1)
    reopened = CheckpointStore(tmp_path, key=KEY)
    reopened.load_latest()
    with pytest.raises(CheckpointError, match=conflict):
        reopened.claim(now)
    aside = reopened.claim(now, on_mismatch="start_fresh")
    assert aside is not None and [p.name for p in aside.iterdir()] == [
        "checkpoint-000000000001.ckpt"
    ]
    assert reopened.load_latest() is None and reopened.owner == now


def test_more_partitions_and_unknown_fields_are_the_same_stream(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path, key=KEY)
    store.claim(Owner("events", "logreg", "classification", partitions=3, cluster_id=None))
    assert store.claim(Owner("events", partitions=6, cluster_id="A")) is None
    assert store.owner == Owner("events", "logreg", "classification", 6, "A")
