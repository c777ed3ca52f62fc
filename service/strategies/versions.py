"""Model versions: every model that ever served, with its lineage, and the last few kept.

Every promoted model becomes a :class:`ModelVersion`: an increasing id, the id it replaced
(``parent_id``), when, under which strategy and trigger, and which data built it (the first and
last offsets of the history its rebuild learned from). Ids come from one counter that
challengers draw from too, so a rejected challenger leaves a gap and the id of a decision in
``decisions()`` is the id of the version it became.

A rollback does not resurrect an old id: it makes a *new* version whose ``trigger`` is
``"rollback"`` and whose ``parent_id`` is the version restored, from a copy of that version's
model. So the version number only ever grows, a dashboard sees the change, and the rolled-back
version can be restored again.

:class:`VersionStore` keeps the records and models of the last ``keep`` versions, the serving
one included; older ones are dropped and can no longer be restored.

Examples
--------
>>> store = VersionStore(keep=2)
>>> for version_id in (1, 2, 3):
...     store.add(ModelVersion(version_id, version_id - 1 or None, 0.0, "online", "manual"), {})
>>> [version.id for version in store.records()], store.current.id
([2, 3], 3)
>>> store.restore(1)
Traceback (most recent call last):
...
service.strategies.errors.UnknownVersionError: version 1 is not kept (kept: 2, 3)
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from service.strategies.base import StrategyName, Trigger
from service.strategies.errors import StrategyConfigurationError, UnknownVersionError

__all__ = ["ModelVersion", "VersionStore"]


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One model that served, and where it came from."""

    id: int
    parent_id: int | None
    """The version it replaced (for a rollback: the version it restores)."""
    created_at: float
    """Wall-clock time (the manager's clock) it started serving."""
    strategy: StrategyName
    trigger: Trigger
    first_offset: int | None = None
    """Offset of the first event of the history its rebuild learned (``None``: no rebuild)."""
    last_offset: int | None = None
    """Offset of the last event of that history."""
    validation_score: float | None = None
    """Its score in the shadow run that promoted it (accuracy, or MAE for a regressor)."""
    champion_score: float | None = None
    """The replaced champion's score on the same events."""
    events_learned: int = 0
    """Events it had learned when it started serving: history, replayed and shadow events."""
    learned_to_offset: int | None = None
    """Offset of the last event it had learned when it started serving."""


class VersionStore:
    """The last ``keep`` versions: records, and the models they can be restored from."""

    def __init__(self, keep: int) -> None:
        if keep < 1:
            raise StrategyConfigurationError(f"keep_versions must be at least 1, not {keep}")
        self.keep = keep
        self._kept: OrderedDict[int, tuple[ModelVersion, Any]] = OrderedDict()
        self.current: ModelVersion | None = None
        """The serving version (the last added); read on every event, so kept at hand."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Checkpoints written before ``current`` was kept at hand lack it: derive it."""
        self.__dict__.update(state)
        if "current" not in state:
            self.current = next(reversed(self._kept.values()))[0] if self._kept else None

    def add(self, version: ModelVersion, model: Any) -> None:
        """Record a version that starts serving ``model``; forget the oldest past ``keep``."""
        self._kept[version.id] = (version, model)
        self.current = version
        while len(self._kept) > self.keep:
            self._kept.popitem(last=False)

    def records(self) -> list[ModelVersion]:
        """The kept versions, oldest first; the last one is serving."""
        return [version for version, _ in self._kept.values()]

    def get(self, version_id: int) -> tuple[ModelVersion, Any]:
        """A kept version and its model (not a copy).

        Raises
        ------
        UnknownVersionError
            If no kept version has this id.
        """
        try:
            return self._kept[version_id]
        except KeyError:
            kept = ", ".join(str(version_id) for version_id in self._kept)
            raise UnknownVersionError(f"version {version_id} is not kept (kept: {kept})") from None

    def restore(self, version_id: int) -> Any:
        """A deep copy of a kept version's model, so the kept one stays as it was."""
        return copy.deepcopy(self.get(version_id)[1])
