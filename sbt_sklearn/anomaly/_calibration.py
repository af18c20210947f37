"""Scores of different detectors on one scale: their levels in the tail of the training scores."""

from __future__ import annotations

import numpy as np

__all__ = ["tail_levels"]


def tail_levels(reference, scores):
    """Minus the log upper-tail probability of each score among a detector's reference scores.

    Anomaly scores of detectors fitted on different series (one model per channel, as in
    telemanom's protocol) have no common unit: a squared error of 2 can be ordinary for one
    channel and unheard of for another. Mapping every score to ``-log P(reference >= score)``,
    with the detector's own training scores as reference, puts them on one scale, so that
    they can be pooled, ranked and thresholded together: a level of ``log(100)`` is the 99 %
    quantile of every detector's training scores.

    This is the rule that ``SBTAnomalyDetector(rarity="marginal")`` uses for its two terms:
    the reference is kept as its quantiles at 65 upper-tail probabilities from 1 to 1e-4
    (geometrically spaced); levels are interpolated linearly between them, and beyond the
    largest they grow on linearly (by the top level per width of the quantiles' range), so
    that scores above every reference score keep their order instead of all sharing one
    level.

    Parameters
    ----------
    reference : array-like of shape (n_reference,)
        Scores of the detector's training (never test) samples, higher = more anomalous.
    scores : array-like of shape (n_samples,)
        Scores of the same detector to be mapped, higher = more anomalous.

    Returns
    -------
    levels : ndarray of shape (n_samples,), float64
        Non-decreasing in ``scores``; 0 at or below the smallest reference score. Computed
        in float32 (the scores are rounded to float32 first; the detector's own scoring uses
        float64 with the same knots), so scores that round to one float32 value, or to a
        stored quantile, share a level.

    Raises
    ------
    ValueError
        If either input is not one-dimensional, ``reference`` is empty, or a value is not
        finite.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.anomaly import tail_levels
    >>> reference = np.random.default_rng(0).normal(size=10_000)
    >>> levels = tail_levels(reference, np.array([-5.0, 0.0, 2.33, 10.0]))
    >>> print(np.round(np.exp(-levels[:3]), 2))  # upper-tail probabilities
    [1.   0.5  0.01]
    >>> bool(levels[3] > levels[2])
    True
    """
    ref = np.asarray(reference, dtype=np.float64)
    values = np.asarray(scores, dtype=np.float64)
    for name, a in (("reference", ref), ("scores", values)):
        if a.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional; got shape {a.shape}.")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinite values.")
    if ref.size == 0:
        raise ValueError("reference is empty: pass the detector's scores of its training samples.")
    import torch  # here, not at module level: importing sbt_sklearn.anomaly stays numpy/scipy only

    from ._typicality import fit_tail, tail_level

    knots = torch.from_numpy(fit_tail(ref))
    levels = tail_level(torch.from_numpy(values.astype(np.float32)), knots)
    return levels.numpy().astype(np.float64)
