"""Input handling shared by the estimators: panels and sktime containers to (n, C, T) arrays,
validation that never copies a float window array, and per-channel statistics.

Nothing is lost silently: complex values, values beyond the float32 range the network computes
in, and panel rows that grouping would drop, merge or reorder raise ValueError.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.utils.validation import validate_data

__all__ = ["as_real_array", "check_values", "check_windows", "channel_stats", "panel_to_array"]

_FLOATS = (np.float32, np.float64)
_CHUNK_BYTES = 64 * 2**20
#: the largest finite float32: the network computes in float32
_F32_MAX = float(np.finfo(np.float32).max)
_ComplexWarning = getattr(np, "exceptions", np).ComplexWarning  # numpy < 1.25: np.ComplexWarning


def _is_nested(df: pd.DataFrame) -> bool:
    return df.shape[0] > 0 and df.shape[1] > 0 and isinstance(df.iat[0, 0], (pd.Series, np.ndarray))


def _complex_error(name: str, dtype) -> ValueError:
    return ValueError(f"Complex data not supported: {name} must be real-valued, got {dtype} values "
                      "(the imaginary part would be discarded)")


def _range_error(name: str, largest: float) -> ValueError:
    return ValueError(
        f"{name} holds values beyond the float32 range (largest magnitude {largest:.6g} > "
        f"{_F32_MAX:.6g}): the network computes in float32, where they would become infinity and "
        f"every output NaN. Rescale {name} first."
    )


def as_real_array(values, *, name: str = "X") -> np.ndarray:
    """``values`` (array, list, DataFrame or Series) as a real numpy array, copying only if needed.

    Float arrays pass through; integer, boolean and numeric object data become float64. Complex
    data and values that are not numbers raise ValueError, where numpy would warn and keep the
    real part, or fail with its own message.
    """
    if isinstance(values, pd.DataFrame):
        complex_cols = [c for c, dt in values.dtypes.items() if pd.api.types.is_complex_dtype(dt)]
        if complex_cols:
            raise _complex_error(f"{name} (columns {complex_cols[:5]!r})", "complex")
        arr = values.to_numpy()
        if arr.dtype.kind != "f":  # mixed, integer, nullable or object columns: one conversion
            try:
                arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} must hold numeric data; could not convert its values: {exc}") from exc
        return arr
    if isinstance(values, pd.Series):
        if pd.api.types.is_complex_dtype(values.dtype):
            raise _complex_error(name, values.dtype)
        arr = values.to_numpy()
        if arr.dtype.kind != "f":
            try:
                arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} must hold numeric data; could not convert its values: {exc}") from exc
        return arr
    try:
        arr = np.asarray(values)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(f"{name} is not a rectangular array: {exc}") from exc
    if arr.dtype.kind == "c":
        raise _complex_error(name, arr.dtype)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", _ComplexWarning)
                return arr.astype(np.float64)
        except (TypeError, ValueError, _ComplexWarning) as exc:
            raise ValueError(f"{name} must hold real numeric data; could not convert {arr.dtype} values: "
                             f"{exc}") from exc
    return arr


def _orderable(index: pd.Index) -> bool:
    """Whether a time index's labels have a meaningful order (numbers, dates, periods, durations)."""
    return (pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype)) or \
        isinstance(index, (pd.DatetimeIndex, pd.PeriodIndex, pd.TimedeltaIndex))


def _plain(key):
    """An index key for messages: numpy scalars as Python values, also inside tuples."""
    if isinstance(key, tuple):
        return tuple(_plain(k) for k in key)
    return key.item() if isinstance(key, np.generic) else key


