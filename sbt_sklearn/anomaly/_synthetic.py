"""Synthetic anomalies, and choosing a score rule by how well it ranks them.

The anomaly detector's default score rule (``rarity="auto"``, ``smooth="auto"``) is chosen in
``fit`` without labels: anomalies of one kind at a time are written into copies of stretches of
the (standardised) training series, every candidate rule scores every step, and the rule whose
average precision is nearest the best on its worst kind wins (:func:`choose_robust`), in the
spirit of the unsupervised model selection by synthetic anomalies of Goswami et al.
("Unsupervised Model Selection for Time-series Anomaly Detection", ICLR 2023).

The kinds and their sizes, in standard deviations of the channel they hit (one channel per
anomaly, drawn among the channels that take more than two values in training):

======================  ==========================================================  =========
kind                    what changes                                                length
======================  ==========================================================  =========
``"spike"``             one step moves by 3 to 6 SD, up or down                     1
``"level_shift"``       the stretch moves by 1.5 to 3 SD, up or down                2 to 500
``"flat"``              the stretch holds its first value (a stuck sensor)          2 to 500
``"noise"``             Gaussian noise of 1 to 2 SD is added                        2 to 500
``"swap"``              the stretch is replaced by the same-length stretch that     2 to 500
                        starts half the series away (typical values, wrong place)
``"reverse"``           the stretch runs backwards (same values, other shape)       2 to 500
``"speed"``             the stretch shows twice as much of the series, every        2 to 500
                        second step (same values, twice the frequency)
======================  ==========================================================  =========

Stretch lengths are log-uniform on their range (capped at a tenth of the series), so short and
long anomalies weigh alike. Needs numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ANOMALY_KINDS", "average_precision", "choose_robust", "inject_anomalies", "moving_mean", "rank_rules"]

#: the kinds of synthetic anomaly, in the order their draws are made
ANOMALY_KINDS = ("spike", "level_shift", "flat", "noise", "swap", "reverse", "speed")
#: sizes, in standard deviations: (low, high) of the uniform draw
SIZES = {"spike": (3.0, 6.0), "level_shift": (1.5, 3.0), "noise": (1.0, 2.0)}
#: longest synthetic stretch (steps)
MAX_STRETCH = 500


def _stretch(rng, n_steps: int) -> int:
    top = max(2, min(MAX_STRETCH, n_steps // 10))
    return int(np.clip(np.round(np.exp(rng.uniform(np.log(2), np.log(top)))), 2, top))


def inject_anomalies(series, rng, *, start: int = 0, channels=None, fraction: float = 0.05, kinds=ANOMALY_KINDS):
    """Write synthetic anomalies into a copy of a standardised series.

    Parameters
    ----------
    series : ndarray of shape (n_steps, n_channels)
        A standardised series (each channel about zero mean, unit variance).
    rng : numpy.random.Generator
        Source of every draw.
    start : int, default=0
        No anomaly touches a step before ``start`` (a detector's first window).
    channels : array-like of int or None, default=None
        The channels an anomaly may hit (all when None).
    fraction : float, default=0.05
        The anomalies are drawn until about this fraction of the steps after ``start`` is
        anomalous; at least one of each kind is drawn.
    kinds : sequence of str, default=ANOMALY_KINDS
        The kinds to draw, in turn.

    Returns
    -------
    injected : ndarray of shape (n_steps, n_channels)
        The series with the anomalies (float64).
    labels : ndarray of shape (n_steps,) of bool
        The anomalous steps.
    kinds : list of str
        The kind of each anomaly, in time order.
    """
    out = np.array(series, dtype=np.float64)
    n = len(out)
    channels = np.arange(out.shape[1]) if channels is None else np.asarray(channels)
    labels = np.zeros(n, dtype=bool)
    if n - start < 4 or len(channels) == 0:
        raise ValueError(f"need at least 4 steps after start={start} and one channel to inject anomalies; "
                         f"got {n} steps and {len(channels)} channel(s)")
    unknown = sorted(set(kinds) - set(ANOMALY_KINDS))
    if unknown or not len(kinds):
        raise ValueError(f"kinds must be a non-empty sequence of {ANOMALY_KINDS}; got {kinds!r}")
    budget = max(len(kinds), int(fraction * (n - start)))
    placed = []
    for _ in range(20 * budget):  # placements that would touch another anomaly are drawn again
        if labels[start:].sum() >= budget and len(placed) >= len(kinds):
            break
        kind = kinds[len(placed) % len(kinds)]
        length = 1 if kind == "spike" else _stretch(rng, n - start)
        at = int(rng.integers(start, n - length + 1))
        lo, hi = max(start, at - 1), min(n, at + length + 1)  # keep one normal step between anomalies
        if labels[lo:hi].any():
            continue
        c = int(rng.choice(channels))
        seg = out[at : at + length, c]
        sign = rng.choice((-1.0, 1.0))
        if kind == "spike":
            seg += sign * rng.uniform(*SIZES[kind])
        elif kind == "level_shift":
            seg += sign * rng.uniform(*SIZES[kind])
        elif kind == "flat":
            seg[:] = seg[0]
        elif kind == "noise":
            seg += rng.normal(0.0, rng.uniform(*SIZES[kind]), size=length)
        elif kind == "swap":  # the same-length stretch half the series away
            src = (at + n // 2) % max(1, n - length)
            seg[:] = np.array(series[src : src + length, c], dtype=np.float64)
        elif kind == "reverse":
            seg[:] = seg[::-1].copy()
        else:  # speed: the stretch and what follows it, played at twice the speed
            fast = np.array(series[at : min(n, at + 2 * length) : 2, c], dtype=np.float64)
            seg[: len(fast)] = fast
        labels[at : at + length] = True
        placed.append((at, kind))
    return out, labels, [kind for _, kind in sorted(placed)]


def moving_mean(scores, k: int) -> np.ndarray:
    """Causal moving mean over the last ``k`` entries (fewer at the start) of a 1-D array."""
    scores = np.asarray(scores, dtype=np.float64)
    if k <= 1:
        return scores.copy()
    csum = np.concatenate([[0.0], np.cumsum(scores)])
    idx = np.arange(1, len(scores) + 1)
    lo = np.maximum(idx - k, 0)
    return (csum[idx] - csum[lo]) / (idx - lo)


def average_precision(labels, scores) -> float:
    """Average precision of ``scores`` (higher = more anomalous) for boolean ``labels``: the
    mean of the precision at every distinct threshold weighted by the recall it adds (the
    definition of :func:`sklearn.metrics.average_precision_score`, ties included); NaN where
    no step is labelled."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf)
    if not labels.any():
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    ranked, hits = scores[order], labels[order]
    ends = np.append(np.flatnonzero(np.diff(ranked) != 0), len(ranked) - 1)  # last step of each tie
    tp = np.cumsum(hits)[ends]
    precision = tp / (ends + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def rank_rules(scores: dict, labels) -> dict:
    """Average precision of every candidate's anomaly scores (higher = more anomalous) on ``labels``.

    Parameters
    ----------
    scores : dict of hashable to ndarray of shape (n_steps,)
        Anomaly scores of each candidate rule.
    labels : ndarray of shape (n_steps,) of bool
        The injected steps.

    Returns
    -------
    dict
        Candidate -> :func:`average_precision` (about the fraction of anomalous steps for a
        score that ranks at random).
    """
    return {name: average_precision(labels, s) for name, s in scores.items()}


def choose_robust(ap) -> np.ndarray:
    """Each candidate's worst relative average precision over the kinds of anomaly.

    Parameters
    ----------
    ap : array-like of shape (n_candidates, n_kinds)
        Average precision of every candidate rule on every kind of synthetic anomaly.

    Returns
    -------
    ndarray of shape (n_candidates,)
        ``min over kinds of ap / (best ap of that kind)``, in [0, 1]: the candidate with the
        largest value is never far behind the best rule on any kind (a kind that no rule finds
        better than another counts 1 for all). The mean over kinds would let a rule that
        misses one kind entirely (smoothing that hides single-step spikes) win on the others.
    """
    ap = np.asarray(ap, dtype=np.float64)
    best = ap.max(axis=0)
    rel = np.divide(ap, best, out=np.ones_like(ap), where=best > 0)
    return rel.min(axis=1)
