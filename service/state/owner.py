"""Who a state folder belongs to: the topics, model, task, partitions and cluster it learned from.

Offsets of another topic would skip or repeat its events silently, so a state folder is
claimed by its :class:`Owner`, kept in each checkpoint's signed header, and a process whose
settings or Kafka cluster name another owner is refused at start.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

__all__ = ["Owner", "OwnerFields"]


@dataclass(frozen=True)
class Owner:
    """What a state folder's checkpoints learned from; ``None`` is a field not known (yet).

    The topics, model and task are known from the settings at start; the partition counts and
    the cluster id once Kafka answers. A state folder that learned without a feedback topic may
    take one on (it starts where ``DRIFTLINE_START_FROM`` says); one that read a feedback topic
    may not switch to another, whose offsets would skip or repeat its answers.
    """

    topic: str | None = None
    model: str | None = None
    task: str | None = None
    partitions: int | None = None
    cluster_id: str | None = None
    feedback_topic: str | None = None
    feedback_partitions: int | None = None

    def conflicts(self, current: Owner) -> list[str]:
        """Each way ``current`` cannot continue this owner's state, naming both sides.

        A field unknown on either side never conflicts. A topic with more partitions than it had
        is the same topic (Kafka only ever adds partitions); one with fewer is another topic.
        """
        found = []
        for name in ("cluster_id", "topic", "model", "task", "feedback_topic"):
            stored, now = getattr(self, name), getattr(current, name)
            if stored is not None and now is not None and stored != now:
                found.append(f"{name} {stored!r} in the state folder, {now!r} now")
        for name, what in (
            ("partitions", "partitions"),
            ("feedback_partitions", "feedback topic partitions"),
        ):
            stored, now = getattr(self, name), getattr(current, name)
            if stored is not None and now is not None and now < stored:
                found.append(f"{stored} {what} in the state folder, {now} now")
        return found

    def updated(self, current: Owner) -> Owner:
        """This owner with every field ``current`` knows taken from it."""
        known = {f.name: getattr(current, f.name) for f in fields(current)}
        return replace(self, **{name: value for name, value in known.items() if value is not None})


class OwnerFields(BaseModel):
    """An owner as a checkpoint's signed header holds it, checked field by field."""

    model_config = ConfigDict(extra="forbid")

    topic: Annotated[str, Strict()] | None = None
    model: Annotated[str, Strict()] | None = None
    task: Annotated[str, Strict()] | None = None
    partitions: Annotated[int, Strict(), Field(ge=1)] | None = None
    cluster_id: Annotated[str, Strict()] | None = None
    feedback_topic: Annotated[str, Strict()] | None = None
    feedback_partitions: Annotated[int, Strict(), Field(ge=1)] | None = None
