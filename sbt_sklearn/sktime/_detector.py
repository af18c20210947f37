"""sktime-native anomaly detector adapter: per-time-point scores from :class:`SBTAnomalyDetector`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sktime.detection.base import BaseDetector

from .._docstrings import fill_doc
from ..data import sliding_windows
from ..estimators import SBTAnomalyDetector
from ._mirror import AdapterMixin, estimator_params, mirrored_init

__all__ = ["SBTSktimeDetector"]


@fill_doc("anomaly")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTSktimeDetector(AdapterMixin, BaseDetector):
    """Sparse Binary Transformer anomaly detector for sktime (unsupervised, one score per time point).

    ``fit(X)`` cuts the (benign) training series into windows of ``window_length`` steps and fits
    :class:`sbt_sklearn.SBTAnomalyDetector`. Time point ``t`` is scored by the window that ends at
    ``t``; the first ``window_length - 1`` points are scored with the shorter context available
    (the windows that start at the beginning of the series), not dropped. ``transform_scores``
    gives the anomaly score (higher = more anomalous), ``predict`` the positions above the
    detector's threshold, ``transform`` 0/1 labels.

    Apart from ``window_length``, the hyperparameters are those of
    :class:`sbt_sklearn.SBTAnomalyDetector`: same names, defaults and meaning, so a grid
    transfers.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    estimator_ : SBTAnomalyDetector
        The fitted scikit-learn detector.
    window_length_ : int
        The window length used.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sbt_sklearn.sktime import SBTSktimeDetector
    >>> X = pd.DataFrame(np.sin(np.arange(300) / 5.0))
    >>> det = SBTSktimeDetector(window_length=20, d=16, d_ff=32, max_epochs=2, random_state=0).fit(X)
    >>> det.transform_scores(X).shape
    (300,)
    """

    _tags = {
        "authors": ["sbt_sklearn developers"],
        "maintainers": ["sbt_sklearn developers"],
        "python_dependencies": ["torch", "skorch"],
        "task": "anomaly_detection",
        "learning_type": "unsupervised",
        "X_inner_mtype": "pd.DataFrame",
        "capability:multivariate": True,
        "capability:missing_values": False,
        "fit_is_empty": False,
        "capability:random_state": True,
        "property:randomness": "derandomized",
    }

    __init__ = mirrored_init(SBTAnomalyDetector, window_length=50)
    _test_params = [
        dict(window_length=5, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, batch_size=16, random_state=0),
        dict(window_length=3, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, batch_size=16, random_state=1, p=0.75),
    ]

    @staticmethod
    def _values(X) -> np.ndarray:
        if isinstance(X, pd.Series):  # sktime may pass a Series (predict_points / predict_segments)
            X = X.to_frame()
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)

    def _fit(self, X, y=None):
        values = self._values(X)
        self.window_length_ = int(max(1, min(self.window_length, len(values))))
        windows, _ = sliding_windows(values, self.window_length_, horizon=0)
        self.estimator_ = SBTAnomalyDetector(**estimator_params(self, SBTAnomalyDetector)).fit(windows)
        return self

    def _normality(self, X) -> np.ndarray:
        """score_samples per time point (higher = more normal), short windows for the first points."""
        values = self._values(X)
        w = self.window_length_
        scores = np.empty(len(values))
        head = min(w - 1, len(values))
        for t in range(head):  # the first points: the context available so far
            scores[t] = self.estimator_.score_samples(np.ascontiguousarray(values[: t + 1].T[None]))[0]
        if len(values) >= w:
            windows, _ = sliding_windows(values, w, horizon=0)
            scores[w - 1:] = self.estimator_.score_samples(windows)
        return scores

    def _transform_scores(self, X):
        return pd.Series(-self._normality(X), index=getattr(X, "index", None), name="scores")

    def _predict(self, X):
        anomalous = -self._normality(X) > -self.estimator_.offset_
        return pd.Series(np.flatnonzero(anomalous), dtype="int64")
