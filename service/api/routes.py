"""The endpoints: predict from the live model, describe it, report health and metrics."""

from __future__ import annotations

import email.message
import inspect
import json
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict
from typing import Any, TypeVar, cast

import orjson
from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_PREFIX
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError

from service.api.deps import LearnerDep, MetricsDep, Runtime, RuntimeDep, SettingsDep, runtime_of
from service.api.schemas import (
    AlarmCountPublic,
    BatchPredictionPublic,
    BatchPredictRequest,
    DriftEventPublic,
    DriftPublic,
    FeatureDriftPublic,
    ModelPublic,
    ModelVersionPublic,
    ModelVersionsPublic,
    PredictionPublic,
    PredictRequest,
    PrequentialMetrics,
    PromotionDecisionPublic,
    ReadinessPublic,
)
from service.config import Settings
from service.events import check_features
from service.feedback.served import ServedWriteError
from service.learner import EventError, Learner
from service.readings import Answers, Prediction

__all__ = ["label_key", "router"]

router = APIRouter()

# One fetch process that dies is replaced quietly (the restart is counted); two in a row with
# no batch between them is a fetch that keeps failing, and the service is not ready.
FETCH_FAILING_AFTER = 2

_Body = TypeVar("_Body", bound=BaseModel)


class _RequestRoute(APIRoute):
    """A route whose endpoint takes the bare :class:`Request` and returns the :class:`Response`.

    FastAPI documents it like any route (``response_model``, ``openapi_extra``), but a request
    skips dependency solving and response validation: for ``/predict`` these cost more than
    the model (~50 µs of one core per request, where a linear model answers in ~10 µs). Errors
    the endpoint raises still reach the app's exception handlers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        dependant = self.dependant
        if (
            not inspect.iscoroutinefunction(self.endpoint)
            or dependant.request_param_name is None
            or len(inspect.signature(self.endpoint).parameters) != 1
        ):
            raise TypeError(f"{self.path}: the endpoint must be `async def f(request: Request)`")
        return cast(Callable[[Request], Coroutine[Any, Any, Response]], self.endpoint)


def label_key(label: object) -> str:
    """A class label as a JSON object key: ``true``/``false`` for bools, else ``str``."""
    if isinstance(label, bool):
        return "true" if label else "false"
    return str(label)


def _instance(prediction: Prediction) -> dict[str, Any]:
    """One instance's answer, shaped as :class:`InstancePrediction`."""
    probabilities = prediction.probabilities
    return {
        "prediction": prediction.prediction,
        "probabilities": (
            None
            if probabilities is None
            else {label_key(label): p for label, p in probabilities.items()}
        ),
    }


def _json_response(content: dict[str, Any]) -> Response:
    """``content`` as JSON, serialized once by orjson (NaN becomes null, as pydantic writes it)."""
    return Response(
        orjson.dumps(content, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY),
        media_type="application/json",
    )


def _plain(value: object) -> object:
    """The few values orjson refuses but pydantic writes: subclasses of float."""
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"{value.__class__.__name__} is not JSON serializable")


