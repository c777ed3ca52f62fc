"""The error the drift package raises on purpose."""

from __future__ import annotations

from service.errors import ConfigurationError

__all__ = ["DriftConfigurationError"]


class DriftConfigurationError(ConfigurationError):
    """A drift detector or monitor cannot be built as configured (unknown name, bad parameter)."""
