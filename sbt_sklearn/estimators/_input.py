"""Input handling shared by the estimators: panels and sktime containers to (n, C, T) arrays,
validation that never copies a float window array, and per-channel statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

__all__ = ["check_windows", "channel_stats", "panel_to_array"]

_FLOATS = (np.float32, np.float64)
_CHUNK_BYTES = 64 * 2**20


def _is_nested(df: pd.DataFrame) -> bool:
    return df.shape[0] > 0 and df.shape[1] > 0 and isinstance(df.iat[0, 0], (pd.Series, np.ndarray))


def _series_list_from_container(X):
    """Return a list of (C, T_i) float arrays for panel containers, or None for plain arrays."""
    if isinstance(X, pd.DataFrame):
        if isinstance(X.index, pd.MultiIndex):  # sktime pd-multiindex: (instance, time) x variables
            return [g.to_numpy(dtype=np.float64).T for _, g in X.groupby(level=0, sort=False)]
        if _is_nested(X):  # sktime nested_univ: one cell per (instance, variable)
            return [np.stack([np.asarray(c, dtype=np.float64) for c in row]) for row in X.itertuples(index=False)]
        return None  # a plain table: rows are univariate series (n, T)
    if isinstance(X, (list, tuple)) and len(X) and all(
        isinstance(s, (np.ndarray, pd.DataFrame, pd.Series)) or (isinstance(s, (list, tuple)) and len(s) and
                                                                  isinstance(s[0], (list, tuple, np.ndarray)))
        for s in X
    ):
        out = []
        for s in X:
            if isinstance(s, pd.DataFrame):  # sktime df-list: rows are time, columns variables
                arr = s.to_numpy(dtype=np.float64).T
            else:
                arr = np.asarray(s.to_numpy() if isinstance(s, pd.Series) else s)
                arr = arr[None, :] if arr.ndim == 1 else arr
            if arr.ndim != 2:
                raise ValueError(f"each series must be 1-D or 2-D (channels, timesteps); got shape {arr.shape}")
            out.append(arr)
        return out
    if not isinstance(X, (np.ndarray, pd.DataFrame, pd.Series, list, tuple)) and hasattr(X, "__array__") is False:
        try:  # other sktime Panel mtypes (dask, polars, xarray, ...) through sktime's converters
            from sktime.datatypes import convert_to

            return _series_list_from_container(convert_to(X, to_type="df-list", as_scitype="Panel"))
        except Exception:  # noqa: BLE001 - fall through to sklearn's own error message
            return None
    return None


def panel_to_array(X):
    """Convert panel containers to ``(array, padding_mask)``; arrays pass through untouched.

    Unequal-length panels are right-padded with zeros and the mask is True at padded steps.
    Plain numpy arrays and tables are returned as they are, with ``padding_mask=None``.
    """
    series = _series_list_from_container(X)
    if series is None:
        return X, None
    n_channels = {s.shape[0] for s in series}
    if len(n_channels) > 1:
        raise ValueError(f"all series must have the same number of channels; got {sorted(n_channels)}")
    lengths = np.array([s.shape[1] for s in series])
    for s in series:
        if s.dtype.kind not in "biuf":
            try:
                s.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"series must hold numeric data; could not convert {s.dtype} values: {exc}") from exc
    t_max = int(lengths.max())
    out = np.zeros((len(series), n_channels.pop(), t_max), dtype=np.float32)
    for i, s in enumerate(series):
        out[i, :, : s.shape[1]] = s
    if (lengths == t_max).all():
        return out, None
    return out, np.arange(t_max)[None, :] >= lengths[:, None]


def covered_rows(X: np.ndarray):
    """A (rows, C) view of the memory that a sliding-window view (n, C, T) reads, else None.

    For windows taken with a constant stride along one time axis, the rows of the underlying
    series that the windows cover are contiguous in steps of the time stride.
    """
    if X.ndim != 3 or X.shape[0] == 0 or X.base is None:
        return None
    s0, s1, s2 = X.strides
    if s2 <= 0 or s0 <= 0 or s0 % s2:
        return None
    step = s0 // s2
    if step > X.shape[2]:
        return None
    rows = (X.shape[0] - 1) * step + X.shape[2]
    return np.lib.stride_tricks.as_strided(X, shape=(rows, X.shape[1]), strides=(s2, s1), writeable=False)


def _chunks(X: np.ndarray):
    per = max(1, _CHUNK_BYTES // max(1, X[:1].nbytes))
    for start in range(0, X.shape[0], per):
        yield X[start : start + per]


def all_finite(X: np.ndarray) -> bool:
    rows = covered_rows(X)
    if rows is not None:
        return bool(np.isfinite(rows).all())
    return all(bool(np.isfinite(c).all()) for c in _chunks(X))


def check_windows(estimator, X, *, reset: bool, allow_nan: bool = False, min_length: int = 1):
    """Validate windows and return ``(X, padding_mask)`` with X of shape (n, C, T).

    Float32/float64 numpy arrays (including read-only strided views from
    :func:`sbt_sklearn.sliding_windows`) are never copied: sklearn's checks run on the first
    window, finiteness is checked on the rows the windows cover. Other inputs (lists, pandas,
    sktime panels, integer arrays) are converted once.
    """
    X, padding_mask = panel_to_array(X)
    if isinstance(X, np.ndarray) and X.dtype.type in _FLOATS and X.ndim in (2, 3):
        validate_data(estimator, X[:1], reset=reset, allow_nd=True, dtype=None,
                      ensure_all_finite=not allow_nan, ensure_min_samples=1)
        if X.shape[0] == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        if not allow_nan and not all_finite(X):
            raise ValueError("Input X contains NaN or infinity; clean it or pass missing='interpolate'.")
    else:
        X = validate_data(estimator, X, reset=reset, allow_nd=True, dtype=np.float32,
                          ensure_all_finite="allow-nan" if allow_nan else True)
    if X.ndim == 2:
        X = X[:, None, :]  # (n, T) univariate windows
    if X.ndim != 3:
        raise ValueError(
            f"X must be 2-D (n_samples, n_timesteps) or 3-D (n_samples, n_channels, n_timesteps); "
            f"got a {X.ndim}-D array of shape {X.shape}"
        )
    if X.shape[2] < min_length:
        raise ValueError(
            f"series of {X.shape[2]} step(s) are too short: {type(estimator).__name__} needs at least "
            f"{min_length} timesteps (1 feature(s) of a 2-D X are one timestep)"
        )
    if X.shape[1] < 1:
        raise ValueError("X has no channels")
    return X, padding_mask


def channel_stats(X: np.ndarray, padding_mask=None):
    """Per-channel mean and standard deviation over every (valid) timestep of every window."""
    rows = covered_rows(X) if padding_mask is None else None
    if rows is not None:
        mean, std = np.nanmean(rows, axis=0, dtype=np.float64), np.nanstd(rows, axis=0, dtype=np.float64)
    else:
        c = X.shape[1]
        total, sq, count = np.zeros(c), np.zeros(c), np.zeros(c)
        start = 0
        for chunk in _chunks(X):
            vals = np.asarray(chunk, dtype=np.float64)
            valid = np.isfinite(vals)
            if padding_mask is not None:
                valid &= ~padding_mask[start : start + len(chunk), None, :]
            vals = np.where(valid, vals, 0.0)
            total += vals.sum(axis=(0, 2))
            sq += (vals**2).sum(axis=(0, 2))
            count += valid.sum(axis=(0, 2))
            start += len(chunk)
        count = np.maximum(count, 1)
        mean = total / count
        std = np.sqrt(np.maximum(sq / count - mean**2, 0.0))
    mean = np.nan_to_num(mean)
    std = np.where(~np.isfinite(std) | (std < 1e-8 * np.maximum(1.0, np.abs(mean))), 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def two_valued_channels(X: np.ndarray) -> np.ndarray:
    """Boolean per channel: at most two distinct finite values over every step of every window."""
    rows = covered_rows(X)
    chunks = [rows[:, :, None]] if rows is not None else _chunks(X)  # (n, C, T) either way
    seen = [set() for _ in range(X.shape[1])]
    for chunk in chunks:
        for c, values in enumerate(seen):
            if len(values) <= 2:
                col = np.asarray(chunk[:, c], dtype=np.float64).ravel()
                values.update(np.unique(col[np.isfinite(col)])[:3].tolist())
        if all(len(values) > 2 for values in seen):
            break
    return np.array([len(values) <= 2 for values in seen])


def interpolate_missing(X: np.ndarray, padding_mask=None) -> np.ndarray:
    """Linearly interpolate NaNs along time in each series and channel (nearest value at the edges).

    Channels with no finite value are set to 0. Returns a new float32 array.
    """
    X = np.array(X, dtype=np.float32, copy=True)
    bad = ~np.isfinite(X)
    if padding_mask is not None:
        bad &= ~padding_mask[:, None, :]
    for i, c in zip(*np.nonzero(bad.any(axis=2))):
        length = X.shape[2] if padding_mask is None else int((~padding_mask[i]).sum())
        row = X[i, c, :length]
        ok = np.isfinite(row)
        t = np.arange(length)
        row[:] = np.interp(t, t[ok], row[ok]) if ok.any() else 0.0
    return X
