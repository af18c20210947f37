"""How rare a value is, and how far in the tail of its training distribution a score lies.

The anomaly detector's ``rarity="marginal"`` score has two terms, both calibrated against
the training windows so that they add up on one scale (minus log upper-tail probabilities):

* the SBT's error term, counted only beyond its ``ERROR_TAIL`` training quantile;
* how rare the window's last row is under the training distribution of each continuous
  channel: a histogram density on ``N_BINS`` equal-mass bins (bin widths floored at
  ``WIDTH_FLOOR`` standard deviations, so repeated values are common rather than infinitely
  likely), with an exponential tail beyond the training range.

Fitting (quantiles of the training values) is numpy; scoring is torch, shared by the
estimator and its folded export, and uses only comparisons, gathers and arithmetic. The
tables are small and stored rounded, and are used exactly as stored: bin edges in float16
(65 values per channel: 130 bytes), tail knots in float32 (2 x at most 65 values).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["N_BINS", "WIDTH_FLOOR", "ERROR_TAIL", "fit_value_bins", "fit_tail", "marginal_rarity", "tail_level",
           "anomaly_from_terms", "larger_level", "combine_terms", "combined_anomaly"]

#: equal-mass bins of each channel's value histogram
N_BINS = 64
#: smallest bin width, in standard deviations of the channel (standardised scale)
WIDTH_FLOOR = 0.01
#: the error term counts from this upper-tail probability of the training errors on
ERROR_TAIL = 0.05
#: upper-tail probabilities at which a reference distribution is kept (1 down to 1e-4)
_TAIL_P = np.geomspace(1.0, 1e-4, 65)


def fit_value_bins(values: np.ndarray) -> np.ndarray:
    """Bin edges (n_channels, N_BINS + 1), float16: the training quantiles of each channel's values."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.quantile(values, np.linspace(0.0, 1.0, N_BINS + 1), axis=0).T
    return np.ascontiguousarray(np.clip(edges, -60000.0, 60000.0).astype(np.float16))


def fit_tail(reference: np.ndarray) -> np.ndarray:
    """Knots (2, K), float32, of ``x -> -log P(reference >= x)``: strictly increasing values
    and their levels.

    The reference quantiles at 65 upper-tail probabilities from 1 to 1e-4 (geometric), rounded
    to float32; tied quantiles keep the smallest level (the probability of the whole tie).
    """
    q = np.quantile(np.asarray(reference, dtype=np.float64), 1.0 - _TAIL_P).astype(np.float32)
    xs, first = np.unique(q, return_index=True)
    ys = (-np.log(_TAIL_P[first])).astype(np.float32)
    if len(xs) == 1:  # a constant reference: anything above it is one level up per unit
        xs, ys = np.array([xs[0], xs[0] + 1], np.float32), np.array([ys[0], ys[0] + 1], np.float32)
    return np.stack([xs, ys])


def tail_level(x: torch.Tensor, knots: torch.Tensor) -> torch.Tensor:
    """``-log`` upper-tail probability of ``x`` (B,), piecewise linear between the knots.

    Below the first knot the level is the first level; beyond the last it grows on linearly,
    by the last level per width of the knots' range (a slope that does not depend on how close
    the two most extreme quantiles happen to be), so the order of extreme scores is kept.
    """
    xs, ys = knots[0], knots[1]
    k = xs.shape[0]
    i = ((x[:, None] >= xs[None, :]).sum(1) - 1).clamp(0, k - 2)
    x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
    inside = y0 + (y1 - y0) * ((x - x0) / (x1 - x0)).clamp(0.0, 1.0)
    beyond = (x - xs[k - 1]).clamp_min(0.0) * (ys[k - 1] / (xs[k - 1] - xs[0]))
    return inside + beyond


def marginal_rarity(values: torch.Tensor, bins: torch.Tensor, width_floor: float = WIDTH_FLOOR) -> torch.Tensor:
    """Minus the log histogram density of each row of ``values`` (B, c), summed over channels."""
    b, c = values.shape[0], values.shape[1]
    n_bins = bins.shape[1] - 1
    i = ((values[:, :, None] >= bins[None, :, :-1]).sum(2) - 1).clamp(0, n_bins - 1)  # (B, c)
    edges = bins[None].expand(b, c, n_bins + 1)
    width = (edges.gather(2, (i + 1)[:, :, None]) - edges.gather(2, i[:, :, None]))[:, :, 0].clamp_min(width_floor)
    outside = (bins[:, 0] - values).clamp_min(0.0) + (values - bins[:, -1]).clamp_min(0.0)
    return (torch.log(n_bins * width) + outside / width).sum(1)


def anomaly_from_terms(error: torch.Tensor, rarity: torch.Tensor, error_knots: torch.Tensor,
                       rarity_knots: torch.Tensor, log_error_tail: float = math.log(ERROR_TAIL)) -> torch.Tensor:
    """``max(0, T_e + log ERROR_TAIL) + T_v`` from the error (B,) and the rarity (B,)."""
    error_term = (tail_level(error, error_knots) + log_error_tail).clamp_min(0.0)
    return error_term + tail_level(rarity, rarity_knots)


def larger_level(error: torch.Tensor, rarity: torch.Tensor, error_knots: torch.Tensor,
                 rarity_knots: torch.Tensor) -> torch.Tensor:
    """``max(T_e, T_v)`` from the error (B,) and the rarity (B,): the ``rarity="max"`` window score."""
    return torch.maximum(tail_level(error, error_knots), tail_level(rarity, rarity_knots))


def combine_terms(error: torch.Tensor, rarity: torch.Tensor, error_knots: torch.Tensor, rarity_knots: torch.Tensor,
                  larger: bool = False) -> torch.Tensor:
    """Window anomaly score from the error (B,) and the rarity (B,): ``rarity="marginal"``'s sum,
    or with ``larger`` ``rarity="max"``'s larger level."""
    if larger:
        return larger_level(error, rarity, error_knots, rarity_knots)
    return anomaly_from_terms(error, rarity, error_knots, rarity_knots)


def combined_anomaly(error: torch.Tensor, values: torch.Tensor, bins: torch.Tensor, error_knots: torch.Tensor,
                     rarity_knots: torch.Tensor, larger: bool = False) -> torch.Tensor:
    """Anomaly score (higher = more anomalous) from the error (B,) and the last rows' values (B, c),
    combined as :func:`combine_terms` does."""
    return combine_terms(error, marginal_rarity(values, bins), error_knots, rarity_knots, larger)