async def _validated_body(request: Request, model: type[_Body]) -> _Body:
    """The request's JSON body validated as ``model``, exactly as a declared body parameter.

    A JSON content type and a body orjson reads and ``model`` accepts take the fast path: a few
    microseconds. Anything else gets FastAPI's own steps, so it gets the same answer: the
    standard ``json`` parser (which reads NaN, for the schema to refuse it), then a
    :class:`RequestValidationError` with every problem located under ``body``, which the app's
    handler turns into a 422 and counts.
    """
    body = await request.body()  # the app's size limit answers 413 from here
    content_type = request.headers.get("content-type")
    if content_type == "application/json":
        try:
            return model.model_validate(orjson.loads(body), from_attributes=True)
        except (orjson.JSONDecodeError, ValidationError):
            pass  # say why exactly as FastAPI does, below
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    document: Any = body  # not JSON: validated as bytes, which a model refuses
    if _is_json(content_type):
        try:
            document = json.loads(body)
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": error.msg},
                    }
                ]
            ) from error
        except Exception as error:  # not UTF-8 (or -16/-32), too deep, an int too long
            # FastAPI's answer to a body its parser cannot read, as /predict/batch gets it.
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, "There was an error parsing the body"
            ) from error
    try:
        return model.model_validate(document, from_attributes=True)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule: ``application/json`` or ``application/*+json``, any parameters."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _score(learner: Learner, instances: list[PredictRequest], settings: Settings) -> Answers:
    # Types and finiteness are the request schema's; the size and magnitude limits, settings.
    for index, instance in enumerate(instances):
        problem = check_features(instance.features, settings.max_features, settings.max_magnitude)
        if problem is not None:
            where = f"instance {index}: " if len(instances) > 1 else ""
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, where + problem.detail)
    try:
        return learner.predict_many([instance.features for instance in instances])
    except EventError as error:  # e.g. text for a feature the model learned as a number
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    except Exception as error:  # the model cannot take these features (e.g. text into a scaler)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the model cannot score these features: {error.__class__.__name__}",
        ) from error


_SERVED_NOT_RECORDED: dict[str, Any] = {
    "description": (
        "An instance has an id and its prediction could not be written to the event topic "
        "(the broker unreachable, or this process does not consume): nothing was served."
    )
}


async def _record_served(
    runtime: Runtime, instances: list[PredictRequest], answers: Answers
) -> None:
    """Write the instances with an id to the event topic as questions; a 503 when it cannot."""
    served = runtime.served
    if served is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "this process does not consume the event topic: it cannot record a prediction "
            "served with an id",
        )
    try:
        await served.record(
            [instance.id for instance in instances],
            [instance.features for instance in instances],
            answers,
        )
    except ServedWriteError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error


async def predict(request: Request) -> Response:
    """Predict one instance with the live model; probabilities for classifiers."""
    runtime = runtime_of(request)
    metrics = runtime.metrics
    body = await _validated_body(request, PredictRequest)
    started = time.perf_counter()
    try:
        answers = _score(runtime.learner, [body], runtime.settings)
        if body.id is not None:
            await _record_served(runtime, [body], answers)
    except HTTPException:
        metrics.predict_errors["predict"].inc()
        raise
    answer = _instance(answers.predictions[0])
    if body.id is not None:
        answer["id"] = body.id
    answer["model_version"] = answers.model_version
    answer["events_learned"] = answers.events_learned
    response = _json_response(answer)
    metrics.predict_duration["predict"].observe(time.perf_counter() - started)
    return response


router.add_api_route(
    "/predict",
    predict,
    methods=["POST"],
    route_class_override=_RequestRoute,
    response_model=PredictionPublic,
    # The body is read by the endpoint; document it as FastAPI documents a declared one. The
    # PredictRequest component exists because /predict/batch's declared body holds it.
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "PredictRequest"}}},
            "required": True,
        },
        "responses": {
            "422": {
                "description": "Validation Error",
                "content": {
                    "application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}
                },
            },
            "503": _SERVED_NOT_RECORDED,
        },
    },
)


@router.post(
    "/predict/batch",
    response_model=BatchPredictionPublic,
    responses={503: _SERVED_NOT_RECORDED},
)
async def predict_batch(request: Request, body: BatchPredictRequest) -> Response:
    """Predict many instances against one consistent state of the live model."""
    runtime = runtime_of(request)
    metrics = runtime.metrics
    started = time.perf_counter()
    try:
        limit = runtime.settings.max_batch_instances
        if len(body.instances) > limit:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{len(body.instances)} instances, more than the limit of {limit}",
            )
        ids = [instance.id for instance in body.instances if instance.id is not None]
        if len(set(ids)) < len(ids):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "two instances have the same id"
            )
        answers = _score(runtime.learner, body.instances, runtime.settings)
        if ids:
            await _record_served(runtime, body.instances, answers)
    except HTTPException:
        metrics.predict_errors["predict_batch"].inc()
        raise
    predictions = [_instance(p) for p in answers.predictions]
    for instance, prediction in zip(body.instances, predictions, strict=True):
        if instance.id is not None:
            prediction["id"] = instance.id
    response = _json_response(
        {
            "predictions": predictions,
            "model_version": answers.model_version,
            "events_learned": answers.events_learned,
        }
    )
    metrics.predict_duration["predict_batch"].observe(time.perf_counter() - started)
    return response


@router.get("/model", response_model=ModelPublic)
def describe_model(learner: LearnerDep) -> ModelPublic:
    """The live model: name, task, events learned, offsets and prequential metrics."""
    values = learner.values()
    return ModelPublic(
        **learner.describe(),
        model_version=values.model_version,
        events_learned=values.events_learned,
        events_unlabelled=values.events_unlabelled,
        offsets={str(p): offset for p, offset in sorted(values.positions.items())},
        feedback_offsets={
            str(p): offset for p, offset in sorted(values.feedback_positions.items())
        },
        metrics=PrequentialMetrics(
            cumulative=values.cumulative,
            rolling=values.rolling,
            window=learner.rolling_window,
            window_filled=values.rolling_count,
            agreement=values.agreement,
        ),
    )


@router.get("/model/versions", response_model=ModelVersionsPublic)
def model_versions(learner: LearnerDep) -> ModelVersionsPublic:
    """Model versions with their lineage, and the champion/challenger decisions."""
    versions, decisions = learner.versions()
    current = versions[-1].id
    return ModelVersionsPublic(
        strategy=learner.manager.strategy.name,
        current_version=current,
        versions=[
            ModelVersionPublic(**_finite(asdict(v)), serving=v.id == current) for v in versions
        ],
        decisions=[PromotionDecisionPublic(**_finite(asdict(d))) for d in decisions],
    )


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    """NaN and infinities are not JSON: report them as null."""
    return {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()
    }


@router.get("/drift", response_model=DriftPublic)
def describe_drift(learner: LearnerDep, settings: SettingsDep) -> DriftPublic:
    """Drift now: active kinds, alarm counts, per-feature PSI/K-S, and recent drift events."""
    drift = learner.drift_values(settings.drift_max_features)
    if drift is None:
        return DriftPublic(
            enabled=False, active={}, alarms=[], concept_detector={}, features=[], events=[]
        )
    return DriftPublic(
        enabled=True,
        active=drift.active,
        alarms=[
            AlarmCountPublic(detector=detector, kind=kind, alarms=count)
            for (detector, kind), count in sorted(drift.alarms.items())
        ],
        concept_detector=drift.concept_state,
        features=[FeatureDriftPublic(**f.to_dict()) for f in drift.features],
        events=[DriftEventPublic(**event) for event in drift.events],
    )


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers HTTP."""
    return {"status": "ok"}


@router.get(
    "/ready",
    response_model=ReadinessPublic,
    responses={503: {"model": ReadinessPublic, "description": "Not reading its partitions"}},
)
def ready(runtime: RuntimeDep, response: Response) -> ReadinessPublic:
    """Readiness: the consumer holds its partitions and reaches Kafka (serving never stops)."""
    state = runtime.consumer_state
    fetch_failing = state.fetch_failures >= FETCH_FAILING_AFTER
    ready = state.assigned and state.connected and not fetch_failing
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if ready:
        detail = f"learning from {runtime.settings.topic}"
    elif state.refusal is not None:
        detail = f"not learning: {state.refusal}"
    elif fetch_failing:
        detail = (
            f"the fetch process keeps failing ({state.fetch_failures} in a row): serving the "
            f"current model, learning stalled; last: {state.fetch_problem}"
        )
    elif state.assigned:
        detail = "Kafka unreachable: serving the current model, learning paused"
    else:
        detail = "consumer not assigned yet"
    return ReadinessPublic(
        ready=ready,
        consumer_assigned=state.assigned,
        consumer_connected=state.connected,
        detail=detail,
    )


@router.get("/metrics", response_class=Response)
def prometheus_metrics(metrics: MetricsDep) -> Response:
    """Prometheus exposition of every Driftline series."""
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
