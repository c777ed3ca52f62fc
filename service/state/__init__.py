"""State that outlives a process: signed checkpoints coupled to the offsets they learned."""

from service.state.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    CheckpointError,
    CheckpointStore,
    StateMismatchError,
)
from service.state.owner import Owner
from service.state.unpickle import ALLOWED_NAMES, restricted_loads

__all__ = [
    "ALLOWED_NAMES",
    "CHECKPOINT_FORMAT",
    "Checkpoint",
    "CheckpointError",
    "CheckpointStore",
    "Owner",
    "StateMismatchError",
    "restricted_loads",
]
