"""Reading a learner pickled by an earlier release, whose parts were still fields of its own.

Each release that moved learner state into a part of its own (the feature kinds, the
prequential metrics, the label gate) or added one (the pending store of questions) upgrades
an older state here, in place, so an earlier checkpoint restores and learns on to the same
numbers (``tests/state/test_earlier_checkpoints.py``).
"""

from __future__ import annotations

from typing import Any

from service.events import DEFAULT_MAX_MAGNITUDE
from service.feature_kinds import FeatureKinds
from service.feedback.defaults import DEFAULT_PENDING_MAX, DEFAULT_PENDING_TTL_SECONDS
from service.feedback.loop import FeedbackLoop
from service.feedback.pending import PendingStore
from service.labels import LabelGate
from service.prequential import Prequential

__all__ = ["upgrade_learner_state"]


def upgrade_learner_state(state: dict[str, Any]) -> None:
    """Give a learner's pickled state every part today's learner has, in place."""
    state.setdefault("max_magnitude", DEFAULT_MAX_MAGNITUDE)
    if "_kinds" not in state:
        kinds = FeatureKinds()
        kinds.numeric = state.pop("_numeric_features", set())
        kinds.nominal = state.pop("_nominal_features", set())
        state.pop("_numeric_only", None)
        state["_kinds"] = kinds
    if "feedback" not in state:  # from before questions and answers
        pending = PendingStore(DEFAULT_PENDING_MAX, DEFAULT_PENDING_TTL_SECONDS)
        state["feedback"] = FeedbackLoop(state["task"], pending)
    if "evaluation" not in state:
        state["evaluation"] = Prequential.restored(state)
        state.pop("rolling_window")
    if "labels" not in state:
        state["labels"] = LabelGate(state["task"], state.pop("classes"))
        state.pop("_class_keys", None)