def _check_time_labels(times: pd.Index, where: str) -> None:
    """A series' time index: no missing label, no duplicate, increasing where labels are ordered."""
    if isinstance(times, pd.RangeIndex) and times.step > 0:
        return
    missing = np.asarray(pd.isna(times))
    if missing.any():
        raise ValueError(f"{where} has {int(missing.sum())} missing time label(s) (NaN/None/NaT), first at row "
                         f"{int(np.argmax(missing))}; label every time point or drop those rows")
    if not times.is_unique:
        dup = times[times.duplicated()]
        raise ValueError(f"{where} has duplicated time labels ({len(dup)}, first {_plain(dup[0])!r}); each time point "
                         "must appear once")
    if _orderable(times) and not times.is_monotonic_increasing:
        raise ValueError(f"{where} is not sorted by time (its rows are read in order); sort it by its time "
                         "index first")


def _multiindex_series(X: pd.DataFrame) -> list:
    """sktime pd-multiindex (instance, time) or pd_multiindex_hier (..., instance, time) frames.

    Every level but the last identifies a series; series come out in the order in which their
    first row appears, each in row order. Rows are never dropped or merged: a missing key in any
    level, a duplicated (instance, time) pair or a series not sorted by time raises ValueError.
    """
    index = X.index
    if index.nlevels < 2:
        raise ValueError("a MultiIndex panel needs at least 2 index levels: (instance, time)")
    names = [n if n is not None else i for i, n in enumerate(index.names)]
    for level in range(index.nlevels):
        missing = np.asarray(pd.isna(index.get_level_values(level)))
        if missing.any():
            time = level == index.nlevels - 1
            raise ValueError(
                f"X has {int(missing.sum())} row(s) whose {'time' if time else 'instance'} key (index level "
                f"{names[level]!r}) is missing (NaN/None/NaT), first at row {int(np.argmax(missing))}; "
                + ("their place in the series is unknown" if time else "grouping the rows by instance would drop "
                   "them") + ". Give every row a key or drop those rows explicitly."
            )
    duplicated = index.duplicated()
    if duplicated.any():
        raise ValueError(
            f"X has {int(duplicated.sum())} duplicated (instance, time) index pair(s), first "
            f"{_plain(index[duplicated][0])!r}; each time point of a series must appear once"
        )
    values = as_real_array(X, name="X")
    keys = index.droplevel(-1)
    codes, _ = pd.factorize(keys, sort=False)  # instances in order of first appearance
    order = np.argsort(codes, kind="stable")  # rows grouped by instance, row order kept within one
    times = index.get_level_values(-1)[order]
    if _orderable(times) and len(times) > 1:
        grouped = codes[order]
        same = grouped[1:] == grouped[:-1]
        later = np.asarray(times[1:] > times[:-1])
        bad = same & ~later
        if bad.any():
            row = order[int(np.argmax(bad)) + 1]
            raise ValueError(
                f"the series of instance {_plain(keys[row])!r} is not sorted by time (row {int(row)}); its rows "
                "are read in order. Sort X by time within each instance first (X.sort_index() also sorts the "
                "instances: keep y in the same order)"
            )
    counts = np.bincount(codes)
    return [part.T for part in np.split(values[order], np.cumsum(counts)[:-1])] if len(codes) else []


def _nested_series(X: pd.DataFrame) -> list:
    """sktime nested_univ: one cell per (instance, variable), each a series of that variable."""
    out = []
    for i, row in enumerate(X.itertuples(index=False)):
        cells = []
        for j, cell in enumerate(row):
            if not isinstance(cell, (pd.Series, np.ndarray, list, tuple)):
                raise ValueError(f"X (nested) instance {i}, variable {j} is not a series but {type(cell).__name__}")
            arr = as_real_array(cell, name=f"X (nested) instance {i}, variable {j}")
            if arr.ndim != 1:
                raise ValueError(f"X (nested) instance {i}, variable {j} must be 1-D; got shape {arr.shape}")
            cells.append(arr)
        lengths = {len(c) for c in cells}
        if len(lengths) > 1:
            raise ValueError(f"X (nested) instance {i} has variables of different lengths {sorted(lengths)}; "
                             "the variables of one series must share its time points")
        out.append(np.stack(cells))
    return out


