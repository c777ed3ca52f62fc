"""The pending store's defaults, apart so the settings can name them without the store."""

from __future__ import annotations

__all__ = ["DEFAULT_PENDING_MAX", "DEFAULT_PENDING_TTL_SECONDS"]

DEFAULT_PENDING_MAX = 100_000
"""Questions kept waiting at most: about 100 MB with 100 features each."""
DEFAULT_PENDING_TTL_SECONDS = 7 * 86_400.0
"""A week: labels in fraud, churn or credit often take days."""
