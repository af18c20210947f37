"""Peaks-Over-Threshold (POT) anomaly thresholds from extreme value theory.

The tail of a score distribution above a high initial threshold ``t`` is modelled by a
generalised Pareto distribution (GPD).  The GPD is fitted by maximum likelihood using
Grimshaw's reduction of the two-parameter likelihood to a one-dimensional equation, and the
fitted tail gives the score ``z_q`` that is exceeded with a small probability ``q``.

Everything here works on anomaly scores where a HIGHER value means MORE anomalous, and only
uses numpy and scipy.  This is an independent implementation written from the published
method (Siffer et al., 2017; Grimshaw, 1993); no code was taken from the GPL-licensed SPOT
implementations.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq, minimize, minimize_scalar

__all__ = [
    "GPDFitWarning",
    "POTThreshold",
    "fit_gpd",
    "pot_threshold",
    "spot_stream_threshold",
]

# Number of L-BFGS-B start points in each of the two search intervals (as in SPOT).
_N_STARTS = 10
# Distance kept from the open ends of the search intervals (in units of the mean peak).
_EPS = 1e-8
# Cap on the heavy-tail search interval (x = gamma / sigma, peaks scaled to unit mean).
_X_MAX = 1e100
# Points of the geometric grid scanned for sign changes of w in each interval.
_N_GRID = 40
# Factor applied to ``level`` after a failed calibration, as in the SBT/TranAD protocol.
_LEVEL_DECAY = 0.999

# (level, multiplier) per dataset; q is 1e-5 for both (spec B.8, step 2).
_PRESETS: dict[str, dict[str, tuple[float, float]]] = {
    # SBT `metrics/pot/constants.py`, row 0 of the lm table.
    "sbt": {"SMD": (0.99995, 1.04), "MSL": (0.97, 1.0), "SMAP": (0.97, 1.0)},
    # TranAD's own model (row 1 of its lm table).
    "tranad": {"SMD": (0.99995, 1.06), "MSL": (0.999, 1.04), "SMAP": (0.98, 1.0)},
}
_PRESET_Q = 1e-5


class GPDFitWarning(RuntimeWarning):
    """Warning raised when a POT tail fit had to fall back or relax its parameters."""


class _DegenerateTailError(ValueError):
    """The peaks do not carry enough information for a GPD fit (fewer than 2 distinct)."""


class _GPDFit(NamedTuple):
    gamma: float
    sigma: float
    loglik: float


class _Calibration(NamedTuple):
    t: float
    peaks: NDArray[np.float64]
    n: int
    level: float
    fit: _GPDFit


# --------------------------------------------------------------------------------------
# GPD maximum likelihood (Grimshaw)
# --------------------------------------------------------------------------------------


def _as_1d_finite(values: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _w(x: float, y: NDArray[np.float64]) -> tuple[float, float]:
    """Grimshaw function ``w(x) = u(x) v(x) - 1`` and its derivative ``dw/dx``.

    With ``s_i = 1 + x y_i``: ``u = mean(1 / s)`` and ``v = 1 + mean(log s)``.  A non-zero
    root ``x*`` gives the GPD maximum likelihood estimate ``gamma = v(x*) - 1`` and
    ``sigma = gamma / x*``.
    """
    xy = x * y
    inv = 1.0 / (1.0 + xy)
    yinv = y * inv
    u = float(inv.mean())
    v = 1.0 + float(np.log1p(xy).mean())
    du = -float((yinv * inv).mean())
    dv = float(yinv.mean())
    return u * v - 1.0, du * v + u * dv


def _profile_loglik(x: float, y: NDArray[np.float64]) -> tuple[float, float, float]:
    """GPD parameters and log-likelihood on the Grimshaw curve, for unit-mean peaks ``y``.

    For fixed ``x = gamma / sigma`` the likelihood is maximised by
    ``gamma = mean(log(1 + x y)) = v(x) - 1``; substituting gives the profile
    ``loglik(x) = -N log(sigma) - N (1 + gamma)``, which is free of the ``1 / gamma``
    cancellation near ``gamma = 0`` and tends to the exponential fit as ``x -> 0``.  Its
    stationary points are exactly the roots of ``w``.
    """
    n = y.size
    if x == 0.0:
        return 0.0, float(y.mean()), -n * (math.log(float(y.mean())) + 1.0)
    gamma = float(np.log1p(x * y).mean())
    sigma = gamma / x
    if not (np.isfinite(sigma) and sigma > 0):
        return gamma, sigma, -np.inf
    return gamma, sigma, -n * math.log(sigma) - n * (1.0 + gamma)


def _grimshaw_candidates(y: NDArray[np.float64]) -> NDArray[np.float64]:
    """Candidate values of ``x = gamma / sigma`` for peaks ``y`` normalised to unit mean.

    Two intervals are searched (Grimshaw, 1993; Siffer et al., 2017):

    * ``(-1/max(y) + eps, -eps)``: light tails (``gamma < 0``), 10 evenly spaced starts;
    * ``(eps, 2 (mean - min) / min**2)``: heavy tails (``gamma > 0``), searched over
      ``log(x)`` from 10 evenly spaced starts.  SPOT's lower end
      ``2 (mean - min) / (mean * min)`` is *not* a lower bound of the root (for a GPD sample
      with ``gamma = 0.2`` and 5000 points it is about 3e4 while the root is about 0.25), so
      the search starts from ``eps`` instead.

    In each interval ``w(x)**2`` is minimised by L-BFGS-B from every start point.  The start
    and end points, together with a geometric grid that approaches 0 (where ``w`` is flat, so
    that roots near ``gamma = 0`` are bracketed), are scanned for sign changes of ``w``, and
    each one is solved to machine precision with Brent's method.  All these points are
    returned: the caller keeps the one with the largest likelihood.
    """
    y_max = float(y.max())
    y_min = float(y.min())
    y_mean = float(y.mean())  # 1 after normalisation

    def w_only(x: float) -> float:
        return _w(x, y)[0]

    points: list[float] = [0.0]

    # -- negative interval, over x --------------------------------------------------------
    width = 1.0 / y_max
    eps = min(_EPS, width / (2 * (_N_STARTS + 1)))
    lo, hi = -width + eps, -eps
    if lo < hi:
        starts = lo + (hi - lo) * np.arange(1, _N_STARTS + 1) / (_N_STARTS + 1)

        ends = _lbfgsb(lambda x: _w(x, y), starts, lo, hi, log_scale=False)
        grid = -width * np.geomspace(1e-7, 1.0, _N_GRID)[:-1]
        points.extend(_with_roots(w_only, [lo, hi, *starts, *ends, *grid[grid < hi]]))

    # -- positive interval, over log(x) ---------------------------------------------------
    # Grimshaw's upper bound; capped so that it stays finite for tiny smallest peaks.
    upper = min(2.0 * (y_mean - y_min) / y_min / y_min, _X_MAX)
    if upper > _EPS:
        log_lo, log_hi = math.log(_EPS), math.log(upper)
        starts = np.linspace(log_lo, log_hi, _N_STARTS + 2)[1:-1]

        ends = _lbfgsb(lambda x: _w(x, y), starts, log_lo, log_hi, log_scale=True)
        grid = np.geomspace(_EPS, upper, _N_GRID)
        points.extend(_with_roots(w_only, [*grid, *np.exp(starts), *ends]))

    return np.unique(np.asarray(points, dtype=np.float64))


def _lbfgsb(
    w_and_dw: Any, starts: NDArray[np.float64], lo: float, hi: float, *, log_scale: bool
) -> NDArray[np.float64]:
    """Local minimisers of ``w(x)**2`` reached by L-BFGS-B from each start point.

    The objective ``sum_k w(x_k)**2`` is separable, so one bounded L-BFGS-B run over the
    vector of start points is the same problem as one run per start point, with far fewer
    optimiser iterations (each of which has a fixed cost in scipy's implementation).  With
    ``log_scale`` the variables are ``log(x)`` and the bounds apply to ``log(x)``.  The
    tolerances are loose on purpose: the roots are polished afterwards.
    """

    def objective(z: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        x = np.exp(z) if log_scale else z
        w = np.empty(z.size)
        dw = np.empty(z.size)
        for k in range(z.size):  # one pass over the peaks per point keeps memory at O(N)
            w[k], dw[k] = w_and_dw(float(x[k]))
        grad = 2.0 * w * dw * (x if log_scale else 1.0)
        return float(w @ w), grad

    res = minimize(
        objective, starts, jac=True, method="L-BFGS-B", bounds=[(lo, hi)] * starts.size,
        options={"ftol": 0.0, "gtol": 1e-8, "maxiter": 50},
    )
    return np.exp(res.x) if log_scale else np.asarray(res.x, dtype=np.float64)


def _with_roots(fun: Any, points: list[float]) -> list[float]:
    """The points plus a Brent root of ``fun`` in every sign change between neighbours."""
    xs = np.unique(np.asarray(points, dtype=np.float64))
    vals = np.array([fun(float(x)) for x in xs])
    out = [float(x) for x in xs]
    for a, b, fa, fb in zip(xs[:-1], xs[1:], vals[:-1], vals[1:]):
        if np.isfinite(fa) and np.isfinite(fb) and fa * fb < 0:
            out.append(float(brentq(fun, float(a), float(b), xtol=1e-15, rtol=1e-14)))
    return out


def _fit_gpd_checked(peaks: NDArray[np.float64]) -> _GPDFit:
    """Grimshaw MLE; raises ``_DegenerateTailError`` for fewer than 2 distinct peaks."""
    n = peaks.size
    if n == 0:
        raise _DegenerateTailError("no peaks to fit: the GPD needs at least two distinct peaks.")
    if np.any(peaks <= 0):
        raise ValueError("peaks must be strictly positive excesses over a threshold.")
    if peaks.max() == peaks.min():
        raise _DegenerateTailError(
            f"all {n} peak(s) are equal: the GPD likelihood has no finite maximum."
        )
    peaks = np.sort(peaks)  # the result must not depend on the order of the peaks
    scale = float(peaks.mean())
    y = peaks / scale  # unit mean: the search intervals and tolerances become scale-free

    # x = 0 (the exponential fit gamma = 0, sigma = mean) is always among the candidates.
    xs = _grimshaw_candidates(y)
    fits = [_profile_loglik(float(x), y) for x in xs]
    lls = np.array([f[2] for f in fits])
    k = int(np.argmax(lls))
    best = _GPDFit(*fits[k])
    # Final polish: maximise the profile likelihood between the best candidate's neighbours,
    # so the result does not depend on how precisely w could be solved where it is flat.
    lo, hi = float(xs[max(k - 1, 0)]), float(xs[min(k + 1, xs.size - 1)])
    if lo < hi:
        res = minimize_scalar(
            lambda x: -_profile_loglik(x, y)[2], bounds=(lo, hi), method="bounded",
            options={"xatol": 1e-12},
        )
        refined = _GPDFit(*_profile_loglik(float(res.x), y))
        if refined.loglik > best.loglik:
            best = refined
    return _GPDFit(best.gamma, best.sigma * scale, best.loglik - n * math.log(scale))


def fit_gpd(peaks: ArrayLike) -> tuple[float, float, float]:
    """Fit a generalised Pareto distribution to threshold excesses by maximum likelihood.

    The GPD with shape ``gamma`` and scale ``sigma`` (location 0) has survival function
    ``(1 + gamma * y / sigma) ** (-1 / gamma)`` (``exp(-y / sigma)`` for ``gamma = 0``).
    Grimshaw (1993) showed that, writing ``x = gamma / sigma``, the likelihood equations reduce
    to the single equation ``u(x) v(x) = 1`` with ``u(x) = mean(1 / (1 + x Y))`` and
    ``v(x) = 1 + mean(log(1 + x Y))``; each root gives ``gamma = v(x) - 1``,
    ``sigma = gamma / x``.  Roots are searched with L-BFGS-B on ``w(x)**2`` from several start
    points in the two admissible intervals and polished with Brent's method; the candidate
    (including the exponential fit ``gamma = 0``) with the largest log-likelihood is kept and
    refined by a bounded one-dimensional maximisation of the profile likelihood between its
    neighbouring candidates.

    Parameters
    ----------
    peaks : array-like of shape (n_peaks,)
        Strictly positive excesses ``Y = X - t`` over a threshold ``t``.

    Returns
    -------
    gamma : float
        Shape (tail index).  Negative for a bounded tail, 0 for an exponential tail, positive
        for a heavy tail.  Same sign convention as ``c`` in :data:`scipy.stats.genpareto`.
    sigma : float
        Scale, strictly positive.
    loglik : float
        Log-likelihood of ``peaks`` under the fitted GPD.

    Raises
    ------
    ValueError
        If ``peaks`` is empty, not one-dimensional, not finite or not strictly positive.

    Warns
    -----
    GPDFitWarning
        If all peaks are equal (this includes a single peak).  The likelihood is then
        unbounded as ``gamma -> -inf``, so the exponential fit ``gamma = 0``,
        ``sigma = mean(peaks)`` is returned instead.

    See Also
    --------
    pot_threshold : Threshold from a GPD tail fit on reference scores.

    Notes
    -----
    The peaks are divided by their mean before the search, so the search intervals and
    tolerances do not depend on the units of the scores.  The heavy-tail interval is
    ``(eps, 2 (mean - min) / min**2)`` searched on a log scale; SPOT's lower end
    ``2 (mean - min) / (mean * min)`` can exclude the root and is not used.

    For shapes ``gamma < -1`` the GPD likelihood is unbounded near ``sigma / |gamma| = max(Y)``;
    as in SPOT the search stays ``eps`` away from that end, so such fits are not meaningful.

    References
    ----------
    .. [1] S. D. Grimshaw, "Computing maximum likelihood estimates for the generalized Pareto
       distribution", Technometrics 35(2), 185-191, 1993.
    .. [2] A. Siffer, P.-A. Fouque, A. Termier and C. Largouët, "Anomaly detection in streams
       with extreme value theory", KDD 2017, 1067-1075.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import genpareto
    >>> from sbt_sklearn.anomaly import fit_gpd
    >>> peaks = genpareto.rvs(0.2, scale=2.0, size=5000, random_state=0)
    >>> gamma, sigma, loglik = fit_gpd(peaks)
    >>> bool(abs(gamma - 0.2) < 0.05 and abs(sigma - 2.0) < 0.1)
    True
    """
    y = _as_1d_finite(peaks, "peaks")
    if y.size == 0:
        raise ValueError("peaks is empty: at least one excess is needed to fit a GPD.")
    try:
        fit = _fit_gpd_checked(y)
    except _DegenerateTailError as exc:
        warnings.warn(
            f"{exc} Falling back to the exponential fit gamma=0, sigma=mean(peaks).",
            GPDFitWarning,
            stacklevel=2,
        )
        sigma = float(y.mean())
        return 0.0, sigma, -y.size * (math.log(sigma) + 1.0)
    return fit.gamma, fit.sigma, fit.loglik


# --------------------------------------------------------------------------------------
# Calibration and threshold
# --------------------------------------------------------------------------------------


def _tail_quantile(t: float, gamma: float, sigma: float, q: float, n: int, n_peaks: int) -> float:
    """``z_q = t + sigma / gamma * ((q n / N_t) ** -gamma - 1)`` (``t - sigma log(q n / N_t)``)."""
    log_r = math.log(q * n / n_peaks)
    if gamma == 0.0:
        return t - sigma * log_r
    # expm1 keeps the formula accurate when gamma is close to 0.
    return t + sigma * math.expm1(-gamma * log_r) / gamma


def _check_params(q: float, level: float, multiplier: float) -> None:
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}.")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    if not (np.isfinite(multiplier) and multiplier > 0):
        raise ValueError(f"multiplier must be a positive finite number, got {multiplier!r}.")


def _calibrate(
    reference_scores: ArrayLike, level: float, max_retries: int
) -> _Calibration:
    """Initial threshold, peaks and GPD fit; relax ``level`` by 0.999 until the fit works."""
    ref = _as_1d_finite(reference_scores, "reference_scores")
    n = ref.size
    if n < 2:
        raise ValueError(f"reference_scores needs at least 2 values, got {n}.")
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries!r}.")
    ordered = np.sort(ref)
    current = float(level)
    last_error: Exception | None = None
    tried_index = -1
    for attempt in range(max_retries + 1):
        # t = sort(ref)[floor(level * n)], the empirical quantile used by SPOT.
        idx = min(int(current * n), n - 1)
        if idx != tried_index:  # a new index gives a new t; otherwise the result is known
            tried_index = idx
            t = float(ordered[idx])
            first_above = int(np.searchsorted(ordered, t, side="right"))
            peaks = ordered[first_above:] - t
            try:
                fit = _fit_gpd_checked(peaks)
            except _DegenerateTailError as exc:
                last_error = exc
            else:
                if attempt > 0:
                    warnings.warn(
                        f"POT calibration failed at level={level!r}; succeeded after "
                        f"{attempt} relaxation(s) at level={current!r}.",
                        GPDFitWarning,
                        stacklevel=3,
                    )
                return _Calibration(t, peaks, n, current, fit)
        current *= _LEVEL_DECAY
    raise ValueError(
        f"POT calibration failed: no level between {level!r} and {current / _LEVEL_DECAY!r} "
        f"({max_retries} relaxation(s) by {_LEVEL_DECAY}) leaves at least two distinct "
        f"reference scores above the initial threshold (last error: {last_error})."
    )


def _spot_walk(
    cal: _Calibration, stream: NDArray[np.float64], q: float
) -> tuple[NDArray[np.float64], float]:
    """SPOT (Siffer et al., 2017, Algorithm 1) with refits.

    Returns the threshold in force when each stream score arrived and the threshold after
    the last one.
    """
    t = cal.t
    peaks = list(cal.peaks)
    n = cal.n
    z = _tail_quantile(t, cal.fit.gamma, cal.fit.sigma, q, n, len(peaks))
    out = np.empty(stream.size)
    for i, x in enumerate(stream):
        out[i] = z
        if x > z:
            continue  # alarm: neither counted nor added to the tail model
        n += 1
        if x > t:
            peaks.append(x - t)
            try:
                fit = _fit_gpd_checked(np.asarray(peaks))
            except _DegenerateTailError:
                continue
            z = _tail_quantile(t, fit.gamma, fit.sigma, q, n, len(peaks))
    return out, z


def pot_threshold(
    reference_scores: ArrayLike,
    q: float = 1e-5,
    level: float = 0.98,
    *,
    stream_scores: ArrayLike | None = None,
    dynamic: bool = False,
    multiplier: float = 1.0,
    max_retries: int = 1000,
) -> float | NDArray[np.float64]:
    """Anomaly threshold from a Peaks-Over-Threshold fit on reference scores.

    Calibration (Siffer et al., 2017): the initial threshold is the empirical quantile
    ``t = sort(reference_scores)[floor(level * n)]``; the peaks ``Y = s - t`` of the ``N_t``
    scores ``s > t`` are fitted with a generalised Pareto distribution (:func:`fit_gpd`); the
    threshold is the score exceeded with probability ``q``::

        z_q = t + sigma / gamma * ((q * n / N_t) ** (-gamma) - 1)     (gamma != 0)
        z_q = t - sigma * log(q * n / N_t)                             (gamma == 0)

    If calibration fails (no two distinct scores above ``t``), ``level`` is multiplied by
    0.999 and calibration is retried, at most ``max_retries`` times.

    Parameters
    ----------
    reference_scores : array-like of shape (n_samples,)
        Anomaly scores (higher = more anomalous) of data assumed to be mostly normal, e.g. the
        validation scores.  Must be finite.
    q : float, default=1e-5
        Risk: the probability, under the fitted tail, that a normal score exceeds the
        threshold.  Should be smaller than ``1 - level`` (otherwise ``z_q <= t``).
    level : float, default=0.98
        Probability level of the initial threshold ``t``, in (0, 1).
    stream_scores : array-like of shape (n_stream,), default=None
        Optional later scores to walk through in time order.  When given, the per-step
        thresholds are returned instead of a single float.
    dynamic : bool, default=False
        Only used with ``stream_scores``.  If True, run SPOT (Siffer et al., Algorithm 1): a
        stream score above the current threshold is an alarm and is ignored; a score between
        ``t`` and the threshold is added to the peaks and the GPD is refitted (one fit per
        such score, so this can be slow for long streams).  If False, the calibrated
        threshold is kept for the whole stream, so nothing is learned from it.
    multiplier : float, default=1.0
        Factor applied to the returned threshold(s) (the SBT/TranAD protocol's ``lm[1]``).
    max_retries : int, default=1000
        Maximum number of ``level *= 0.999`` relaxations after a failed calibration.

    Returns
    -------
    threshold : float or ndarray of shape (n_stream,)
        ``z_q * multiplier`` if ``stream_scores`` is None, otherwise the threshold in force
        when each stream score arrived (times ``multiplier``).  Predict an anomaly where
        ``score > threshold``.

    Raises
    ------
    ValueError
        On invalid parameters, non-finite scores, or if calibration still fails after
        ``max_retries`` relaxations (e.g. constant reference scores).

    Warns
    -----
    GPDFitWarning
        If ``level`` had to be relaxed.

    See Also
    --------
    POTThreshold : The same calibration as an object with fitted attributes.
    spot_stream_threshold : The SBT/TranAD evaluation protocol, for reproduction only.

    Notes
    -----
    The definition of ``t`` and of the peaks follows SPOT's calibration step; the GPD fit
    itself differs from the SPOT code as explained in :func:`fit_gpd`.

    Scores must grow with abnormality.  For a scikit-learn style ``score_samples`` (higher =
    more normal), pass ``-score_samples(X)`` and use ``offset_ = -threshold``.

    References
    ----------
    .. [1] A. Siffer, P.-A. Fouque, A. Termier and C. Largouët, "Anomaly detection in streams
       with extreme value theory", KDD 2017, 1067-1075.
    .. [2] S. D. Grimshaw, "Computing maximum likelihood estimates for the generalized Pareto
       distribution", Technometrics 35(2), 185-191, 1993.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.anomaly import pot_threshold
    >>> rng = np.random.default_rng(0)
    >>> scores = rng.exponential(size=100_000)
    >>> tau = pot_threshold(scores, q=1e-3, level=0.98)
    >>> bool(abs(tau - np.log(1e3)) < 0.3)  # the exact 1 - 1e-3 quantile is log(1000)
    True
    """
    _check_params(q, level, multiplier)
    cal = _calibrate(reference_scores, level, max_retries)
    z = _tail_quantile(cal.t, cal.fit.gamma, cal.fit.sigma, q, cal.n, cal.peaks.size)
    if stream_scores is None:
        return z * multiplier
    stream = _as_1d_finite(stream_scores, "stream_scores")
    if not dynamic:
        return np.full(stream.size, z * multiplier)
    return _spot_walk(cal, stream, q)[0] * multiplier


def spot_stream_threshold(
    init_scores: ArrayLike,
    stream_scores: ArrayLike,
    q: float = 1e-5,
    level: float = 0.98,
    multiplier: float = 1.0,
    *,
    max_retries: int = 1000,
    return_thresholds: bool = False,
) -> float | tuple[float, NDArray[np.float64]]:
    """Threshold of the SBT / TranAD evaluation protocol (for reproducing published numbers).

    Reproduces the non-dynamic SPOT run used by the SBT paper's evaluation code (inherited
    from TranAD): after calibration on ``init_scores`` (giving ``t`` and ``z_q`` as in
    :func:`pot_threshold`), the stream is walked in order and one threshold is recorded per
    stream score:

    * ``z_q`` for every score before the first one that exceeds ``t``;
    * ``t`` for that first exceeding score and for every later one (the stored quantile is
      overwritten by ``t`` and never updated again).

    The final threshold is ``mean(recorded) * multiplier``.

    .. warning::
       Use this only to reproduce published results.  The threshold depends on the test
       scores it is then applied to (where and whether they first exceed ``t``), which leaks
       test information; in the paper's protocol ``init_scores`` also contains test data.
       For new work use :func:`pot_threshold` or :class:`POTThreshold` on held-out scores.

    Parameters
    ----------
    init_scores : array-like of shape (n_init,)
        Calibration scores (SBT: validation and train scores concatenated).
    stream_scores : array-like of shape (n_stream,)
        Scores walked in time order (SBT: the test scores).  Must not be empty.
    q : float, default=1e-5
        Risk of the tail quantile ``z_q``.
    level : float, default=0.98
        Level of the initial threshold ``t``; relaxed by 0.999 on calibration failure.
    multiplier : float, default=1.0
        Factor applied to the mean of the recorded thresholds.
    max_retries : int, default=1000
        Maximum number of level relaxations.
    return_thresholds : bool, default=False
        If True, also return the recorded per-step thresholds (before ``multiplier``).

    Returns
    -------
    threshold : float
        ``mean(recorded) * multiplier``.
    recorded : ndarray of shape (n_stream,)
        Only if ``return_thresholds`` is True.

    See Also
    --------
    pot_threshold : Leak-free threshold from reference scores only.

    Notes
    -----
    Differences from the original code that can change the numbers: the GPD fit here is a
    correct maximum-likelihood fit (see :func:`fit_gpd`), whereas the SPOT code searches a
    heavy-tail interval that can miss the root and scores the exponential candidate with a
    log-likelihood of the wrong sign; and a calibration is also retried when the peaks are
    all equal, not only when the fit raises.

    References
    ----------
    .. [1] A. Siffer, P.-A. Fouque, A. Termier and C. Largouët, "Anomaly detection in streams
       with extreme value theory", KDD 2017, 1067-1075.
    .. [2] S. Tuli, G. Casale and N. R. Jennings, "TranAD: Deep transformer networks for
       anomaly detection in multivariate time series data", VLDB 2022.
    .. [3] M. Gorbett, H. Shirazi and I. Ray, "Sparse Binary Transformers for multivariate
       time series modeling", KDD 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.anomaly import pot_threshold, spot_stream_threshold
    >>> init = np.random.default_rng(0).exponential(size=10_000)
    >>> z = pot_threshold(init, q=1e-3, level=0.9)  # t = sort(init)[9000]
    >>> t = np.sort(init)[9000]
    >>> stream = np.array([0.1, 0.2, t + 1.0, 0.3])  # first exceedance of t at index 2
    >>> tau = spot_stream_threshold(init, stream, q=1e-3, level=0.9)
    >>> bool(np.isclose(tau, (2 * z + 2 * t) / 4))
    True
    """
    _check_params(q, level, multiplier)
    stream = _as_1d_finite(stream_scores, "stream_scores")
    if stream.size == 0:
        raise ValueError(
            "stream_scores is empty: the mean of the recorded thresholds is undefined."
        )
    cal = _calibrate(init_scores, level, max_retries)
    z = _tail_quantile(cal.t, cal.fit.gamma, cal.fit.sigma, q, cal.n, cal.peaks.size)
    above = np.flatnonzero(stream > cal.t)
    first = int(above[0]) if above.size else stream.size
    recorded = np.full(stream.size, cal.t)
    recorded[:first] = z
    tau = float(recorded.mean()) * multiplier
    if return_thresholds:
        return tau, recorded
    return tau


# --------------------------------------------------------------------------------------
# Object interface
# --------------------------------------------------------------------------------------


class POTThreshold:
    """Peaks-Over-Threshold anomaly threshold with fitted attributes.

    Calibrates an initial threshold ``t`` at probability ``level`` on reference anomaly scores
    (higher = more anomalous), fits a generalised Pareto distribution to the excesses over
    ``t`` and sets ``threshold_`` to the score exceeded with probability ``q`` under the
    fitted tail, times ``multiplier``.  See :func:`pot_threshold` for the formulas.

    Parameters
    ----------
    q : float, default=1e-5
        Risk: probability that a normal score exceeds the threshold.
    level : float, default=0.98
        Probability level of the initial threshold ``t``.
    multiplier : float, default=1.0
        Factor applied to the threshold.
    dynamic : bool, default=False
        If True and ``stream_scores`` is passed to :meth:`fit`, the tail model is updated
        with the stream as in SPOT (see :func:`pot_threshold`).
    max_retries : int, default=1000
        Maximum number of ``level *= 0.999`` relaxations after a failed calibration.

    Attributes
    ----------
    threshold_ : float
        Anomaly threshold (times ``multiplier``); predict an anomaly where
        ``score > threshold_``.  After a dynamic stream walk, the threshold in force after
        the last stream score.
    gamma_ : float
        Fitted GPD shape (of the calibration fit).
    sigma_ : float
        Fitted GPD scale (of the calibration fit).
    t_ : float
        Initial threshold.
    n_peaks_ : int
        Number of reference scores above ``t_``.
    n_reference_ : int
        Number of reference scores.
    level_ : float
        Level actually used (smaller than ``level`` if calibration had to be relaxed).
    thresholds_ : ndarray of shape (n_stream,)
        Threshold in force at each stream score; only set when ``stream_scores`` is given.

    See Also
    --------
    pot_threshold : Functional interface.
    spot_stream_threshold : The SBT / TranAD evaluation protocol.

    References
    ----------
    .. [1] A. Siffer, P.-A. Fouque, A. Termier and C. Largouët, "Anomaly detection in streams
       with extreme value theory", KDD 2017, 1067-1075.
    .. [2] S. D. Grimshaw, "Computing maximum likelihood estimates for the generalized Pareto
       distribution", Technometrics 35(2), 185-191, 1993.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.anomaly import POTThreshold
    >>> scores = np.random.default_rng(0).exponential(size=50_000)
    >>> pot = POTThreshold(q=1e-3, level=0.98).fit(scores)
    >>> bool(pot.t_ < pot.threshold_)
    True
    >>> pot.n_peaks_  # scores above t = sort(scores)[49000]
    999
    >>> POTThreshold.from_preset("sbt", dataset="SMD")
    POTThreshold(q=1e-05, level=0.99995, multiplier=1.04, dynamic=False, max_retries=1000)
    """

    def __init__(
        self,
        q: float = 1e-5,
        level: float = 0.98,
        multiplier: float = 1.0,
        *,
        dynamic: bool = False,
        max_retries: int = 1000,
    ) -> None:
        self.q = q
        self.level = level
        self.multiplier = multiplier
        self.dynamic = dynamic
        self.max_retries = max_retries

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(q={self.q!r}, level={self.level!r}, "
            f"multiplier={self.multiplier!r}, dynamic={self.dynamic!r}, "
            f"max_retries={self.max_retries!r})"
        )

    @classmethod
    def from_preset(cls, name: str, dataset: str, **overrides: Any) -> POTThreshold:
        """Build a threshold with the published per-dataset POT parameters.

        Parameters
        ----------
        name : {"sbt", "tranad"}
            ``"sbt"``: the values in the SBT evaluation code, SMD (0.99995, 1.04),
            MSL (0.97, 1.0), SMAP (0.97, 1.0).  ``"tranad"``: the values TranAD uses for its
            own model, SMD (0.99995, 1.06), MSL (0.999, 1.04), SMAP (0.98, 1.0).  Pairs are
            ``(level, multiplier)``; ``q = 1e-5`` in both.
        dataset : {"SMD", "MSL", "SMAP"}
            Dataset name (case-insensitive).
        **overrides
            Other constructor arguments, e.g. ``dynamic=True``; they take precedence.

        Returns
        -------
        POTThreshold
            Unfitted instance.

        Examples
        --------
        >>> from sbt_sklearn.anomaly import POTThreshold
        >>> POTThreshold.from_preset("tranad", dataset="msl").multiplier
        1.04
        """
        key = name.lower()
        if key not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(_PRESETS)}.")
        table = _PRESETS[key]
        ds = dataset.upper()
        if ds not in table:
            raise ValueError(
                f"preset {name!r} has no parameters for dataset {dataset!r}; "
                f"choose from {sorted(table)}."
            )
        level, multiplier = table[ds]
        params: dict[str, Any] = {"q": _PRESET_Q, "level": level, "multiplier": multiplier}
        params.update(overrides)
        return cls(**params)

    def fit(
        self, reference_scores: ArrayLike, stream_scores: ArrayLike | None = None
    ) -> POTThreshold:
        """Calibrate the threshold on reference scores (and optionally walk a stream).

        Parameters
        ----------
        reference_scores : array-like of shape (n_samples,)
            Anomaly scores (higher = more anomalous) of mostly normal data.
        stream_scores : array-like of shape (n_stream,), default=None
            Optional later scores; with ``dynamic=True`` the tail model is updated with them.

        Returns
        -------
        self : POTThreshold
            Fitted instance.
        """
        _check_params(self.q, self.level, self.multiplier)
        cal = _calibrate(reference_scores, self.level, self.max_retries)
        z = _tail_quantile(cal.t, cal.fit.gamma, cal.fit.sigma, self.q, cal.n, cal.peaks.size)
        self.t_ = cal.t
        self.gamma_ = cal.fit.gamma
        self.sigma_ = cal.fit.sigma
        self.n_peaks_ = int(cal.peaks.size)
        self.n_reference_ = cal.n
        self.level_ = cal.level
        self.threshold_ = z * self.multiplier
        if hasattr(self, "thresholds_"):
            del self.thresholds_  # from an earlier fit with a stream
        if stream_scores is not None:
            stream = _as_1d_finite(stream_scores, "stream_scores")
            if self.dynamic:
                walked, z_end = _spot_walk(cal, stream, self.q)
                self.thresholds_ = walked * self.multiplier
                self.threshold_ = z_end * self.multiplier
            else:
                self.thresholds_ = np.full(stream.size, self.threshold_)
        return self

    def predict(self, scores: ArrayLike) -> NDArray[np.int64]:
        """Label scores above ``threshold_`` as anomalies.

        Parameters
        ----------
        scores : array-like of shape (n_samples,)
            Anomaly scores (higher = more anomalous).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            1 where ``score > threshold_``, else 0.
        """
        if not hasattr(self, "threshold_"):
            raise AttributeError("This POTThreshold is not fitted yet; call fit first.")
        return (np.asarray(scores, dtype=np.float64) > self.threshold_).astype(np.int64)
