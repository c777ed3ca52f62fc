"""Which labels a model may learn, and the errors for an event it cannot take.

A label outside the model's classes would silently teach it a class nobody asked for, and
River's binary models read any truthy label as the positive class; a regressor needs a number.
:class:`LabelGate` refuses such a label before anything learns.

Examples
--------
>>> gate = LabelGate("classification", classes=(True, False, 0, 1))
>>> gate.check(True), gate.check(1)
(None, None)
>>> gate.check("yes")
Traceback (most recent call last):
...
service.labels.LabelError: label 'yes' is not one of the model's classes
"""

from __future__ import annotations

from service.errors import DriftlineError
from service.events import Label, RejectReason
from service.models import Task

__all__ = ["BINARY_CLASSES", "EventError", "LabelError", "LabelGate"]

BINARY_CLASSES: tuple[Label, ...] = (True, False, 0, 1)
"""What a binary River model can learn faithfully."""


class EventError(DriftlineError):
    """This model cannot learn the event; refused before anything learned from it."""

    def __init__(self, message: str, reason: RejectReason = RejectReason.WRONG_TYPE) -> None:
        super().__init__(message)
        self.reason = reason


class LabelError(EventError):
    """An event's label cannot be learned by this model (e.g. a string for a regressor)."""


class LabelGate:
    """The labels one model may learn (``classes``: ``None`` for any); plain, picklable."""

    def __init__(self, task: Task, classes: tuple[Label, ...] | None) -> None:
        self.task: Task = task
        self.classes = classes
        # Labels as set keys where 1 is not true (JSON keeps them apart; hashing does not).
        self._keys = (
            None if classes is None else frozenset((c.__class__ is bool, c) for c in classes)
        )

    def check(self, label: Label) -> None:
        """Raise :class:`LabelError` for a label this model cannot learn."""
        if self.task == "regression" and isinstance(label, bool | str):
            raise LabelError(f"label {label!r} is not a number; a regression model needs one")
        keys = self._keys
        if keys is not None and (label.__class__ is bool, label) not in keys:
            raise LabelError(
                f"label {label!r} is not one of the model's classes", RejectReason.UNKNOWN_LABEL
            )
