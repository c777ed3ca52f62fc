"""Signed, atomic checkpoints tied to the Kafka offsets they have learned through.

A checkpoint is one file holding a pickle of everything learning changes (the model, its
metrics, drift detectors, strategy state) together with, for each partition, the next offset to
read. Restoring it and seeking every partition to those offsets continues the stream exactly
where the checkpointed model left it, so a crash loses no event and learns none twice.

Pickle runs code when it loads, so a checkpoint is trusted only when its HMAC-SHA256, under a
key from the environment, verifies; even then it is unpickled with an allow-list of the classes
a checkpoint may contain. The River version and the checkpoint format are in the signed
header and must match the running process.

File layout (all integers big-endian)::

    b"DRFTCKPT"  8 bytes   magic
    hmac         32 bytes  HMAC-SHA256(key, everything after this field)
    header_len   4 bytes
    header       JSON      format, versions, sequence, offsets, counts, time
    payload      pickle    the learner's state

Examples
--------
>>> import tempfile, pathlib
>>> store = CheckpointStore(pathlib.Path(tempfile.mkdtemp()), key=b"k" * 32, keep=2)
>>> path = store.save(pickle_state({"weights": [1.0, 2.0]}), positions={0: 42}, events_learned=40)
>>> loaded = store.load_latest()
>>> loaded.positions, loaded.state
({0: 42}, {'weights': [1.0, 2.0]})
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import os
import pickle
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import river

import service
from service.errors import DriftlineError

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "pickle_state",
    "restricted_loads",
]

log = logging.getLogger(__name__)

#: Bump when the layout or the meaning of the state changes; older files are then refused.
CHECKPOINT_FORMAT = 1
_MAGIC = b"DRFTCKPT"
_DIGEST_SIZE = hashlib.sha256().digest_size
_LENGTH = struct.Struct(">I")
_NAME = re.compile(r"^checkpoint-(\d{12})\.ckpt$")


class CheckpointError(DriftlineError):
    """A checkpoint cannot be written, or a file cannot be trusted or used."""


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: its state and the offsets that state has learned through."""

    path: Path
    sequence: int
    positions: dict[int, int]
    events_learned: int
    created_at: float
    state: Any


def pickle_state(state: object) -> bytes:
    """Pickle the learner's state; call it from the thread that owns the state."""
    return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


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
    """

    def __init__(self, directory: Path, key: bytes, keep: int = 3) -> None:
        if len(key) < 16:
            raise CheckpointError("the checkpoint signing key must be at least 16 bytes")
        if keep < 1:
            raise CheckpointError("keep at least one checkpoint")
        self.directory = directory
        self._key = key
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)
        self._sequence = max((seq for seq, _ in self._files()), default=0)

    def save(self, payload: bytes, positions: dict[int, int], events_learned: int) -> Path:
        """Sign and write one checkpoint atomically; return its path.

        ``payload`` is :func:`pickle_state`'s output, taken by the state's owner; the slow part
        here (writing, fsync) needs no lock.
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
        }
        header_bytes = json.dumps(header, sort_keys=True).encode()
        body = _LENGTH.pack(len(header_bytes)) + header_bytes + payload
        signature = hmac.new(self._key, body, hashlib.sha256).digest()
        path = self.directory / f"checkpoint-{self._sequence:012d}.ckpt"
        _write_atomically(path, _MAGIC + signature + body)
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
        (header_length,) = _LENGTH.unpack_from(body)
        header = json.loads(body[_LENGTH.size : _LENGTH.size + header_length])
        if header.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(
                f"{path}: checkpoint format {header.get('format')}, this Driftline reads "
                f"format {CHECKPOINT_FORMAT}"
            )
        if header.get("river") != river.__version__:
            raise CheckpointError(
                f"{path}: written with River {header.get('river')}, this process runs River "
                f"{river.__version__}; a model pickled by one River version may not load or "
                "behave the same under another"
            )
        try:
            state = restricted_loads(body[_LENGTH.size + header_length :])
        except pickle.UnpicklingError as error:
            raise CheckpointError(f"{path}: {error}") from error
        return Checkpoint(
            path=path,
            sequence=header["sequence"],
            positions={int(p): o for p, o in header["positions"].items()},
            events_learned=header["events_learned"],
            created_at=header["created_at"],
            state=state,
        )

    def load_latest(self) -> Checkpoint | None:
        """The newest checkpoint that verifies, or ``None`` when the folder has none at all.

        An unusable file is logged with its reason and the previous one is tried; when files
        exist but none is usable, :class:`CheckpointError` says why each was refused, so the
        service refuses to start rather than silently starting from scratch.
        """
        refused = []
        for _, path in sorted(self._files(), reverse=True):
            try:
                return self.load(path)
            except CheckpointError as error:
                log.error("refusing checkpoint: %s", error)
                refused.append(str(error))
        if refused:
            raise CheckpointError("no usable checkpoint:\n  " + "\n  ".join(refused))
        return None

    def paths(self) -> list[Path]:
        """The checkpoint files, oldest first."""
        return [path for _, path in sorted(self._files())]

    def _files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return found

    def _prune(self) -> None:
        for _, path in sorted(self._files())[: -self.keep]:
            path.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    """Temporary file, fsync, rename, fsync of the folder: a crash leaves old or new, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# --- unpickling with an allow-list ------------------------------------------------------------

_ALLOWED_PACKAGES = ("river", "service")
_SAFE_BUILTINS = (
    "bool bytearray bytes complex dict float frozenset int list object range set slice str tuple"
)
_ALLOWED_GLOBALS = {("builtins", name) for name in _SAFE_BUILTINS.split()} | {
    ("collections", "Counter"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("collections", "deque"),
    ("copyreg", "_reconstructor"),
    ("datetime", "datetime"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("functools", "partial"),
    ("random", "Random"),
    ("time", "time"),  # the strategy manager's clock
    ("service.models", "build_model"),  # the strategy manager's model factory
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
}


def _safe_getattr(obj: object, name: str) -> object:
    """``getattr`` for pickled bound methods, never for dunder attributes (``__globals__``...)."""
    if name.startswith("__") and name.endswith("__"):
        raise pickle.UnpicklingError(
            f"checkpoint asks for attribute {name!r}, which is not allowed"
        )
    return getattr(obj, name)


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _safe_getattr
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        if module.split(".")[0] in _ALLOWED_PACKAGES:
            found = super().find_class(module, name)
            # Classes, and methods of classes (qualified names), never module-level functions.
            if isinstance(found, type) or "." in name:
                return found
        raise pickle.UnpicklingError(
            f"checkpoint refers to {module}.{name}, which is not on the allow-list"
        )


def restricted_loads(data: bytes) -> Any:
    """Unpickle with the allow-list of classes a checkpoint may contain."""
    return _AllowListUnpickler(io.BytesIO(data)).load()
