"""Time-series anomaly detection metrics: segments, point adjustment, P/R/F1, window filter.

All functions take per-time-step binary labels (1 = anomaly) as 1-D arrays and only use
numpy.  Everything is vectorised and linear in the series length.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DetectionScores",
    "benign_window_filter",
    "label_segments",
    "point_adjust",
    "precision_recall_f1",
]


def _as_binary_1d(values: ArrayLike, name: str) -> NDArray[np.generic]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    if arr.dtype != np.bool_:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise ValueError(
                f"{name} must contain binary labels (0/1 or bool), got dtype {arr.dtype}."
            )
        if arr.size and not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must contain only 0 and 1.")
    return arr


def label_segments(y: ArrayLike) -> NDArray[np.intp]:
    """Maximal runs of 1 in a binary label sequence.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Binary labels (0/1 or bool).

    Returns
    -------
    segments : ndarray of shape (n_segments, 2)
        One row ``[start, end)`` per maximal run of ones, in time order (``end`` excluded).

    Examples
    --------
    >>> from sbt_sklearn.metrics import label_segments
    >>> label_segments([1, 1, 0, 0, 1, 0, 1, 1, 1])
    array([[0, 2],
           [4, 5],
           [6, 9]])
    >>> label_segments([0, 0]).shape
    (0, 2)
    """
    arr = _as_binary_1d(y, "y").astype(bool)
    # +1 where a run starts, -1 one past where it ends (zero padding on both sides).
    edges = np.diff(np.concatenate(([0], arr.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return np.stack([starts, ends], axis=1).astype(np.intp, copy=False)


def point_adjust(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.generic]:
    """Point-adjust predictions: a detected true-anomaly segment counts as fully detected.

    For every maximal run of ``y_true == 1``, if at least one prediction inside the run is 1,
    every prediction in the run is set to 1; otherwise the run is left unchanged.  Predictions
    outside true-anomaly runs are never changed.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary ground-truth labels.
    y_pred : array-like of shape (n_samples,)
        Binary predictions.

    Returns
    -------
    y_adjusted : ndarray of shape (n_samples,)
        Adjusted predictions, with the dtype of ``y_pred`` (a new array).

    Notes
    -----
    This is the adjustment of Xu et al. (2018) used by OmniAnomaly, TranAD and the SBT
    evaluation.  It is computed on whole segments; in particular a segment starting at index 0
    is adjusted like any other (the reference code's backward scan stops before index 0, which
    this implementation does not copy).  Point adjustment inflates scores strongly (a single
    hit in a long segment counts as detecting all of it); report unadjusted scores as well.

    Runs in O(n): hits per segment from a cumulative sum, filled segments from a difference
    array.

    References
    ----------
    .. [1] H. Xu et al., "Unsupervised anomaly detection via variational auto-encoder for
       seasonal KPIs in web applications", WWW 2018.
    .. [2] Y. Su et al., "Robust anomaly detection for multivariate time series through
       stochastic recurrent neural network", KDD 2019 (OmniAnomaly).
    .. [3] S. Kim et al., "Towards a rigorous evaluation of time-series anomaly detection",
       AAAI 2022.

    Examples
    --------
    >>> from sbt_sklearn.metrics import point_adjust
    >>> y_true = [1, 1, 0, 0, 1, 1, 1, 0, 1, 1]
    >>> y_pred = [0, 1, 0, 1, 0, 0, 0, 0, 0, 1]
    >>> point_adjust(y_true, y_pred)
    array([1, 1, 0, 1, 0, 0, 0, 0, 1, 1])
    """
    true = _as_binary_1d(y_true, "y_true").astype(bool)
    pred = _as_binary_1d(y_pred, "y_pred")
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {true.size} and {pred.size}."
        )
    pred_bool = pred.astype(bool)
    segments = label_segments(true)
    if segments.size == 0:
        return pred.copy()
    starts, ends = segments[:, 0], segments[:, 1]
    # Number of positive predictions inside each segment.
    cum = np.concatenate(([0], np.cumsum(pred_bool, dtype=np.int64)))
    hit = cum[ends] > cum[starts]
    # Mark the hit segments with a difference array: +1 at start, -1 at end.
    delta = np.zeros(true.size + 1, dtype=np.int64)
    delta[starts[hit]] += 1  # starts and ends are all distinct (maximal runs)
    delta[ends[hit]] -= 1
    filled = np.cumsum(delta[:-1]) > 0
    return (pred_bool | filled).astype(pred.dtype, copy=False)


class DetectionScores(NamedTuple):
    """Precision, recall and F1 of a binary detection (see :func:`precision_recall_f1`)."""

    precision: float
    recall: float
    f1: float


def precision_recall_f1(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    point_adjusted: bool = False,
    smoothing: float = 0.0,
) -> DetectionScores:
    """Precision, recall and F1 of binary anomaly predictions, optionally point-adjusted.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary ground-truth labels (1 = anomaly, the positive class).
    y_pred : array-like of shape (n_samples,)
        Binary predictions.
    point_adjusted : bool, default=False
        If True, apply :func:`point_adjust` to ``y_pred`` first.
    smoothing : float, default=0.0
        Added to every denominator.  With the default 0, a zero denominator gives 0 (like
        scikit-learn's ``zero_division=0``) and ``f1 = 2 TP / (2 TP + FP + FN)``.  With
        ``smoothing=1e-5`` the scores are those of the TranAD/SBT evaluation code:
        ``P = TP / (TP + FP + s)``, ``R = TP / (TP + FN + s)``, ``F1 = 2 P R / (P + R + s)``.

    Returns
    -------
    scores : DetectionScores
        Named tuple ``(precision, recall, f1)`` of floats.

    See Also
    --------
    point_adjust : The adjustment used with ``point_adjusted=True``.

    References
    ----------
    .. [1] S. Tuli, G. Casale and N. R. Jennings, "TranAD: Deep transformer networks for
       anomaly detection in multivariate time series data", VLDB 2022.

    Examples
    --------
    >>> from sbt_sklearn.metrics import precision_recall_f1
    >>> y_true = [0, 1, 1, 1, 0, 0]
    >>> y_pred = [0, 0, 1, 0, 0, 1]
    >>> precision_recall_f1(y_true, y_pred)
    DetectionScores(precision=0.5, recall=0.3333333333333333, f1=0.4)
    >>> precision_recall_f1(y_true, y_pred, point_adjusted=True)
    DetectionScores(precision=0.75, recall=1.0, f1=0.8571428571428571)
    """
    true = _as_binary_1d(y_true, "y_true").astype(bool)
    pred = _as_binary_1d(y_pred, "y_pred").astype(bool)
    if true.shape != pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same length, got {true.size} and {pred.size}."
        )
    if not (np.isfinite(smoothing) and smoothing >= 0):
        raise ValueError(f"smoothing must be a finite number >= 0, got {smoothing!r}.")
    if point_adjusted:
        pred = point_adjust(true, pred)
    tp = int(np.count_nonzero(true & pred))
    fp = int(np.count_nonzero(~true & pred))
    fn = int(np.count_nonzero(true & ~pred))
    if smoothing > 0:
        precision = tp / (tp + fp + smoothing)
        recall = tp / (tp + fn + smoothing)
        f1 = 2 * precision * recall / (precision + recall + smoothing)
        return DetectionScores(precision, recall, f1)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return DetectionScores(float(precision), float(recall), float(f1))


def benign_window_filter(labels: ArrayLike, window: int) -> NDArray[np.intp]:
    """Indices of the sliding windows kept by the "benign-window" test protocol of SBT.

    Window ``i`` covers time steps ``[i, i + window)`` for ``i = 0 .. T - window`` and is
    scored at its last step ``i + window - 1``.  A window is kept if its last label is 1, or
    if every label in it is 0; a window whose last label is 0 but which contains an earlier
    anomaly is dropped.

    Parameters
    ----------
    labels : array-like of shape (T,)
        Binary per-time-step labels.
    window : int
        Window length, at least 1.

    Returns
    -------
    indices : ndarray of shape (n_kept,)
        Start indices of the kept windows, increasing (time order).  Empty if
        ``T < window``.

    Notes
    -----
    The SBT evaluation code returns all benign windows first and then all anomalous ones.
    With point adjustment, that ordering glues every anomalous window into one long segment,
    so a single detection gives 100 % recall (the reason for R = 100 throughout the paper's
    Table 2).  Here the kept windows stay in time order; apply them to scores and labels of
    the kept windows, e.g. ``labels[indices + window - 1]``.

    References
    ----------
    .. [1] M. Gorbett, H. Shirazi and I. Ray, "Sparse Binary Transformers for multivariate
       time series modeling", KDD 2023.

    Examples
    --------
    >>> from sbt_sklearn.metrics import benign_window_filter
    >>> labels = [0, 0, 0, 1, 1, 0, 0, 0]
    >>> benign_window_filter(labels, window=2)
    array([0, 1, 2, 3, 5, 6])
    """
    arr = _as_binary_1d(labels, "labels").astype(bool)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}.")
    n_windows = arr.size - int(window) + 1
    if n_windows <= 0:
        return np.zeros(0, dtype=np.intp)
    cum = np.concatenate(([0], np.cumsum(arr, dtype=np.int64)))
    start = np.arange(n_windows)
    n_anomalous = cum[start + window] - cum[start]
    keep = arr[start + window - 1] | (n_anomalous == 0)
    return np.flatnonzero(keep).astype(np.intp, copy=False)
