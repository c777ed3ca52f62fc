"""The errors the strategies package raises on purpose."""

from __future__ import annotations

from service.errors import ConfigurationError, DriftlineError

__all__ = ["StrategyConfigurationError", "StrategyError", "UnknownVersionError"]


class StrategyError(DriftlineError):
    """A retraining strategy or the model manager refused a request."""


class StrategyConfigurationError(StrategyError, ConfigurationError):
    """A strategy, history policy or manager cannot be built as configured."""


class UnknownVersionError(StrategyError, LookupError):
    """A rollback named a model version that does not exist or is no longer kept."""
