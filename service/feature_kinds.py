"""Which features a model learned as numbers and which as strings, and refusing a mix.

River's trees keep a number and a string of the same feature in one splitter and raise half-way
through ``learn_one`` when they meet both. So the learner refuses, before anything learns, a
feature whose kind differs from the one the model learned.

Examples
--------
>>> kinds = FeatureKinds()
>>> kinds.remember({"colour": "red", "size": 1.0})
>>> kinds.check({"colour": 3.0})
Traceback (most recent call last):
...
service.feature_kinds.FeatureKindError: feature 'colour' is a number; the model learned strings
"""

from __future__ import annotations

from service.errors import DriftlineError
from service.events import FeatureValue

__all__ = ["FeatureKindError", "FeatureKinds"]


class FeatureKindError(DriftlineError):
    """A feature's kind (number or string) is one this model cannot take."""


class FeatureKinds:
    """The kind each feature was learned as, once any string has been; plain, picklable."""

    def __init__(self) -> None:
        self.numeric: set[str] = set()
        self.nominal: set[str] = set()

    def needs_check(self, x: dict[str, FeatureValue]) -> bool:
        """Whether :meth:`check` can refuse ``x``: only once strings are about."""
        return bool(self.nominal) or str in map(type, x.values())

    def check(self, x: dict[str, FeatureValue]) -> None:
        """Raise :class:`FeatureKindError` for a string where the model learned a number, and
        for a number where it learned a string."""
        numeric, nominal = self.numeric, self.nominal
        for name, value in x.items():
            if isinstance(value, str):
                if name in numeric:
                    raise FeatureKindError(
                        f"feature {name!r} is a string; the model learned numbers"
                    )
            elif name in nominal:
                raise FeatureKindError(f"feature {name!r} is a number; the model learned strings")

    def remember(self, x: dict[str, FeatureValue]) -> None:
        """Note the kinds of a learned event's features."""
        if str not in map(type, x.values()):
            self.numeric.update(x)
            return
        for name, value in x.items():
            (self.nominal if isinstance(value, str) else self.numeric).add(name)
