"""The HTTP server bounds what a client may hold: head size, read time, idle time.

These run raw sockets against the real server, ``service.__main__.serve`` (uvloop and the
bounded httptools protocol) of an app that does not consume, in a child process.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import port_for
import pytest

from tests.fixtures.service import ServiceProcess

MAX_HEADER_BYTES = 16_384
READ_TIMEOUT_S = 2.0
KEEP_ALIVE_S = 1
# How much later than its timeout a loaded 2-core machine may close a connection.
LATE_S = 15.0
# A timer may fire a clock tick early (uvloop counts whole milliseconds).
EARLY_S = 0.01

SERVE = """
import logging.config
from service.__main__ import logging_config, serve
from service.app import create_app
from service.config import Settings
settings = Settings()
config = logging_config(settings.log_level)
logging.config.dictConfig(config)
serve(create_app(settings, consume=False), settings, config)
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {
        "DRIFTLINE_PORT": str(port_for.select_random()),
        "DRIFTLINE_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "DRIFTLINE_REQUEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
        "DRIFTLINE_KEEP_ALIVE_TIMEOUT_S": str(KEEP_ALIVE_S),
        "DRIFTLINE_LOG_LEVEL": "debug",
    }
    log = tmp_path_factory.mktemp("http") / "server.log"
    service = ServiceProcess(env, log, command=[sys.executable, "-c", SERVE])
    try:
        service.wait_healthy()
        yield service
    finally:
        service.stop()


def connect(server: ServiceProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection; fail if it never does."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(65_536):
            received += chunk
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {within} s: {received[:200]!r}")
    except ConnectionResetError:
        pass  # closed with our unread bytes still in its buffer: closed all the same
    return received


def closes_after(sock: socket.socket, timeout: float, started: float) -> tuple[bytes, float]:
    """What the server sent before closing, and the time since ``started``.

    ``started`` is taken before the client acts that arms the server's timer (connecting,
    sending), so the time measured is never shorter than the server's.
    """
    received = read_until_closed(sock, timeout + LATE_S)
    return received, time.monotonic() - started


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def head(*lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode()


def test_a_head_over_the_limit_gets_431_and_the_connection_closed(server: ServiceProcess) -> None:
    with connect(server) as sock:
        big = "x" * (2 * MAX_HEADER_BYTES)
        sock.sendall(head("GET /health HTTP/1.1", "Host: test", f"X-Big: {big}", ""))
        received = read_until_closed(sock, LATE_S)
    assert received.startswith(b"HTTP/1.1 431 ")


def test_a_head_just_under_the_limit_is_served(server: ServiceProcess) -> None:
    with connect(server) as sock:
        value = "x" * (MAX_HEADER_BYTES - 200)
        sock.sendall(head("GET /health HTTP/1.1", "Host: test", f"X-Big: {value}", ""))
        assert sock.recv(65_536).startswith(b"HTTP/1.1 200 ")


def test_unfinished_heads_of_megabytes_are_refused_without_being_buffered(
    server: ServiceProcess,
) -> None:
    header = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Big: " + b"x" * 8_000_000
    before = rss_bytes(server.process.pid)
    sockets = [connect(server) for _ in range(10)]
    try:
        for sock in sockets:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(header)  # the server may refuse it before all of it is sent
        grown = rss_bytes(server.process.pid) - before
        for sock in sockets:
            received = read_until_closed(sock, LATE_S)
            assert received == b"" or received.startswith(b"HTTP/1.1 431 ")
    finally:
        for sock in sockets:
            sock.close()
    # Ten heads held would be 80 MB; each refused one costs at most a read past the limit.
    assert grown < 20_000_000, grown


def test_a_new_connection_that_sends_nothing_is_closed_after_the_keep_alive_timeout(
    server: ServiceProcess,
) -> None:
    started = time.monotonic()
    with connect(server) as sock:
        received, elapsed = closes_after(sock, KEEP_ALIVE_S, started)
    assert received == b""
    assert KEEP_ALIVE_S - EARLY_S <= elapsed <= KEEP_ALIVE_S + LATE_S


def test_an_idle_keep_alive_connection_is_closed_after_the_timeout(server: ServiceProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()  # before the response that arms the idle timer
        sock.sendall(head("GET /health HTTP/1.1", "Host: test", ""))
        received, elapsed = closes_after(sock, KEEP_ALIVE_S, started)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert received.endswith(b'{"status":"ok"}')  # one response, then the close
    assert KEEP_ALIVE_S - EARLY_S <= elapsed <= KEEP_ALIVE_S + LATE_S


def test_an_unfinished_head_gets_408_and_is_closed_after_the_read_timeout(
    server: ServiceProcess,
) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(head("POST /predict HTTP/1.1", "Host: test"))
        received, elapsed = closes_after(sock, READ_TIMEOUT_S, started)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert READ_TIMEOUT_S - EARLY_S <= elapsed <= READ_TIMEOUT_S + LATE_S


def test_a_body_that_never_completes_gets_408_and_is_closed_after_the_read_timeout(
    server: ServiceProcess,
) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(
            head(
                "POST /predict HTTP/1.1",
                "Host: test",
                "Content-Type: application/json",
                "Content-Length: 100",
                "",
            )
            + b'{"features":'
        )
        received, elapsed = closes_after(sock, READ_TIMEOUT_S, started)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert READ_TIMEOUT_S - EARLY_S <= elapsed <= READ_TIMEOUT_S + LATE_S


def test_a_head_dripped_a_byte_at_a_time_is_closed_after_the_read_timeout(
    server: ServiceProcess,
) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\nX-Slow: ")
        sock.settimeout(0.2)  # the pace of the drip; the answer is the close
        received = b""
        while time.monotonic() - started < READ_TIMEOUT_S + LATE_S:
            try:
                sock.send(b"x")
                received += sock.recv(65_536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if not received or received.endswith(b"\r\n\r\n"):
                break
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408 ")
    assert READ_TIMEOUT_S - EARLY_S <= elapsed <= READ_TIMEOUT_S + LATE_S


def test_a_client_that_hangs_up_mid_body_is_a_debug_line_not_a_traceback(
    server: ServiceProcess,
) -> None:
    with connect(server) as sock:
        sock.sendall(
            head(
                "POST /predict HTTP/1.1",
                "Host: test",
                "Content-Type: application/json",
                "Content-Length: 1000",
                "",
            )
            + b'{"features"'
        )
    quiet = "client disconnected before sending its body: POST /predict"
    loud = "Exception in ASGI application"
    server.wait_until(
        lambda: quiet in server.log_path.read_text() or loud in server.log_path.read_text(),
        LATE_S,
        "logged the disconnect",
    )
    log = server.log_path.read_text()
    assert quiet in log
    assert loud not in log
    assert "Traceback" not in log
    assert " ERROR " not in log


def test_a_small_head_with_a_large_body_in_the_same_reads_is_not_refused(
    server: ServiceProcess,
) -> None:
    """Body bytes never count towards the head: a body far over the head limit is read."""
    features = ", ".join(f'"f{i}": {i}.5' for i in range(40_000))  # ~600 KB: many reads
    body = f'{{"features": {{{features}}}}}'.encode()
    request = head(
        "POST /predict HTTP/1.1",
        "Host: test",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "",
    )
    with connect(server) as sock:
        sock.sendall(request + body)
        answer = read_until_closed(sock, KEEP_ALIVE_S + LATE_S)
    assert answer.startswith(b"HTTP/1.1 422 ")  # the feature limit's answer, not a 431
    assert b"more than the limit of 10000" in answer
