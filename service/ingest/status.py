"""What the ingest worker knows about Kafka, published for the API and the metrics to read."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ConsumerState"]


@dataclass
class ConsumerState:
    """The ingest worker's view of the topic; written by its thread only, read by any."""

    assigned: bool = False
    connected: bool = False
    lag: dict[tuple[str, int], int] = field(default_factory=dict)
    """Messages not yet handled, per ``(topic, partition)``."""
    last_learned_wall_time: float | None = None
    last_poll_wall_time: float | None = None
    last_checkpoint_wall_time: float | None = None
    last_checkpoint_bytes: int | None = None
    fetch_failures: int = 0
    """Fetch processes that died in a row, none of them delivering a batch."""
    fetch_problem: str | None = None
    """Why the last one died, while ``fetch_failures`` is above 0."""
    refusal: str | None = None
    """Why the worker refused to learn at all (a state folder of another stream), if it did."""
