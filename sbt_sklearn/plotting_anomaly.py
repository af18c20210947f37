"""Deprecated: import :func:`~sbt_sklearn.plotting.plot_anomaly_scores` from :mod:`sbt_sklearn.plotting`.

This module only re-exports that function and warns when it is imported. It has no ``__all__``
on purpose, so that the API reference (``docs/_ext/sbt_api.py``) does not list it.
"""

import warnings as _warnings

from .plotting import plot_anomaly_scores  # noqa: F401 - the deprecated name

_warnings.warn("sbt_sklearn.plotting_anomaly is deprecated and will be removed; use "
               "`from sbt_sklearn.plotting import plot_anomaly_scores` instead",
               FutureWarning, stacklevel=2)
