"""B3's floor: a bare ASGI app that reads the request and answers a constant JSON body.

No framework and no model, on the service's server stack (uvloop and httptools): the most
requests per second this machine serves over HTTP. ``P ÷ P_floor`` says how much of that the
service keeps.

    python -m bench.floor_app --port 8002
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn

__all__ = ["app"]

_BODY = b'{"prediction":true,"probabilities":{"false":0.25,"true":0.75}}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer every HTTP request ``200`` with the same body, after reading the request's."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def main(port: Annotated[int, typer.Option(help="Port to listen on.")] = 8002) -> None:
    """Serve the floor app on 127.0.0.1."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    typer.run(main)
