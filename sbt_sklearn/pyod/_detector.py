"""SBTPyODDetector: :class:`sbt_sklearn.SBTAnomalyDetector` behind PyOD's ``BaseDetector``."""

from __future__ import annotations

from sklearn.utils.validation import check_is_fitted

from .._docstrings import fill_doc
from ..estimators import SBTAnomalyDetector
from ..estimators._anomaly import series_windows
from ..estimators._mirror import mirrored_init

try:
    from pyod.models.base import BaseDetector
except ImportError as exc:  # pragma: no cover - exercised only without pyod
    raise ImportError("sbt_sklearn.pyod needs PyOD: pip install pyod (or the package's [pyod] extra)") from exc

__all__ = ["SBTPyODDetector"]


@fill_doc("anomaly")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTPyODDetector(BaseDetector):
    """Sparse Binary Transformer anomaly detector with PyOD's interface.

    The model is :class:`sbt_sklearn.SBTAnomalyDetector` (same hyperparameters, names and
    defaults); what changes is the convention. ``decision_function`` is higher for more anomalous
    windows (minus the detector's ``score_samples``), ``predict`` labels outliers 1 and inliers
    0, and ``fit`` sets PyOD's attributes: ``decision_scores_`` (the training windows' scores),
    ``threshold_`` and ``labels_``. ``predict_proba``, ``predict_confidence`` and
    ``predict_with_rejection`` are PyOD's own, computed from these. With
    ``threshold="quantile"`` (default) the threshold is PyOD's: the ``1 - contamination``
    quantile of the training scores; with ``threshold="pot"`` it is the detector's POT
    threshold.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    estimator_ : SBTAnomalyDetector
        The fitted scikit-learn detector.
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training windows (higher = more anomalous).
    threshold_ : float
        Scores above it are outliers.
    labels_ : ndarray of shape (n_samples,)
        Training labels: 1 for outliers, 0 for inliers.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn import sliding_windows
    >>> from sbt_sklearn.pyod import SBTPyODDetector
    >>> series = np.sin(np.arange(400) / 6.0)[:, None].astype("float32")
    >>> X, _ = sliding_windows(series, 16, horizon=0)
    >>> det = SBTPyODDetector(d=8, d_ff=16, max_epochs=2, contamination=0.05, random_state=0).fit(X)
    >>> sorted(np.unique(det.labels_).tolist()), det.predict(X[:3]).shape
    ([0, 1], (3,))
    """

    __init__ = mirrored_init(SBTAnomalyDetector)

    def _init_base(self):
        # PyOD's constructor only validates contamination (our parameter check does it in fit)
        pass

    @classmethod
    def _get_param_names(cls):
        return sorted(p for p in mirrored_init(SBTAnomalyDetector).__signature__.parameters if p != "self")

    def fit(self, X, y=None):
        """Fit the detector on (mostly normal) windows and set PyOD's training attributes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Training windows, as :class:`~sbt_sklearn.SBTAnomalyDetector` takes them.
        y : None
            Ignored (unsupervised).

        Returns
        -------
        self : SBTPyODDetector
            The fitted detector.
        """
        self._set_n_classes(y)  # PyOD's bookkeeping for predict_proba (two classes)
        if self.warm_start and getattr(self, "estimator_", None) is not None:  # continue the fitted network
            self.estimator_ = self.estimator_.set_params(**self.get_params()).fit(X)
        else:
            self.estimator_ = SBTAnomalyDetector(**self.get_params()).fit(X)
        self.decision_scores_ = -self.estimator_.score_samples(X)
        self._process_decision_scores()
        if self.threshold == "pot":  # the detector's own threshold instead of the quantile
            self.threshold_ = float(self.estimator_.threshold_)
            self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def fit_series(self, series, window):
        """Fit on one long (mostly normal) series cut into windows of ``window`` steps.

        As :meth:`sbt_sklearn.SBTAnomalyDetector.fit_series`; ``decision_scores_`` are then the
        scores of those windows.

        Parameters
        ----------
        series : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
            The training series, time along the first axis.
        window : int
            Steps per window.

        Returns
        -------
        self : SBTPyODDetector
            The fitted detector.
        """
        return self.fit(series_windows(series, window))

    def decision_function(self, X):
        """Anomaly score of each window (higher = more anomalous).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Windows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the scikit-learn detector's ``score_samples`` (float64).
        """
        check_is_fitted(self, ["estimator_", "decision_scores_"])
        return -self.estimator_.score_samples(X)

    def predict(self, X, return_confidence=False):
        """Label each window: 1 for an outlier (score above ``threshold_``), 0 for an inlier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Windows to label.
        return_confidence : bool, default=False
            Also return PyOD's confidence of each label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            0 or 1.
        confidence : ndarray of shape (n_samples,)
            Only with ``return_confidence=True``.
        """
        labels = (self.decision_function(X) > self.threshold_).astype(int)
        if return_confidence:
            return labels, self.predict_confidence(X)
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

