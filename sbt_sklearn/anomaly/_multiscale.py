"""A series' anomaly scores on several time scales at once.

An anomaly that lasts one step is seen best by the unsmoothed score; one that lasts a hundred
steps by a long moving average, where the noise of single errors cancels. ``multiscale_levels``
takes the causal moving average of the scores over each of ``SCALES`` steps, maps each to its
``-log`` upper-tail probability among the same average of the training series' scores (so the
scales share one unit), and averages the levels. The detector's ``smooth="multiscale"``.

The training distribution of each scale is kept as its quantiles at 65 upper-tail
probabilities from 1 to 1e-4 (geometric), as the rarity tables are. Needs numpy only.
"""

from __future__ import annotations

import numpy as np

from ._synthetic import moving_mean

__all__ = ["SCALES", "fit_scale_tails", "multiscale_levels"]

#: moving-average lengths (steps) of the scales
SCALES = (1, 5, 10, 25, 50)
#: upper-tail probabilities at which each scale's training distribution is kept
_TAIL_P = np.geomspace(1.0, 1e-4, 65)


def fit_scale_tails(reference) -> np.ndarray:
    """Quantiles (n_scales, 65), float64, of the training series' scores averaged over each scale.

    Parameters
    ----------
    reference : array-like of shape (n_steps,)
        Anomaly scores (higher = more anomalous) of the consecutive training windows.
    """
    reference = np.asarray(reference, dtype=np.float64)
    return np.stack([np.quantile(moving_mean(reference, k), 1.0 - _TAIL_P) for k in SCALES])


def _level(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``-log`` upper-tail probability of ``x`` among quantiles ``q`` (65,): linear between them,
    the first level below, growing on by the last level per width of the range beyond. Tied
    quantiles all take the smallest of their levels (the probability of the whole tie: a series
    whose training scores sit at one value a third of the time is not in the tail there), which
    also keeps the level continuous in ``x``."""
    ys = -np.log(_TAIL_P)[np.searchsorted(q, q, side="left")]  # tied quantiles: the first one's level
    i = np.clip(np.searchsorted(q, x, side="left") - 1, 0, len(q) - 2)  # the last quantile below x
    gap = q[i + 1] - q[i]
    frac = np.clip(np.divide(x - q[i], gap, out=np.zeros_like(x), where=gap > 0), 0.0, 1.0)
    width = q[-1] - q[0]
    beyond = np.maximum(x - q[-1], 0.0) * (ys[-1] / width if width > 0 else 1.0)
    return ys[i] + (ys[i + 1] - ys[i]) * frac + beyond


def multiscale_levels(scores, tails) -> np.ndarray:
    """Mean over the scales of the tail level of each scale's moving average of ``scores``.

    Parameters
    ----------
    scores : array-like of shape (n_steps,)
        Anomaly scores (higher = more anomalous) of consecutive windows.
    tails : ndarray of shape (n_scales, 65)
        :func:`fit_scale_tails` of the training series' scores.

    Returns
    -------
    ndarray of shape (n_steps,)
        Higher = more anomalous; 0 where every scale is at or below its training minimum.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return np.mean([_level(moving_mean(scores, k), q) for k, q in zip(SCALES, tails)], axis=0)
