"""Signed, atomic checkpoints tied to the Kafka offsets they have learned through.

A checkpoint is one file holding a pickle of everything learning changes (the model, its
metrics, drift detectors, strategy state) together with, for each partition, the next offset to
read. Restoring it and seeking every partition to those offsets continues the stream exactly
where the checkpointed model left it, so a crash loses no event and learns none twice.

Pickle runs code when it loads, so a checkpoint is trusted only when its HMAC-SHA256, under a
key from the environment, verifies; even then it is unpickled with an allow-list of exact
names (:mod:`service.state.unpickle`). The River version and the checkpoint format are in the
signed header and must match the running process, and so must its owner: the topic, the
partition count, the model, the task and the Kafka cluster it learned from (offsets of another
topic would skip or repeat its events silently).

File layout (all integers big-endian)::

    b"DRFTCKPT"  8 bytes   magic
    hmac         32 bytes  HMAC-SHA256(key, everything after this field)
    header_len   4 bytes
    header       JSON      format, versions, sequence, offsets, counts, time, owner
    payload      pickle    the learner's state

Examples
--------
>>> import tempfile, pathlib
>>> store = CheckpointStore(pathlib.Path(tempfile.mkdtemp()), key=b"k" * 32, keep=2)
>>> store.claim(Owner(topic="events", model="logreg", task="classification"))
>>> path = store.save(pickle_state({"weights": [1.0, 2.0]}), positions={0: 42}, events_learned=40)
>>> loaded = store.load_latest()
>>> loaded.positions, loaded.state, loaded.owner.topic
({0: 42}, {'weights': [1.0, 2.0]}, 'events')
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import pickle
import re
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import river
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

import service
from service.errors import DriftlineError
from service.state.owner import Owner, OwnerFields
from service.state.unpickle import restricted_loads

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "StateMismatchError",
    "pickle_state",
    "restricted_loads",
]

log = logging.getLogger(__name__)

#: Bump when the layout or the meaning of the state changes; older files are then refused.
CHECKPOINT_FORMAT = 2
#: Format 1 is format 2 without the owner: still read, the owner is then taken as unknown.
_READABLE_FORMATS = (1, 2)
_MAGIC = b"DRFTCKPT"
_DIGEST_SIZE = hashlib.sha256().digest_size
_LENGTH = struct.Struct(">I")
_NAME = re.compile(r"^checkpoint-(\d{12})\.ckpt$")


class CheckpointError(DriftlineError):
    """A checkpoint cannot be written, or a file cannot be trusted or used."""


class StateMismatchError(CheckpointError):
    """The state folder belongs to another topic, model, task or cluster than this process."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: its state and the offsets that state has learned through."""

    path: Path
    sequence: int
    positions: dict[int, int]
    events_learned: int
    created_at: float
    owner: Owner | None
    state: Any
    feedback_positions: dict[int, int] = field(default_factory=dict)
    """Per partition of the feedback topic, the next offset to read (empty without one)."""


def pickle_state(state: object) -> bytes:
    """Pickle the learner's state; call it from the thread that owns the state."""
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


_Count = Annotated[int, Strict(), Field(ge=0)]


class _Header(BaseModel):
    """The signed header, checked field by field: signed is not the same as well formed."""

    model_config = ConfigDict(extra="ignore")

    sequence: _Count
    created_at: Annotated[float, Field(allow_inf_nan=False)]
    positions: dict[Annotated[int, Field(ge=0)], _Count]
    events_learned: _Count
    owner: OwnerFields | None = None
    feedback_positions: dict[Annotated[int, Field(ge=0)], _Count] = {}


