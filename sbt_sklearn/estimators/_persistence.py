"""Saving, loading, folded export and compression reports of fitted SBT estimators."""

from __future__ import annotations

__all__ = ["PersistenceMixin"]


class PersistenceMixin:
    """Mixed into every SBT estimator: ``save`` / ``load`` / ``compression_report`` (issue 7)."""
