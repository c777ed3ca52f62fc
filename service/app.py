"""The app factory: one process serves the live model and learns it from Kafka.

``create_app`` builds a FastAPI app whose lifespan owns every long-lived part (model,
metrics registry, ingest worker). Run it with uvicorn's ``--factory`` or ``python -m service``.
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, disable_created_metrics
from starlette.requests import ClientDisconnect

import service
from service.api import router
from service.api.admin import router as admin_router
from service.api.deps import Runtime
from service.api.leaderboard import router as leaderboard_router
from service.api.watermark import router as watermark_router
from service.config import Settings
from service.drift.watch import DriftWatch
from service.errors import DriftlineError
from service.factory import build_learner, candidates_of, drift_config
from service.feedback.served import ServedQuestions
from service.ingest.kafka import kafka_client_config
from service.ingest.status import ConsumerState
from service.ingest.worker import IngestWorker
from service.learner import Learner
from service.metrics import LearnerCollector, ServiceMetrics
from service.models import build_model
from service.state.checkpoint import Checkpoint, CheckpointError, CheckpointStore
from service.state.checkpointer import Checkpointer
from service.state.owner import Owner

__all__ = ["create_app", "restore_or_build_learner"]

log = logging.getLogger(__name__)

_PREDICT_PATHS = {"/predict": "predict", "/predict/batch": "predict_batch"}


def create_app(
    settings: Settings | None = None,
    *,
    consume: bool = True,
    stop_service: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the service app.

    Parameters
    ----------
    settings
        Configuration; read from ``DRIFTLINE_*`` environment variables when omitted.
    consume
        Start the ingest worker. ``False`` serves the (untrained) model without Kafka, which
        the HTTP tests use.
    stop_service
        How the ingest worker stops the process when it refuses to learn (the entry point
        passes one that makes uvicorn shut down; the refusal is then ``app.state.refusal``).
    """
    settings = settings or Settings()
    if settings.drift_detection:  # refuse a bad detector name or parameter before starting
        DriftWatch(drift_config(settings), build_model(settings.model, settings.seed).task)
    # The client's *_created series double the series count and nothing reads them. This is
    # process-wide and idempotent: one service runs per process.
    disable_created_metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Runtime]]:
        with ExitStack() as stack:
            # The learning thread is CPU-bound: without this a request that arrives while it
            # runs waits up to 5 ms for the interpreter (README, Performance).
            stack.callback(sys.setswitchinterval, sys.getswitchinterval())
            sys.setswitchinterval(settings.switch_interval_ms / 1000)
            registry = CollectorRegistry()
            try:
                checkpoints = open_checkpoints(settings)
                learner = restore_or_build_learner(settings, checkpoints)
            except DriftlineError as error:  # the entry point exits with it as its message
                app.state.refusal = str(error)
                log.error("refusing to start: %s", error)
                raise
            stack.callback(learner.close)  # after the worker's final checkpoint (LIFO)
            metrics = ServiceMetrics(registry)
            consumer_state = ConsumerState()
            registry.register(
                LearnerCollector(
                    learner,
                    consumer_state,
                    settings.drift_exported_features,
                    topics=(settings.topic, settings.feedback_topic),
                )
            )
            checkpointer = None
            if consume and checkpoints is not None:
                checkpointer = Checkpointer(
                    checkpoints,
                    learner,
                    metrics,
                    consumer_state,
                    every_events=settings.checkpoint_every_events,
                    every_s=settings.checkpoint_every_s,
                )
            served = None
            if consume:
                served = ServedQuestions(
                    kafka_client_config(settings), settings.topic, settings.served_write_timeout_s
                )
                stack.callback(served.close)
                worker = IngestWorker(
                    settings,
                    learner,
                    metrics,
                    consumer_state,
                    checkpointer=checkpointer,
                    new_learner=functools.partial(build_learner, settings),
                    stop_service=stop_service,
                )
                worker.start()
                stack.callback(worker.stop)
            log.info("serving model %s (%s)", settings.model, learner.task)
            runtime = Runtime(
                settings, learner, metrics, consumer_state, consume, checkpointer, served
            )
            try:
                yield {"runtime": runtime}
            finally:
                app.state.refusal = consumer_state.refusal

    app = FastAPI(
        title="Driftline",
        version=service.__version__,
        summary="A River model that learns from Kafka while it serves.",
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.include_router(router)
    app.include_router(watermark_router)
    app.include_router(leaderboard_router)
    app.include_router(admin_router)

    @app.exception_handler(RequestValidationError)
    async def count_invalid_requests(
        request: Request, error: RequestValidationError
    ) -> JSONResponse:
        endpoint = _PREDICT_PATHS.get(request.url.path)
        if endpoint is not None and hasattr(request.state, "runtime"):
            request.state.runtime.metrics.predict_errors[endpoint].inc()
        # FastAPI's default handler echoes each bad input back, and an input such as NaN
        # cannot be written as JSON (a 500): say where and what, never echo the value.
        detail = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(ClientDisconnect)
    async def log_client_disconnect(request: Request, error: ClientDisconnect) -> Response:
        # A client that hangs up mid-body is routine, not a server error: no traceback.
        log.debug(
            "client disconnected before sending its body: %s %s", request.method, request.url.path
        )
        return Response(status_code=400)  # nobody reads it: uvicorn drops it

    return app


def open_checkpoints(settings: Settings) -> CheckpointStore | None:
    """The checkpoint folder of these settings, or ``None`` when checkpoints are off."""
    if settings.state_dir is None or settings.checkpoint_key is None:
        return None
    key = settings.checkpoint_key.get_secret_value().encode()
    return CheckpointStore(
        settings.state_dir,
        key=key,
        keep=settings.checkpoints_kept,
        allowed=[_importable(name) for name in settings.checkpoint_classes],
    )


def _importable(name: str) -> tuple[str, str]:
    """``module:qualname`` as the pair pickle names it; refused at start if nothing is there."""
    module, _, qualname = name.partition(":")
    try:
        found: object = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as error:
        raise CheckpointError(
            f"DRIFTLINE_CHECKPOINT_CLASSES: cannot find {name}: {error}"
        ) from error
    return module, qualname


def restore_or_build_learner(settings: Settings, checkpoints: CheckpointStore | None) -> Learner:
    """The newest valid checkpoint's learner, or a fresh one when there is no checkpoint.

    A folder holding another topic's, model's or task's state is refused, naming both sides,
    unless ``DRIFTLINE_STATE_MISMATCH=start_fresh`` (its checkpoints are then moved aside); the
    ingest worker checks the cluster and the partition count once Kafka answers.
    """
    if checkpoints is None:
        return build_learner(settings)
    checkpoint = checkpoints.load_latest(accept=_holds_a_learner)
    if checkpoint is not None and checkpoint.owner is None:  # format 1 names no owner
        checkpoints.owner = Owner(model=checkpoint.state.spec.name, task=checkpoint.state.task)
    current = Owner(
        topic=settings.topic,
        feedback_topic=settings.feedback_topic,
        model=settings.model,
        task=build_model(settings.model, settings.seed).task,
    )
    aside = checkpoints.claim(current, settings.state_mismatch)
    if checkpoint is None or aside is not None:
        return build_learner(settings)
    learner: Learner = checkpoint.state
    learner.max_magnitude = settings.max_magnitude  # settings, not learned state
    pending = learner.feedback.pending
    pending.max_size = settings.pending_max  # a smaller one applies at the next question
    pending.ttl_seconds = settings.pending_ttl_s
    if learner.candidates is None or not settings.candidates:  # the list is a setting
        learner.candidates = candidates_of(settings, learner.task)
    else:  # the candidates still listed keep what they learned
        learner.candidates = learner.candidates.matching(list(settings.candidates))
        learner.candidates.budget_us = settings.candidates_budget_us
        learner.candidates.follow = settings.follow_leader
        learner.candidates.margin = settings.promotion_margin
    log.info(
        "restored %s: %d events learned, offsets %s",
        checkpoint.path.name,
        learner.events_learned,
        dict(sorted(checkpoint.positions.items())),
    )
    return learner


def _holds_a_learner(checkpoint: Checkpoint) -> None:
    """Refuse a checkpoint that is not a learner, or whose header and state disagree on offsets."""
    learner = checkpoint.state
    if not isinstance(learner, Learner):
        raise CheckpointError(f"{checkpoint.path}: does not hold a Driftline learner")
    for topic, in_header, in_state in (
        ("", checkpoint.positions, learner.positions),
        ("feedback topic ", checkpoint.feedback_positions, learner.feedback_positions),
    ):
        if in_state != in_header:
            raise CheckpointError(
                f"{checkpoint.path}: the header's {topic}offsets {dict(sorted(in_header.items()))} "
                f"are not the state's {dict(sorted(in_state.items()))}"
            )