class CheckpointStore:
    """A folder of checkpoints: write atomically, keep the newest ``keep``, load the newest valid.

    Parameters
    ----------
    directory
        Where the files live; created when missing.
    key
        The HMAC key (at least 16 bytes). Files signed under another key are refused.
    keep
        How many of the newest checkpoints to keep; older ones are deleted after each save.
    allowed
        Extra (module, qualified name) pairs the unpickler accepts (a custom model's classes).
    """

    def __init__(
        self,
        directory: Path,
        key: bytes,
        keep: int = 3,
        allowed: Iterable[tuple[str, str]] = (),
    ) -> None:
        if len(key) < 16:
            raise CheckpointError("the checkpoint signing key must be at least 16 bytes")
        if keep < 1:
            raise CheckpointError("keep at least one checkpoint")
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CheckpointError(
                f"{directory}: cannot be used as the state folder: {error.strerror or error}"
            ) from error
        if not directory.is_dir():
            raise CheckpointError(f"{directory}: cannot be used as the state folder: not a folder")
        self.directory = directory
        self._key = key
        self.keep = keep
        self._allowed = tuple(allowed)
        #: What the folder's checkpoints belong to: the restored one's owner, then this process.
        self.owner: Owner | None = None
        self._sequence = max((seq for seq, _ in self._files()), default=0)

    def claim(
        self, current: Owner, on_mismatch: Literal["refuse", "start_fresh"] = "refuse"
    ) -> Path | None:
        """Continue this folder's state as ``current``, if it is the same stream and model.

        When it is not, ``refuse`` raises :class:`StateMismatchError` naming both sides, and
        ``start_fresh`` moves the checkpoints aside and returns the folder they went to (the
        caller then starts a fresh learner). Checkpoints written afterwards record the owner
        with all that ``current`` knows.
        """
        conflicts = [] if self.owner is None else self.owner.conflicts(current)
        aside = None
        if conflicts and on_mismatch == "refuse":
            raise StateMismatchError(
                f"{self.directory} holds the state of another stream or model: "
                + "; ".join(conflicts)
                + ". Use another DRIFTLINE_STATE_DIR, or set DRIFTLINE_STATE_MISMATCH=start_fresh "
                "to move its checkpoints aside and start a fresh model"
            )
        if conflicts:
            aside = self.move_aside()
            log.warning(
                "state folder mismatch (%s): checkpoints moved to %s, a fresh model learns",
                "; ".join(conflicts),
                aside,
            )
        self.owner = current if self.owner is None else self.owner.updated(current)
        return aside

    def move_aside(self) -> Path:
        """Move every checkpoint into a new ``mismatched-*`` subfolder; return it."""
        aside = self.directory / time.strftime("mismatched-%Y%m%dT%H%M%S")
        suffix = 0
        while aside.exists():
            suffix += 1
            aside = aside.with_name(f"{aside.name.split('.')[0]}.{suffix}")
        try:
            aside.mkdir()
            for _, path in self._files():
                path.rename(aside / path.name)
        except OSError as error:
            raise CheckpointError(f"{aside}: cannot move the checkpoints aside: {error}") from error
        self.owner = None
        return aside

    def save(
        self,
        payload: bytes,
        positions: dict[int, int],
        events_learned: int,
        feedback_positions: dict[int, int] | None = None,
    ) -> Path:
        """Sign and write one checkpoint atomically; return its path.

        ``payload`` is :func:`pickle_state`'s output, taken by the state's owner; the slow part
        here (writing, fsync) needs no lock. :class:`CheckpointError` when it cannot be written
        (the older checkpoints are then as they were).
        """
        self._sequence += 1
        header = {
            "format": CHECKPOINT_FORMAT,
            "river": river.__version__,
            "driftline": service.__version__,
            "sequence": self._sequence,
            "created_at": time.time(),
            "positions": {str(p): o for p, o in sorted(positions.items())},
            "events_learned": events_learned,
            "owner": None if self.owner is None else vars(self.owner),
        }
        if feedback_positions:
            header["feedback_positions"] = {
                str(p): o for p, o in sorted(feedback_positions.items())
            }
        header_bytes = json.dumps(header, sort_keys=True).encode()
        body = _LENGTH.pack(len(header_bytes)) + header_bytes + payload
        signature = hmac.new(self._key, body, hashlib.sha256).digest()
        path = self.directory / f"checkpoint-{self._sequence:012d}.ckpt"
        try:
            _write_atomically(path, _MAGIC + signature + body)
        except OSError as error:
            raise CheckpointError(f"{path}: cannot write: {error}") from error
        self._prune()
        return path

    def load(self, path: Path) -> Checkpoint:
        """Verify and load one file; raise :class:`CheckpointError` naming it if it is unusable."""
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CheckpointError(f"{path}: cannot read: {error}") from error
        prefix = len(_MAGIC) + _DIGEST_SIZE + _LENGTH.size
        if len(data) < prefix or not data.startswith(_MAGIC):
            raise CheckpointError(f"{path}: not a Driftline checkpoint (bad magic or truncated)")
        signature = data[len(_MAGIC) : len(_MAGIC) + _DIGEST_SIZE]
        body = data[len(_MAGIC) + _DIGEST_SIZE :]
        expected = hmac.new(self._key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            raise CheckpointError(
                f"{path}: signature does not verify (truncated, tampered with, or signed "
                "under another key); refusing to unpickle it"
            )
        header, payload = _split(path, body)
        try:
            state = restricted_loads(payload, self._allowed)
        except Exception as error:  # off the allow-list, or signed but broken: EOFError, ...
            raise CheckpointError(
                f"{path}: the state cannot be unpickled: {error.__class__.__name__}: {error}"
            ) from error
        return Checkpoint(
            path=path,
            sequence=header.sequence,
            positions=dict(header.positions),
            events_learned=header.events_learned,
            created_at=header.created_at,
            owner=None if header.owner is None else Owner(**header.owner.model_dump()),
            state=state,
            feedback_positions=dict(header.feedback_positions),
        )

    def load_latest(self, accept: Callable[[Checkpoint], None] | None = None) -> Checkpoint | None:
        """The newest checkpoint that verifies, or ``None`` when the folder has none at all.

        An unusable file (or one ``accept`` refuses with :class:`CheckpointError`) is logged
        with its reason and the previous one is tried; when files exist but none is usable,
        :class:`CheckpointError` says why each was refused, so the service refuses to start
        rather than silently starting from scratch. The one loaded gives the folder its owner.
        """
        refused = []
        for _, path in sorted(self._files(), reverse=True):
            try:
                checkpoint = self.load(path)
                if accept is not None:
                    accept(checkpoint)
            except CheckpointError as error:
                log.error("refusing checkpoint: %s", error)
                refused.append(str(error))
                continue
            self.owner = checkpoint.owner
            return checkpoint
        if refused:
            raise CheckpointError("no usable checkpoint:\n  " + "\n  ".join(refused))
        return None

    def paths(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        return [path for _, path in sorted(self._files())]

    def _files(self) -> list[tuple[int, Path]]:
        """The regular files named as checkpoints: a folder or a link by that name is not one."""
        found = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError as error:
            raise CheckpointError(f"{self.directory}: cannot list: {error}") from error
        for entry in entries:
            match = _NAME.match(entry.name)
            if match and entry.is_file(follow_symlinks=False):
                found.append((int(match.group(1)), Path(entry.path)))
        return found

    def _prune(self) -> None:
        for _, path in sorted(self._files())[: -self.keep]:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:  # kept, and tried again after the next save
                log.warning("cannot delete old checkpoint %s: %s", path, error)


def _split(path: Path, body: bytes) -> tuple[_Header, bytes]:
    """The checked header and the payload of a verified body."""
    (length,) = _LENGTH.unpack_from(body)
    if length > len(body) - _LENGTH.size:
        raise CheckpointError(
            f"{path}: header length {length} runs past the end of the file ({len(body)} bytes)"
        )
    try:
        raw = json.loads(body[_LENGTH.size : _LENGTH.size + length])
    except (ValueError, RecursionError) as error:  # not UTF-8, not JSON, nested too deep
        raise CheckpointError(f"{path}: the header is not JSON: {error}") from error
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path}: the header is not a JSON object")
    if raw.get("format") not in _READABLE_FORMATS:
        raise CheckpointError(
            f"{path}: checkpoint format {raw.get('format')!r}, this Driftline reads formats "
            f"{', '.join(map(str, _READABLE_FORMATS))}"
        )
    if raw.get("river") != river.__version__:
        raise CheckpointError(
            f"{path}: written with River {raw.get('river')}, this process runs River "
            f"{river.__version__}; a model pickled by one River version may not load or "
            "behave the same under another"
        )
    try:
        header = _Header.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise CheckpointError(f"{path}: malformed header: {problems}") from error
    return header, body[_LENGTH.size + length :]


def _write_atomically(path: Path, data: bytes) -> None:
    """Temporary file, fsync, rename, fsync of the folder: a crash leaves old or new, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
