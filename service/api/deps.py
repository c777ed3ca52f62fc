"""Typed dependencies: what a route needs from the running service, by role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.consumer import IngestWorker
from service.learner import Learner
from service.metrics import ConsumerState, ServiceMetrics

__all__ = ["LearnerDep", "MetricsDep", "Runtime", "RuntimeDep", "SettingsDep"]


@dataclass(frozen=True)
class Runtime:
    """Every long-lived part of one service process, owned by the app's lifespan."""

    settings: Settings
    learner: Learner
    metrics: ServiceMetrics
    consumer_state: ConsumerState
    worker: IngestWorker | None


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_learner(runtime: RuntimeDep) -> Learner:
    return runtime.learner


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_metrics(runtime: RuntimeDep) -> ServiceMetrics:
    return runtime.metrics


LearnerDep = Annotated[Learner, Depends(get_learner)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
