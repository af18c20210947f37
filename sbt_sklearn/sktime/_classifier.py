"""sktime-native classifier adapter around :class:`sbt_sklearn.SBTClassifier`."""

from __future__ import annotations

from sktime.classification.base import BaseClassifier

from .._docstrings import fill_doc
from ..estimators import SBTClassifier
from ._mirror import AdapterMixin, estimator_params, mirrored_init

__all__ = ["SBTSktimeClassifier"]


@fill_doc("classifier")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTSktimeClassifier(AdapterMixin, BaseClassifier):
    """Sparse Binary Transformer time series classifier for sktime.

    An sktime ``BaseClassifier`` with exactly the hyperparameters of
    :class:`sbt_sklearn.SBTClassifier` (same names, defaults and meaning, so a grid transfers),
    so that it works in sktime pipelines, ``TSCGridSearchCV`` and ``ClassificationBenchmark``,
    takes every sktime Panel mtype (equal or unequal length, multivariate) and keeps the channel
    structure (sktime's generic sklearn bridges flatten panels).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    estimator_ : SBTClassifier
        The fitted scikit-learn estimator.

    Examples
    --------
    >>> from sktime.datasets import load_basic_motions
    >>> from sbt_sklearn.sktime import SBTSktimeClassifier
    >>> X, y = load_basic_motions(split="train", return_type="numpy3D")
    >>> clf = SBTSktimeClassifier(d=16, d_ff=32, max_epochs=3, random_state=0)
    >>> clf.fit(X, y).predict(X[:2]).shape
    (2,)
    """

    _tags = {
        "authors": ["sbt_sklearn developers"],
        "maintainers": ["sbt_sklearn developers"],
        "python_dependencies": ["torch", "skorch"],
        "X_inner_mtype": ["df-list", "numpy3D"],  # numpy3D passes through; other panels as df-list
        "y_inner_mtype": "numpy1D",
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:predict_proba": True,
        "capability:class_weight": True,
        "capability:random_state": True,
        "property:randomness": "derandomized",
    }

    __init__ = mirrored_init(SBTClassifier)
    _test_params = [
        dict(d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, batch_size=8, random_state=0),
        dict(d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, batch_size=8, random_state=1, p=0.75,
             attention="full", norm="layer"),
    ]

    def _init_base(self):
        super().__init__()
        if self.missing == "interpolate":
            self.set_tags(**{"capability:missing_values": True})

    def _fit(self, X, y):
        self.estimator_ = SBTClassifier(**estimator_params(self, SBTClassifier)).fit(X, y)
        return self

    def _predict(self, X):
        return self.estimator_.predict(X)

    def _predict_proba(self, X):
        return self.estimator_.predict_proba(X)
