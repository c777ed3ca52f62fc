"""The exceptions Driftline raises on purpose.

Every error Driftline raises itself derives from :class:`DriftlineError`, so a caller can
tell "Driftline refused this" apart from a bug or a library failure.
"""

__all__ = ["ConfigurationError", "DriftlineError", "ModelError"]


class DriftlineError(Exception):
    """Root of every error Driftline raises on purpose."""


class ConfigurationError(DriftlineError):
    """A setting is invalid or inconsistent with another."""


class ModelError(DriftlineError):
    """A model cannot be built from its name or import path."""