def _series_list_from_container(X):
    """Return a list of (C, T_i) arrays for panel containers, or None for plain arrays.

    The list follows the order of the instances as given (for a MultiIndex frame: the order of
    their first rows); nothing is dropped, merged or reordered.
    """
    if isinstance(X, pd.DataFrame):
        if isinstance(X.index, pd.MultiIndex):  # sktime pd-multiindex: (instance, time) x variables
            return _multiindex_series(X)
        if _is_nested(X):  # sktime nested_univ: one cell per (instance, variable)
            return _nested_series(X)
        return None  # a plain table: rows are univariate series (n, T)
    if isinstance(X, (list, tuple)) and len(X) and all(
        isinstance(s, (np.ndarray, pd.DataFrame, pd.Series)) or (isinstance(s, (list, tuple)) and len(s) and
                                                                  isinstance(s[0], (list, tuple, np.ndarray)))
        for s in X
    ):
        out = []
        for i, s in enumerate(X):
            if isinstance(s, (pd.DataFrame, pd.Series)):  # sktime df-list: rows are time, columns variables
                _check_time_labels(s.index, f"X series {i}")
            arr = as_real_array(s, name=f"X series {i}")
            if isinstance(s, pd.DataFrame):
                arr = arr.T
            else:
                arr = arr[None, :] if arr.ndim == 1 else arr
            if arr.ndim != 2:
                raise ValueError(f"each series must be 1-D or 2-D (channels, timesteps); got shape {arr.shape}")
            out.append(arr)
        return out
    if not isinstance(X, (np.ndarray, pd.DataFrame, pd.Series, list, tuple)) and hasattr(X, "__array__") is False:
        try:  # other sktime Panel mtypes (dask, polars, xarray, ...) through sktime's converters
            from sktime.datatypes import convert_to

            converted = convert_to(X, to_type="df-list", as_scitype="Panel")
        except Exception:  # noqa: BLE001 - fall through to sklearn's own error message
            return None
        return _series_list_from_container(converted)
    return None


def panel_to_array(X):
    """Convert panel containers to ``(array, padding_mask)``; arrays pass through untouched.

    Panels (lists of series, sktime's ``df-list``, ``nested_univ``, ``pd-multiindex`` and
    other Panel mtypes) become one float32 array of shape (n_series, n_channels, max_length),
    series in the order given: for a MultiIndex frame, the order in which each instance's first
    row appears (every index level but the last identifies a series, the last is time). No
    row is dropped, merged or reordered silently: missing instance or time keys, duplicated
    (instance, time) pairs, series not sorted by time, series without time steps, complex or
    non-numeric values and values beyond the float32 range raise ValueError.

    Unequal-length panels are right-padded with zeros and the mask is True at padded steps.
    Plain numpy arrays and tables are returned as they are, with ``padding_mask=None``.
    """
    series = _series_list_from_container(X)
    if series is None:
        return X, None
    if not series:
        raise ValueError("X holds 0 series, while a minimum of 1 is required")
    n_channels = {s.shape[0] for s in series}
    if len(n_channels) > 1:
        raise ValueError(f"all series must have the same number of channels; got {sorted(n_channels)}")
    lengths = np.array([s.shape[1] for s in series])
    if (lengths == 0).any():
        raise ValueError(f"X series {int(np.argmin(lengths))} has no time steps; every series needs at least one")
    largest = max(_largest_finite_magnitude(s)[0] for s in series)
    if largest > _F32_MAX:
        raise _range_error("X", largest)
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


def _blocks(X: np.ndarray):
    """Blocks of bounded size that together hold every value of X: row blocks of the series
    under a sliding-window view (each value once), else blocks of windows."""
    rows = covered_rows(X)
    return _chunks(rows if rows is not None else X)


