"""``python -m service`` / ``driftline``: run one Driftline service process.

Every option comes from ``DRIFTLINE_*`` environment variables (see README's configuration
table); there are no command-line flags to keep in step with them.
"""

from __future__ import annotations

import logging.config
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from service.api.server import http_protocol
from service.app import create_app
from service.config import Settings
from service.errors import DriftlineError

__all__ = ["http_server", "logging_config", "main", "serve"]


def logging_config(level: str) -> dict[str, Any]:
    """One logging configuration for Driftline and uvicorn, merged from uvicorn's own."""
    config: dict[str, Any] = {
        **uvicorn.config.LOGGING_CONFIG,
        "loggers": dict(uvicorn.config.LOGGING_CONFIG["loggers"]),
    }
    config["formatters"] = {
        **config["formatters"],
        "driftline": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    }
    config["handlers"] = {
        **config["handlers"],
        "driftline": {
            "class": "logging.StreamHandler",
            "formatter": "driftline",
            "stream": "ext://sys.stderr",
        },
    }
    upper = level.upper()
    config["loggers"]["service"] = {"handlers": ["driftline"], "level": upper, "propagate": False}
    config["loggers"]["kafka"] = {"handlers": ["driftline"], "level": "WARNING", "propagate": False}
    config["loggers"]["uvicorn"] = {**config["loggers"]["uvicorn"], "level": upper}
    return config


def main() -> None:
    """Read the settings, then serve and learn until SIGINT or SIGTERM."""
    try:
        settings = Settings()
    except ValidationError as error:
        # Name each bad setting and why, never its value: a value may be a secret.
        problems = "\n".join(
            f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        raise SystemExit(f"driftline: invalid configuration:\n{problems}") from None
    config = logging_config(settings.log_level)
    logging.config.dictConfig(config)
    server: uvicorn.Server | None = None

    def stop_serving() -> None:
        if server is not None:
            server.should_exit = True  # uvicorn looks at it every 0.1 s, as after a SIGTERM

    try:
        app = create_app(settings, stop_service=stop_serving)
    except DriftlineError as error:
        raise SystemExit(f"driftline: {error}") from None
    server = http_server(app, settings, config)
    try:
        server.run()  # a failed start is uvicorn's SystemExit(3)
    finally:
        # A refusal at start (a state folder of another stream, no usable checkpoint) or by
        # the ingest worker later ends the process with it as the message, and status 1.
        refusal = getattr(app.state, "refusal", None)
        if refusal is not None:
            raise SystemExit(f"driftline: {refusal}")  # in place of the exit status


def http_server(app: FastAPI, settings: Settings, log_config: dict[str, Any]) -> uvicorn.Server:
    """The HTTP server of ``app`` with the settings' address and limits (not started)."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=log_config,
            access_log=False,
            # The C event loop and HTTP parser: about 1.7× the requests/s of asyncio and h11;
            # the protocol adds the header limit and the timeouts of the settings.
            loop="uvloop",
            http=http_protocol(settings),
        )
    )


def serve(app: FastAPI, settings: Settings, log_config: dict[str, Any]) -> None:
    """Serve ``app`` over HTTP with the settings' address and limits, until a signal."""
    http_server(app, settings, log_config).run()


if __name__ == "__main__":
    main()
