"""HTTP servers under test as child processes: start pinned, wait until they answer, stop.

A server counts as started only when its readiness URL answers: the service needs more than
2.5 s to import River, and a load run that starts earlier measures "connection refused".

    server = start_server([sys.executable, "-m", "bench.floor_app", "--port", "{port}"])
    try:
        ...  # load server.url
    finally:
        server.stop()
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import port_for

from bench.protocol import SERVICE_CORE, pinned_command

__all__ = ["Server", "ServerError", "start_server", "start_service"]

#: Importing River and starting uvicorn on one busy core of a 2-core VM can take this long.
START_TIMEOUT_S = 60.0
_POLL_S = 0.1
_STOP_TIMEOUT_S = 15.0
_ROOT = Path(__file__).resolve().parents[1]


class ServerError(RuntimeError):
    """A server exited, or never answered its readiness URL; the message carries its log."""


@dataclass
class Server:
    """One running server process: where it listens and how to stop it."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def status(self, path: str, timeout: float = 2.0) -> int | None:
        """The status of ``GET path``, or ``None`` while nothing answers."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except OSError:
            return None
        finally:
            connection.close()

    def log_tail(self, lines: int = 30) -> str:
        if not self._log.closed:
            self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, path: str, expect: int = 200, timeout: float = START_TIMEOUT_S) -> None:
        """Poll ``GET path`` until it answers ``expect``; raise with the log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"server on port {self.port} exited with {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            if self.status(path) == expect:
                return
            time.sleep(_POLL_S)
        raise ServerError(
            f"server on port {self.port}: {path} not {expect} within {timeout:.0f} s:\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> int:
        """SIGTERM (a graceful shutdown: the service writes its checkpoint), then SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode


def start_server(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    core: int | None = SERVICE_CORE,
    ready_path: str = "/health",
    ready_status: int = 200,
    timeout: float = START_TIMEOUT_S,
    port: int | None = None,
    log_dir: Path | None = None,
) -> Server:
    """Start ``command`` on a free port, pinned to ``core``, and wait until it is ready.

    Parameters
    ----------
    command
        The server's command line; ``{port}`` in an argument is replaced by the port.
    env
        Variables added to this process's environment.
    core
        The core to pin the whole process to; ``None`` leaves it unpinned.
    ready_path, ready_status
        The server is ready when ``GET ready_path`` answers ``ready_status``.
    port
        The port to listen on; a free one when omitted.
    log_dir
        Where the server's output goes (a file per server); a temporary folder when omitted.
    """
    port = port or port_for.select_random()
    argv = [part.replace("{port}", str(port)) for part in command]
    if core is not None:
        argv = pinned_command(argv, core)
    folder = log_dir or Path(tempfile.mkdtemp(prefix="driftline-bench-"))
    log_path = folder / f"server-{port}.log"
    log = log_path.open("ab")
    process = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        cwd=_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, "127.0.0.1", port, log_path, log)
    try:
        server.wait_ready(ready_path, ready_status, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def start_service(
    env: dict[str, str],
    *,
    core: int | None = SERVICE_CORE,
    ready_path: str = "/health",
    timeout: float = START_TIMEOUT_S,
    log_dir: Path | None = None,
) -> Server:
    """Start the real service, ``python -m service``, with ``DRIFTLINE_*`` settings in ``env``.

    ``DRIFTLINE_PORT`` is chosen here. Wait on ``/health`` (the default) when no broker is
    reachable, or on ``/ready`` once the consumer should hold its partitions.
    """
    port = port_for.select_random()
    return start_server(
        [sys.executable, "-m", "service"],
        env={**env, "DRIFTLINE_PORT": str(port)},
        core=core,
        ready_path=ready_path,
        timeout=timeout,
        port=port,
        log_dir=log_dir,
    )
