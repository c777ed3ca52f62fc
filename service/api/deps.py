"""Typed dependencies: what a route needs from the running service, by role.

They are ``async``: FastAPI runs a plain ``def`` dependency in its thread pool, which would
cost every request a thread hand-off just to read an attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

from fastapi import Depends, Request

from service.config import Settings
from service.feedback.served import ServedQuestions
from service.ingest.status import ConsumerState
from service.learner import Learner
from service.metrics import ServiceMetrics

__all__ = [
    "CheckpointRequests",
    "LearnerDep",
    "MetricsDep",
    "Runtime",
    "RuntimeDep",
    "SettingsDep",
    "runtime_of",
]


class CheckpointRequests(Protocol):
    """Whoever writes the checkpoints, asked from a request's thread."""

    def request(self, timeout: float = 30.0) -> Path:
        """Write a checkpoint now and return its path; raises ``DriftlineError`` if it cannot."""
        ...


@dataclass(frozen=True)
class Runtime:
    """Every long-lived part of one service process, owned by the app's lifespan."""

    settings: Settings
    learner: Learner
    metrics: ServiceMetrics
    consumer_state: ConsumerState
    consuming: bool
    """Whether this process learns from Kafka (``False``: it only serves)."""
    checkpoints: CheckpointRequests | None
    """``None`` when checkpoints are off (no ``DRIFTLINE_STATE_DIR``) or nothing is consumed."""
    served: ServedQuestions | None = None
    """Writes predictions served with an id to the event topic (``None``: nothing consumed)."""


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
