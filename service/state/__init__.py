"""State that outlives a process: signed checkpoints coupled to the offsets they learned."""

from service.state.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    restricted_loads,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "restricted_loads",
]
