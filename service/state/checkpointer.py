"""When the learner's state is written: every N events, every T seconds, on request, at the end.

The :class:`CheckpointCadence` is the rule alone (no clock of its own, no I/O), so it is tested
without a broker: something is unsaved, and either N events or T seconds have passed since the
last checkpoint, and no failed write is being waited out (a failed write is tried again after T
seconds, not on every event). The :class:`Checkpointer` applies it for the ingest worker, the
model's only writer: it pickles the learner under its lock (the only pause), writes the file
unlocked, and counts what happened. Another thread (the admin API) asks for a checkpoint with
:meth:`Checkpointer.request`; the worker serves it between two batches.

Examples
--------
>>> cadence = CheckpointCadence(every_events=100, every_s=60.0, now=0.0)
>>> cadence.note(99); cadence.due(now=1.0)
False
>>> cadence.note(1); cadence.due(now=1.0)
True
>>> cadence.failed(now=1.0); cadence.due(now=30.0), cadence.due(now=61.0)
(False, True)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from service.errors import DriftlineError
from service.state.checkpoint import CheckpointError, CheckpointStore, pickle_state

if TYPE_CHECKING:
    from service.ingest.status import ConsumerState
    from service.learner import Learner
    from service.metrics import ServiceMetrics

__all__ = ["CheckpointCadence", "CheckpointRequest", "Checkpointer"]

log = logging.getLogger(__name__)


class CheckpointCadence:
    """Whether a checkpoint is due; times are monotonic seconds given by the caller."""

    def __init__(self, every_events: int, every_s: float, now: float) -> None:
        self.every_events = every_events
        self.every_s = every_s
        self.unsaved = 0
        self._next_at = now + every_s
        self._retry_at = 0.0

    def note(self, events: int) -> None:
        """``events`` more changes to the learner (learned, skipped or dead-lettered)."""
        self.unsaved += events

    def due(self, now: float) -> bool:
        return bool(self.unsaved) and (
            now >= self._retry_at and (self.unsaved >= self.every_events or now >= self._next_at)
        )

    def written(self, now: float) -> None:
        self.unsaved = 0
        self._next_at = now + self.every_s

    def failed(self, now: float) -> None:
        """A write failed: the next try waits ``every_s``, whatever comes meanwhile."""
        self._retry_at = now + self.every_s


@dataclass
class CheckpointRequest:
    """A checkpoint asked for by another thread; the owner fills ``path`` and sets ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    path: Path | None = None


class Checkpointer:
    """Writes the learner's checkpoints for its one writer thread, on the cadence or on request."""

    def __init__(
        self,
        store: CheckpointStore,
        learner: Learner,
        metrics: ServiceMetrics,
        status: ConsumerState,
        *,
        every_events: int,
        every_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.learner = learner
        self.cadence = CheckpointCadence(every_events, every_s, time.monotonic())
        self._metrics = metrics
        self._status = status
        self._clock = clock
        self._requests: queue.SimpleQueue[CheckpointRequest] = queue.SimpleQueue()
        self.accepting = False
        """Set by the owner while it serves requests (its loop runs)."""

    # --- any thread -----------------------------------------------------------------------------

    def request(self, timeout: float = 30.0) -> Path:
        """Have the owner write a checkpoint now; wait for its path."""
        if not self.accepting:
            raise DriftlineError("the ingest worker is not running")
        request = CheckpointRequest()
        self._requests.put(request)
        if not request.done.wait(timeout):
            raise DriftlineError(f"no checkpoint within {timeout:.0f} s")
        if request.path is None:
            raise DriftlineError("the checkpoint could not be written; see the service log")
        return request.path

    # --- the owner's thread ---------------------------------------------------------------------

    def serve_requests(self) -> bool:
        """Write one checkpoint for every request waiting; whether any was written."""
        written = False
        while not self._requests.empty():
            request = self._requests.get()
            try:
                request.path = self.write()
                written = written or request.path is not None
            finally:
                request.done.set()
        return written

    def refuse_requests(self) -> None:
        """The owner stops: nothing more is served, and whoever waits hears it now."""
        self.accepting = False
        while not self._requests.empty():
            self._requests.get().done.set()

    def maybe_write(self, now: float) -> bool:
        """Write if the cadence says so; whether a checkpoint was written."""
        return self.cadence.due(now) and self.write() is not None

    def write(self) -> Path | None:
        """Pickle the learner under its lock, then write the file unlocked.

        A checkpoint that cannot be written (a full disk, a folder by the file's name) is
        logged and counted, and learning goes on: the older checkpoints still stand, and the
        next one is tried after ``every_s``. ``None`` when none was written.
        """
        learner, metrics = self.learner, self._metrics
        started = time.perf_counter()
        with learner.lock:
            payload = pickle_state(learner)
            positions = dict(learner.positions)
            feedback_positions = dict(learner.feedback_positions)
            learned = learner.events_learned
        paused = time.perf_counter() - started
        try:
            path = self.store.save(payload, positions, learned, feedback_positions)
        except CheckpointError as error:
            log.error("checkpoint failed, learning goes on: %s", error)
            metrics.checkpoint_failures.inc()
            self.cadence.failed(time.monotonic())
            return None
        metrics.checkpoint_pause.observe(paused)
        metrics.checkpoint_duration.observe(time.perf_counter() - started)
        metrics.checkpoints.inc()
        self._status.last_checkpoint_wall_time = self._clock()
        self._status.last_checkpoint_bytes = len(payload)
        self.cadence.written(time.monotonic())
        log.debug("checkpoint %s: %d bytes, paused %.1f ms", path.name, len(payload), paused * 1e3)
        return path
