"""Producing exact records with kcat, librdkafka's command-line client (a client nobody here wrote).

kafka-python's producer refuses what these tests need: a header key that is not UTF-8 (it
encodes ``str`` keys) and a header with a null value (it wants ``bytes``). kcat sends the
bytes it is given. What kcat cannot express is left out of :class:`KcatRecord`'s domain: a NUL
byte in a key or header (they travel as C strings in argv), ``=`` in a header key (kcat splits
``-H name=value`` there), an empty header key, and a null key beside an empty value.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KcatRecord", "kcat_produce", "kcat_produce_together"]

# The key/value delimiter of kcat's line mode; records sent that way never hold it in the key.
KEY_DELIMITER = b":"
_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KcatRecord:
    """One record exactly as the broker will hold it."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[bytes, bytes | None], ...] = ()


def kcat_produce(bootstrap_servers: str, topic: str, record: KcatRecord, *options: str) -> None:
    """Produce ``record`` to partition 0 of ``topic`` and wait for the broker's ack.

    ``options`` go to kcat as they are (e.g. ``-X message.max.bytes=...``).
    """
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is missing: run scripts/bootstrap.sh"
    command: list[bytes | str] = [kcat, "-P", "-b", bootstrap_servers, "-t", topic, "-p", "0"]
    command += options
    for name, value in record.headers:
        command += ["-H", name if value is None else name + b"=" + value]
    with tempfile.TemporaryDirectory() as folder:
        stdin: bytes | None = None
        if record.value:
            # A file is one message, whatever bytes it holds.
            path = Path(folder) / "value"
            path.write_bytes(record.value)
            if record.key is not None:
                command += ["-k", record.key]
            command.append(str(path))
        else:
            # Line mode sends an empty value, or with -Z a null one (an empty key is null then).
            assert record.key is None or KEY_DELIMITER not in record.key
            command += ["-K", KEY_DELIMITER.decode()]
            if record.value is None:
                command.append("-Z")
            stdin = (record.key or b"") + KEY_DELIMITER + b"\n"
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=_TIMEOUT_S)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode(errors="replace")


def kcat_produce_together(
    bootstrap_servers: str,
    topic: str,
    values: list[bytes],
    headers: tuple[tuple[bytes, bytes], ...],
) -> None:
    """Produce non-empty ``values`` in one kcat run, all with ``headers``: one record batch."""
    kcat = shutil.which("kcat")
    assert kcat is not None, "kcat is missing: run scripts/bootstrap.sh"
    command: list[bytes | str] = [kcat, "-P", "-b", bootstrap_servers, "-t", topic, "-p", "0"]
    command += ["-X", "linger.ms=1000"]  # one batch, whatever the machine's speed
    for name, value in headers:
        command += ["-H", name + b"=" + value]
    with tempfile.TemporaryDirectory() as folder:
        for index, value in enumerate(values):
            assert value
            path = Path(folder) / f"value-{index:04d}"
            path.write_bytes(value)
            command.append(str(path))
        done = subprocess.run(command, capture_output=True, timeout=_TIMEOUT_S)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode(errors="replace")
