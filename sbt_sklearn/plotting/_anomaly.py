"""``plot_anomaly_scores``: anomaly scores over time with a threshold and the true anomaly segments."""

from __future__ import annotations

import numpy as np

from ..metrics import label_segments

__all__ = ["plot_anomaly_scores"]


def plot_anomaly_scores(scores, labels=None, threshold=None, *, series=None, ax=None, higher_is_normal=True,
                        title=None, score_label="anomaly score"):
    """Plot one anomaly score per time step, a threshold, and the labelled anomaly segments.

    Parameters
    ----------
    scores : array-like of shape (n_timesteps,)
        One score per time step, e.g. :meth:`SBTAnomalyDetector.score_series`.
    labels : array-like of shape (n_timesteps,), default=None
        Binary ground truth (1 = anomaly); each maximal run of ones is shaded.
    threshold : float, default=None
        Decision threshold on the same scale as ``scores`` (for a fitted detector,
        ``offset_`` for window scores, ``-series_threshold_`` for ``score_series``), drawn as
        a horizontal line; steps beyond it are marked.
    series : array-like of shape (n_timesteps,) or (n_timesteps, n_channels), default=None
        Optional signal drawn in a panel above the scores (e.g. the telemetry channel).
    ax : matplotlib Axes or sequence of two Axes, default=None
        Where to draw: one Axes for the scores, or two (signal, scores) when ``series`` is
        given. New axes are created when None.
    higher_is_normal : bool, default=True
        True for scikit-learn scores (``score_samples``, higher = more normal); they are
        negated (and so is ``threshold``) so that anomalies point up in the plot.
    title : str, default=None
        Figure title.
    score_label : str, default="anomaly score"
        Y-axis label of the score panel.

    Returns
    -------
    axes : list of matplotlib Axes
        The axes drawn on: ``[scores]`` or ``[signal, scores]``.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sbt_sklearn.plotting import plot_anomaly_scores
    >>> scores = -np.abs(np.random.default_rng(0).normal(size=200))
    >>> labels = np.zeros(200, dtype=int); labels[120:140] = 1
    >>> axes = plot_anomaly_scores(scores, labels, threshold=-2.0)
    >>> len(axes)
    1
    """
    import matplotlib.pyplot as plt

    s = np.asarray(scores, dtype=np.float64).ravel()
    sign = -1.0 if higher_is_normal else 1.0
    anomaly = sign * s
    t = np.arange(s.size)
    if ax is None:
        if series is not None:
            fig, axes = plt.subplots(2, 1, sharex=True, figsize=(11, 5), height_ratios=(1, 1.3))
            axes = list(axes)
        else:
            fig, one = plt.subplots(figsize=(11, 3.2))
            axes = [one]
    else:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        fig = axes[0].figure
    if series is not None and len(axes) < 2:
        raise ValueError("pass two Axes (signal, scores) when series is given")
    score_ax = axes[-1]
    segments = label_segments(labels) if labels is not None else np.zeros((0, 2), dtype=int)
    for a in axes:
        for k, (start, stop) in enumerate(segments):
            a.axvspan(start - 0.5, stop - 0.5, color="tab:red", alpha=0.15, lw=0,
                      label="true anomaly" if k == 0 and a is score_ax else None)
    if series is not None:
        sig = np.asarray(series, dtype=np.float64)
        axes[0].plot(t, sig if sig.ndim == 1 else sig[:, 0], color="0.25", lw=0.8)
        axes[0].set_ylabel("signal")
    score_ax.plot(t, anomaly, color="tab:blue", lw=0.8, label=score_label)
    if threshold is not None:
        tau = sign * float(threshold)
        score_ax.axhline(tau, color="tab:orange", ls="--", lw=1.2, label="threshold")
        hits = anomaly > tau
        score_ax.plot(t[hits], anomaly[hits], ".", color="tab:orange", ms=3, label="flagged")
    score_ax.set_xlabel("time step")
    score_ax.set_ylabel(score_label)
    if np.all(anomaly > 0) and anomaly.max() / max(anomaly.min(), 1e-300) > 1e3:
        score_ax.set_yscale("log")
    score_ax.legend(loc="upper left", fontsize="small", ncols=4)
    if title:
        fig.suptitle(title)
    return axes
