"""Typed dependencies: what a route needs from the running service, by role.

They are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, which would
cost every request a thread hand-off just to read an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.consumer import IngestWorker
from service.learner import Learner
from service.metrics import ConsumerState, ServiceMetrics

__all__ = ["LearnerDep", "MetricsDep", "Runtime", "RuntimeDep", "SettingsDep", "runtime_of"]


@dataclass(frozen=True)
class Runtime:
    """Every long-lived part of one service process, owned by the app's lifespan."""

    settings: Settings
    learner: Learner
    metrics: ServiceMetrics
    consumer_state: ConsumerState
    worker: IngestWorker | None


def runtime_of(request: Request) -> Runtime:
    """The running service's parts, for a route that reads its request itself."""
    runtime: Runtime = request.state.runtime
    return runtime


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_learner(runtime: RuntimeDep) -> Learner:
    return runtime.learner


async def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


async def get_metrics(runtime: RuntimeDep) -> ServiceMetrics:
    return runtime.metrics


LearnerDep = Annotated[Learner, Depends(get_learner)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
