"""The endpoints: predict from the live model, describe it, report health and metrics."""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import LearnerDep, MetricsDep, RuntimeDep, SettingsDep
from service.api.schemas import (
    AlarmCountPublic,
    BatchPredictionPublic,
    BatchPredictRequest,
    DriftEventPublic,
    DriftPublic,
    FeatureDriftPublic,
    InstancePrediction,
    ModelPublic,
    ModelVersionPublic,
    ModelVersionsPublic,
    PredictionPublic,
    PredictRequest,
    PrequentialMetrics,
    PromotionDecisionPublic,
    ReadinessPublic,
)
from service.learner import Learner, Prediction

__all__ = ["label_key", "router"]

router = APIRouter()


def label_key(label: object) -> str:
    """A class label as a JSON object key: ``true``/``false`` for bools, else ``str``."""
    if isinstance(label, bool):
        return "true" if label else "false"
    return str(label)


def _public(prediction: Prediction) -> InstancePrediction:
    probabilities = prediction.probabilities
    return InstancePrediction(
        prediction=prediction.prediction,
        probabilities=(
            None
            if probabilities is None
            else {label_key(label): p for label, p in probabilities.items()}
        ),
    )


def _score(
    learner: Learner, instances: list[PredictRequest], max_features: int
) -> list[Prediction]:
    # Types and finiteness are the request schema's; only the size limit is a setting.
    for index, instance in enumerate(instances):
        if len(instance.features) > max_features:
            where = f"instance {index}: " if len(instances) > 1 else ""
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{where}{len(instance.features)} features, more than the limit of {max_features}",
            )
    try:
        return learner.predict_many([instance.features for instance in instances])
    except Exception as error:  # the model cannot take these features (e.g. text into a scaler)
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"the model cannot score these features: {error.__class__.__name__}",
        ) from error


@router.post("/predict", response_model=PredictionPublic)
def predict(
    body: PredictRequest, learner: LearnerDep, metrics: MetricsDep, settings: SettingsDep
) -> PredictionPublic:
    """Predict one instance with the live model; probabilities for classifiers."""
    started = time.perf_counter()
    try:
        [prediction] = _score(learner, [body], settings.max_features)
    except HTTPException:
        metrics.predict_errors["predict"].inc()
        raise
    answer = PredictionPublic(
        **_public(prediction).model_dump(),
        model_version=learner.model_version,
        events_learned=learner.events_learned,
    )
    metrics.predict_duration["predict"].observe(time.perf_counter() - started)
    return answer


@router.post("/predict/batch", response_model=BatchPredictionPublic)
def predict_batch(
    body: BatchPredictRequest, learner: LearnerDep, metrics: MetricsDep, settings: SettingsDep
) -> BatchPredictionPublic:
    """Predict many instances against one consistent state of the live model."""
    started = time.perf_counter()
    try:
        if len(body.instances) > settings.max_batch_instances:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"{len(body.instances)} instances, more than the limit of "
                f"{settings.max_batch_instances}",
            )
        predictions = _score(learner, body.instances, settings.max_features)
    except HTTPException:
        metrics.predict_errors["predict_batch"].inc()
        raise
    answer = BatchPredictionPublic(
        predictions=[_public(p) for p in predictions],
        model_version=learner.model_version,
        events_learned=learner.events_learned,
    )
    metrics.predict_duration["predict_batch"].observe(time.perf_counter() - started)
    return answer


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
        metrics=PrequentialMetrics(
            cumulative=values.cumulative,
            rolling=values.rolling,
            window=learner.rolling_window,
            window_filled=values.rolling_count,
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
    ready = state.assigned and state.connected
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    if ready:
        detail = f"learning from {runtime.settings.topic}"
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
