"""The learner the settings describe: model, strategy, drift watch, classes and bounds.

The service builds its learner here, and so does the strategy comparison (``python -m bench
compare``), so that with inline rebuilds the comparison is the service, event for event.
"""

from __future__ import annotations

from service.candidates import Candidates
from service.config import Settings
from service.drift.watch import DriftConfig, DriftWatch
from service.feedback.pending import PendingStore
from service.learner import Learner
from service.models import Task
from service.strategies.config import manager_from_config

__all__ = ["build_learner", "candidates_of", "drift_config"]


def drift_config(settings: Settings) -> DriftConfig:
    """The drift watch's configuration from the ``DRIFTLINE_*DRIFT*`` settings."""
    return DriftConfig(
        detector=settings.drift_detector,
        params=dict(settings.drift_detector_params),
        cooldown=settings.drift_cooldown,
        quiet_period=settings.drift_quiet_period,
        window=settings.data_drift_window,
        every=settings.data_drift_every,
        psi_threshold=settings.psi_threshold,
        ks_alpha=settings.ks_alpha,
        rule=settings.data_drift_rule,
        features=None if settings.drift_features is None else tuple(settings.drift_features),
        max_features=settings.drift_max_features,
    )


def build_learner(settings: Settings) -> Learner:
    """A fresh learner of these settings: model, strategy, drift watch, classes and bounds."""
    manager = manager_from_config(
        settings.strategy_config(), model=settings.model, seed=settings.seed
    )
    drift = DriftWatch(drift_config(settings), manager.task) if settings.drift_detection else None
    classes = None if settings.classes is None else tuple(settings.classes)
    pending = PendingStore(settings.pending_max, settings.pending_ttl_s)
    return Learner(
        manager,
        settings.rolling_window,
        drift,
        classes,
        settings.max_magnitude,
        pending,
        candidates_of(settings, manager.task),
    )


def candidates_of(settings: Settings, task: Task) -> Candidates | None:
    """The candidates the settings list (``None``: none); a model of another task refused."""
    if not settings.candidates:
        return None
    return Candidates(
        list(settings.candidates),
        task,
        settings.rolling_window,
        seed=settings.seed,
        budget_us=settings.candidates_budget_us,
        max_magnitude=settings.max_magnitude,
        follow=settings.follow_leader,
        margin=settings.promotion_margin,
    )
