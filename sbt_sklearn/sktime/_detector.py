"""sktime-native anomaly detector adapter: per-time-point scores from :class:`SBTAnomalyDetector`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sktime.detection.base import BaseDetector

from .._docstrings import fill_doc
from ..data import sliding_windows
from ..estimators import SBTAnomalyDetector
from ..estimators._input import as_real_array
from ._mirror import AdapterMixin, check_int_param, estimator_params, mirrored_init

__all__ = ["SBTSktimeDetector"]


@fill_doc("anomaly")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTSktimeDetector(AdapterMixin, BaseDetector):
    """Sparse Binary Transformer anomaly detector for sktime (unsupervised, one score per time point).

    ``fit(X)`` cuts the (benign) training series into windows of ``window_length`` steps and fits
    :class:`sbt_sklearn.SBTAnomalyDetector`. Time point ``t`` is scored by the window that ends at
    ``t``; the first ``window_length - 1`` points are scored with the shorter context available
    (the windows that start at the beginning of the series), not dropped; the scores of full
    windows are smoothed over time by the detector's fitted rule (``smooth_``, as
    :meth:`~sbt_sklearn.SBTAnomalyDetector.score_series` does). ``transform_scores``
    gives the anomaly score (higher = more anomalous), ``predict`` the positions above the
    detector's threshold, ``transform`` 0/1 labels. The threshold is fitted on full windows, so
    ``predict`` flags only points scored with a full window: the first ``window_length - 1``
    points keep their scores but are never flagged (with less context they score high whether
    anomalous or not).

    Apart from ``window_length``, the hyperparameters are those of
    :class:`sbt_sklearn.SBTAnomalyDetector`: same names, defaults and meaning, so a grid
    transfers. ``window_length`` must be an integer >= 2 with ``target="predict"`` (the last
    step of a window is predicted from the steps before it, so a window needs one step of
    context) and >= 1 with ``target="reconstruct"``; ``fit`` raises ValueError otherwise, and
    for a training series shorter than that minimum. An empty series gets empty scores, labels
    and anomaly lists.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    estimator_ : SBTAnomalyDetector
        The fitted scikit-learn detector.
    window_length_ : int
        The window length used.
    threshold_ : float
        Anomaly-score threshold of ``predict``: the detector's ``threshold`` rule (quantile at
        ``contamination`` or POT) applied to the training series' scores, smoothed as the
        scores of new series are (the detector's ``smooth_``).

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
        """(n_timepoints, n_channels) real values; complex or non-numeric data raise ValueError."""
        if isinstance(X, pd.Series):  # sktime may pass a Series (predict_points / predict_segments)
            X = X.to_frame()
        values = as_real_array(X, name="X")
        return values.reshape(len(values), -1) if values.ndim != 2 else values

    def _min_window(self) -> int:
        return 2 if self.target == "predict" else 1

    def _fit(self, X, y=None):
        minimum = self._min_window()
        why = ' with target="predict" (one step of context before the predicted step)' if minimum == 2 else ""
        window_length = check_int_param(self, "window_length", minimum, why)
        values = self._values(X)
        if len(values) < minimum:
            raise ValueError(f"SBTSktimeDetector needs a training series of at least {minimum} time point(s) "
                             f"(window_length >= {minimum}{why}); got {len(values)}")
        self.window_length_ = min(window_length, len(values))
        windows, _ = sliding_windows(values, self.window_length_, horizon=0)
        self.estimator_ = SBTAnomalyDetector(**estimator_params(self, SBTAnomalyDetector)).fit(windows)
        self.threshold_ = float(self.estimator_.series_threshold_)  # on the smoothed training scores
        return self

    def _normality(self, X) -> np.ndarray:
        """score_samples per time point (higher = more normal), short windows for the first points."""
        values = self._values(X)
        w = self.window_length_
        scores = np.empty(len(values))
        if len(values) == 0:  # an empty series: no time point to score
            return scores
        head = min(w - 1, len(values))
        for t in range(head):  # the first points: the context available so far
            scores[t] = self.estimator_.score_samples(np.ascontiguousarray(values[: t + 1].T[None]))[0]
        if len(values) >= w:  # full windows' scores, smoothed by the detector's fitted rule
            scores[w - 1:] = self.estimator_.score_series(values)[w - 1:]
        return scores

    def _transform_scores(self, X):
        return pd.Series(-self._normality(X), index=getattr(X, "index", None), name="scores")

    def _flagged(self, scores: np.ndarray) -> np.ndarray:
        """Positions whose anomaly score is above the threshold, among the points scored with a full
        window: the threshold comes from full training windows, and a point with less context (the
        first ``window_length_ - 1``) scores higher whether it is anomalous or not (on sktime's yahoo
        series 22 of its first 49 points passed the 1 % threshold of the full windows)."""
        above = scores > self.threshold_
        above[: self.window_length_ - 1] = False
        return np.flatnonzero(above)

    def _predict(self, X):
        return pd.Series(self._flagged(-self._normality(X)), dtype="int64")

    def _predict_scores(self, X):
        """Anomaly scores (higher = more anomalous) of the points ``predict`` returns, in its order."""
        scores = -self._normality(X)
        return pd.Series(scores[self._flagged(scores)], name="scores")
