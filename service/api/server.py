"""The HTTP server: uvicorn's httptools protocol with a bounded request head and read time.

httptools (llhttp) has no header limit: it buffers a header of any size, and uvicorn's
protocol has no timer while a request is read. :class:`BoundedHttpToolsProtocol` adds both:

* a request head (target and header fields) larger than ``max_header_bytes`` gets a 431 and
  the connection is closed. A head still incomplete is measured by the bytes read for it, so
  at most one read (uvloop reads up to 250 KB) is buffered beyond the limit;
* a request whose head and body are not read within ``request_read_timeout_s`` of its first
  byte gets a 408 (unless a response is already being written) and the connection is closed;
* a connection idle for ``keep_alive_timeout_s`` is closed, from its opening on (uvicorn
  starts that timer only after a response).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from service.config import Settings

__all__ = ["BoundedHttpToolsProtocol", "http_protocol"]


async def _header_too_large(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app that answers a request whose complete head is over the limit."""
    body = b"Request header fields too large"
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send(
        {
            "type": "http.response.start",
            "status": 431,
            "headers": [*headers, (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Driftline's limits (set by :func:`http_protocol`)."""

    max_header_bytes = 65_536
    request_read_timeout_s = 30.0
    keep_alive_timeout_s = 5

    def __init__(
        self, config: Config, server_state: ServerState, app_state: dict[str, Any], **kw: Any
    ) -> None:
        super().__init__(config, server_state, app_state, **kw)
        self.timeout_keep_alive = self.keep_alive_timeout_s  # uvicorn's own idle timer
        self._reading_head = True
        self._head_bytes = 0
        self._read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is idle too.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        if self._read_timer is None:
            self._read_timer = self.loop.call_later(
                self.request_read_timeout_s, self._read_timed_out
            )
        super().data_received(data)
        if self._reading_head and self._head_bytes > self.max_header_bytes:
            self._refuse(431)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) for name, value in self.headers)
        if size <= self.max_header_bytes:
            super().on_headers_complete()
            return
        # Answer through uvicorn's own cycle, as it answers a 503 over its concurrency limit.
        app, self.app = self.app, _header_too_large
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        self._reading_head = True
        self._stop_read_timer()
        super().on_message_complete()

    def _stop_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.flow.read_paused or (self._reading_head and self._responding()):
            # The server, not the client, is what keeps this request waiting.
            self._read_timer = self.loop.call_later(
                self.request_read_timeout_s, self._read_timed_out
            )
            return
        self._refuse(408)

    def _responding(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _refuse(self, status: int) -> None:
        """Answer ``status`` unless a response is half-written, and close the connection."""
        if self.transport.is_closing():
            return
        if not (self._responding() and self.cycle.response_started):
            self.transport.write(
                STATUS_LINE[status] + b"content-length: 0\r\nconnection: close\r\n\r\n"
            )
        self.transport.close()


def http_protocol(settings: Settings) -> type[BoundedHttpToolsProtocol]:
    """The protocol class uvicorn runs, carrying these settings' HTTP limits."""

    class Protocol(BoundedHttpToolsProtocol):
        max_header_bytes = settings.max_header_bytes
        request_read_timeout_s = settings.request_read_timeout_s
        keep_alive_timeout_s = settings.keep_alive_timeout_s

    return Protocol
