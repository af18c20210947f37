"""Sparse Binary Transformers as scikit-learn estimators for multivariate time series.

The public estimators (:class:`SBTClassifier`, :class:`SBTForecaster`,
:class:`SBTAnomalyDetector`) and helpers are imported lazily, so that the torch-only
layers :mod:`sbt_sklearn.nn` and :mod:`sbt_sklearn.sparsity` can be imported without
scikit-learn, skorch or sktime.
"""

from importlib import import_module

from ._version import __version__

# public name -> submodule that defines it
_LAZY = {
    "SBTClassifier": "sbt_sklearn.estimators",
    "SBTForecaster": "sbt_sklearn.estimators",
    "SBTAnomalyDetector": "sbt_sklearn.estimators",
    "fit_detectors": "sbt_sklearn.estimators",
    "sliding_windows": "sbt_sklearn.data",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sbt_sklearn' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
