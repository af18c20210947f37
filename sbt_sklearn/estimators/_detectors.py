"""One anomaly detector per series, trained together: ``fit_detectors``."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.base import clone

from ..data import sliding_windows
from ._anomaly import SBTAnomalyDetector, series_windows
from ._input import as_real_array, channel_stats, check_values
from ._threads import resolve_n_jobs, thread_limit

__all__ = ["fit_detectors"]


def _as_series(name, values) -> np.ndarray:
    values = as_real_array(values, name=f"series[{name!r}]")
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2:
        raise ValueError(f"series[{name!r}] must be (n_timesteps, n_channels) or (n_timesteps,); got shape "
                         f"{values.shape}")
    check_values(values, name=f"series[{name!r}]")
    return values


def fit_detectors(detector, series, window):
    """Fit one anomaly detector per series, with one network trained on all of them.

    Every series is standardised with its own per-channel mean and standard deviation; one
    network is trained on the windows of all of them (no window straddles two series), with
    the budget of ``detector`` (``max_windows_per_epoch`` windows per epoch drawn from the
    pool); then each series gets its own copy of that network with its own scaler, channel
    weights, score tables and thresholds, fitted on its own windows. The detectors are
    ordinary :class:`SBTAnomalyDetector` objects: each saves, loads, exports and scores
    on its own. With the default multi-scale ``smooth``, their :meth:`~SBTAnomalyDetector.score_series`
    scores are levels in the tail of each detector's own training scores, so the scores of
    different series share one scale and can be pooled.

    This is one training run instead of one per series (telemanom's protocol fits a model per
    channel): the network's weights are shared, what is particular to a series is its
    standardisation and its calibration.

    Parameters
    ----------
    detector : SBTAnomalyDetector
        The template (cloned; its hyperparameters, seed and thread count are used).
    series : dict of str to array-like, or list of array-like
        The training series, each (n_timesteps, n_channels) or (n_timesteps,), all with the
        same channels, each at least ``window`` steps long (DataFrames and Series work).
    window : int
        Steps per window.

    Returns
    -------
    detectors : dict or list of SBTAnomalyDetector
        One fitted detector per series, under the same keys (a list for a list).

    Raises
    ------
    ValueError
        For an empty collection, series with different channels, a series shorter than
        ``window``, or values that are not finite.
    TypeError
        If ``detector`` is not an :class:`SBTAnomalyDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn import SBTAnomalyDetector, fit_detectors
    >>> t = np.arange(400, dtype="float32")
    >>> fleet = {"a": np.sin(t / 8), "b": 5 + 3 * np.cos(t / 5)}  # other levels and periods
    >>> dets = fit_detectors(SBTAnomalyDetector(d=8, d_ff=16, max_epochs=2, random_state=0), fleet, 20)
    >>> sorted(dets), dets["b"].scaler_mean_.round(1).tolist()
    (['a', 'b'], [5.0])
    >>> dets["a"].score_series(fleet["a"]).shape
    (400,)
    """
    if not isinstance(detector, SBTAnomalyDetector):
        raise TypeError(f"detector must be an SBTAnomalyDetector; got {type(detector).__name__}")
    if isinstance(series, Mapping):
        names = list(series)
    elif isinstance(series, Sequence) and not isinstance(series, (str, bytes)):
        names = list(range(len(series)))
    else:
        raise TypeError(f"series must be a dict or a list of series; got {type(series).__name__}")
    if not names:
        raise ValueError("series is empty: pass at least one training series")
    arrays = [_as_series(name, series[name]) for name in names]
    channels = {a.shape[1] for a in arrays}
    if len(channels) > 1:
        raise ValueError(f"every series must have the same channels; got {sorted(channels)} channels")
    for name, a in zip(names, arrays):  # the window and the length, checked as fit_series checks them
        try:
            series_windows(a, window)
        except ValueError as exc:
            raise ValueError(f"series[{name!r}]: {exc}") from None
    stats = [channel_stats(sliding_windows(a, 1, horizon=0)[0]) for a in arrays]  # each series' own scaler
    pooled = np.concatenate([(a - m) / s for a, (m, s) in zip(arrays, stats)]).astype(np.float32)
    starts = np.cumsum([0] + [len(a) for a in arrays])
    inside = np.concatenate([np.arange(lo, hi - window + 1) for lo, hi in zip(starts[:-1], starts[1:])])

    template = clone(detector)
    template._validate_params()  # what fit's _fit_context does
    out = []
    with thread_limit(resolve_n_jobs(detector.n_jobs), blas=True):
        # the network only: the score rule of the pooled series would be thrown away
        template._fit_network(sliding_windows(pooled, window, horizon=0)[0], train_windows=inside)
        for a, (m, s) in zip(arrays, stats):
            det = copy.deepcopy(template)
            det.scaler_mean_ = (m + template.scaler_mean_ * s).astype(np.float32)
            det.scaler_scale_ = (s * template.scaler_scale_).astype(np.float32)
            out.append(det._fit_score_rule(sliding_windows(a, window, horizon=0)[0]))
    return dict(zip(names, out)) if isinstance(series, Mapping) else out