def _largest_finite_magnitude(block: np.ndarray) -> tuple[float, bool]:
    """(largest finite |value|, whether any value is NaN or infinite) of a float block.

    ``min`` and ``max`` propagate NaN and keep infinities, ``fmin`` and ``fmax`` skip NaN: a block
    without infinities costs a few reductions and no temporary array; only a block that holds an
    infinity is copied (its finite values).
    """
    if block.size == 0:
        return 0.0, False
    lo, hi = block.min(), block.max()
    if np.isfinite(lo) and np.isfinite(hi):
        return max(-float(lo), float(hi)), False
    lo, hi = np.fmin.reduce(block, axis=None), np.fmax.reduce(block, axis=None)
    if np.isfinite(lo) and np.isfinite(hi):  # NaN, but no infinity
        return max(-float(lo), float(hi)), True
    finite = block[np.isfinite(block)]
    return (float(np.abs(finite).max()) if finite.size else 0.0), True


def all_finite(X: np.ndarray) -> bool:
    """Whether every value of X is finite, read in bounded blocks (no copy of X)."""
    return not any(_largest_finite_magnitude(block)[1] for block in _blocks(X))


def check_values(X: np.ndarray, *, name: str = "X", allow_nan: bool = False) -> None:
    """Raise ValueError for values the float32 network cannot take; never copies X.

    NaN or infinity (unless ``allow_nan``) and finite values whose magnitude exceeds float32's
    maximum (float64 input) are errors: in float32 the latter become infinity and turn every
    output into NaN. X is read in bounded blocks, the rows under a sliding-window view once.
    """
    if X.dtype.kind == "c":
        raise _complex_error(name, X.dtype)
    if X.dtype.kind != "f":
        return
    largest, nonfinite = 0.0, False
    for block in _blocks(X):
        block_largest, block_nonfinite = _largest_finite_magnitude(block)
        largest, nonfinite = max(largest, block_largest), nonfinite or block_nonfinite
    if nonfinite and not allow_nan:
        raise ValueError(f"Input {name} contains NaN or infinity; clean it or pass missing='interpolate'.")
    if largest > _F32_MAX:
        raise _range_error(name, largest)


def check_windows(estimator, X, *, reset: bool, allow_nan: bool = False, min_length: int = 1):
    """Validate windows and return ``(X, padding_mask)`` with X of shape (n, C, T).

    Float32/float64 numpy arrays (including read-only strided views from
    :func:`sbt_sklearn.sliding_windows`) are never copied: sklearn's checks run on the first
    window; finiteness and the float32 range (the network computes in float32, so a float64
    value beyond it is an error, not a silent infinity) are checked on the rows the windows
    cover, in bounded blocks. Other inputs (lists, pandas, sktime panels, integer arrays) are
    converted once; panels keep the order of their series (see :func:`panel_to_array`).
    Complex values raise ValueError on every path.
    """
    X, padding_mask = panel_to_array(X)
    if isinstance(X, np.ndarray) and X.dtype.kind == "c":
        raise _complex_error("X", X.dtype)
    if isinstance(X, (pd.DataFrame, pd.Series)):
        dtypes = X.dtypes if isinstance(X, pd.DataFrame) else [X.dtype]
        if any(pd.api.types.is_complex_dtype(dt) for dt in dtypes):
            raise _complex_error("X", "complex")
    if isinstance(X, np.ndarray) and X.dtype.type in _FLOATS and X.ndim in (2, 3):
        validate_data(estimator, X[:1], reset=reset, allow_nd=True, dtype=None,
                      ensure_all_finite=not allow_nan, ensure_min_samples=1)
        if X.shape[0] == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    else:
        try:  # float64 stays float64 here, so that the range check below sees the true values
            X = validate_data(estimator, X, reset=reset, allow_nd=True, dtype=[np.float32, np.float64],
                              ensure_all_finite="allow-nan" if allow_nan else True)
        except ValueError as exc:
            if str(exc).startswith("Complex data not supported"):  # sklearn's message prints the whole array
                raise _complex_error("X", "complex") from None
            raise
    check_values(X, name="X", allow_nan=allow_nan)
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
