"""``GET /model/offsets``: how far the live model has learned, and read-your-writes.

A producer that has just written an event knows its partition and offset. Asking for
``?partition=P&offset=O&wait_ms=T`` answers as soon as the model ``/predict`` serves has
learned (or dead-lettered) every message of that partition up to and including ``O``, or after
``T`` milliseconds with ``reached: false``; ``&topic=`` names the feedback topic for an answer
written there (the event topic is the default). Without a target it answers at once. The same
positions are exported as ``driftline_learned_offset``; this is the low-latency way to read them.
"""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from service.api.deps import LearnerDep, SettingsDep

__all__ = ["OffsetsPublic", "router"]

router = APIRouter()

# How often a waiting request looks at the learner's positions: finer than the freshness
# anyone can measure over HTTP, coarse enough to cost nothing.
_CHECK_EVERY_S = 0.001
# The longest a request may wait for a target.
MAX_WAIT_MS = 10_000


class OffsetsPublic(BaseModel):
    """Per partition, the next offset to learn: every earlier message has been handled."""

    offsets: dict[str, int]
    feedback_offsets: dict[str, int] = Field(
        default_factory=dict, description="The same for DRIFTLINE_FEEDBACK_TOPIC (if set)."
    )
    events_learned: int
    reached: bool = Field(
        description="Whether the target offset has been learned (true when none was asked for)."
    )


@router.get("/model/offsets", response_model=OffsetsPublic)
async def learned_offsets(
    learner: LearnerDep,
    settings: SettingsDep,
    partition: int | None = Query(None, ge=0, description="The target's partition."),
    offset: int | None = Query(None, ge=0, description="Wait until this offset is learned."),
    wait_ms: int = Query(0, ge=0, le=MAX_WAIT_MS, description="The longest wait, in ms."),
    topic: str | None = Query(
        None, description="The target's topic: the event topic (default) or the feedback topic."
    ),
) -> OffsetsPublic:
    """The learned-through offsets, once ``offset`` of ``partition`` is learned or time is up."""
    if topic is None or topic == settings.topic:
        positions = learner.positions
    elif topic == settings.feedback_topic:
        positions = learner.feedback_positions
    else:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"this service does not read topic {topic!r}"
        )
    reached = True
    if partition is not None and offset is not None:
        deadline = time.monotonic() + wait_ms / 1000
        while not (reached := positions.get(partition, 0) > offset):
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(_CHECK_EVERY_S)
    return OffsetsPublic(
        offsets={str(p): o for p, o in sorted(dict(learner.positions).items())},
        feedback_offsets={str(p): o for p, o in sorted(dict(learner.feedback_positions).items())},
        events_learned=learner.events_learned,
        reached=reached,
    )
