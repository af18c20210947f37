"""Zero-copy sliding windows over a multivariate time series.

Only numpy (and pandas, for input conversion) are used here; no torch, no sklearn.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["sliding_windows"]


def _check_int(value: Any, name: str, minimum: int) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not an integer >= minimum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer >= {minimum}, got {value!r} "
            f"of type {type(value).__name__}."
        )
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}.")
    return value


def _as_float_2d(series: Any) -> np.ndarray:
    """Return ``series`` as a 2-D (timesteps, channels) floating array, copying only if needed.

    Floating input (numpy array or single-dtype float DataFrame/Series) is returned as a
    view. Integer or boolean input is converted once to float64, which is a single copy of
    the series. Anything else (strings, objects, complex numbers, dates) raises ValueError.
    """
    if isinstance(series, pd.DataFrame):
        non_numeric = [
            col
            for col, dtype in series.dtypes.items()
            if not pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_complex_dtype(dtype)
        ]
        if non_numeric:
            raise ValueError(
                "sliding_windows needs numeric data, but these DataFrame columns are not "
                f"real-valued numeric: {non_numeric[:10]!r}."
            )
        arr = series.to_numpy()
        if arr.dtype.kind != "f":
            # mixed or integer/nullable dtypes: one conversion of the whole series
            arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(series, pd.Series):
        dtype = series.dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(
            dtype
        ):
            raise ValueError(
                "sliding_windows needs numeric data, but the Series has dtype "
                f"{dtype}."
            )
        arr = series.to_numpy()
        if arr.dtype.kind != "f":
            arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        arr = np.asarray(series)

    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise ValueError(
            "sliding_windows needs real-valued numeric data (float, int or bool), "
            f"got an array of dtype {arr.dtype}."
        )

    if arr.ndim == 1:
        arr = arr[:, np.newaxis]  # (T,) -> (T, 1), still a view
    elif arr.ndim != 2:
        raise ValueError(
            "series must be 1-D (timesteps,) or 2-D (timesteps, channels), "
            f"got an array with {arr.ndim} dimensions and shape {arr.shape}."
        )
    if arr.shape[1] == 0:
        raise ValueError("series must have at least one channel, got shape "
                         f"{arr.shape}.")
    return arr


def sliding_windows(
    series: Any,
    window: int,
    horizon: int = 1,
    *,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a multivariate series into overlapping windows without copying it.

    Window ``i`` covers rows ``i * stride`` to ``i * stride + window - 1`` of the series and
    is returned channels-first, ``X[i] = series[i*stride : i*stride + window].T``. Its
    target is the row that follows the window, ``y[i] = series[i*stride + window]``
    (``horizon=1``), the next ``H`` rows, ``y[i] = series[i*stride + window : ... + H].T``
    (``horizon=H > 1``, channels before time as in X: what ``SBTForecaster(horizon=H)`` is
    fitted on), or with ``horizon=0`` the last row of the window itself, as used for
    reconstruction-based anomaly detection.

    Both outputs are read-only views into the series's memory (built with
    :func:`numpy.lib.stride_tricks.sliding_window_view`), so a series of 700,000 steps and
    38 channels with ``window=200`` costs no memory beyond the series itself, although the
    materialised ``X`` would take about 21 GB in float32.

    Parameters
    ----------
    series : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
        The time series, time along the first axis. A numpy array, a pandas DataFrame or a
        pandas Series. 1-D input is treated as a single channel. Floating-point input is
        used as is (no copy). Integer or boolean input, or a DataFrame whose columns have
        different dtypes, is converted once to float64: that is a single copy of the
        series, never of the windows. Non-numeric data raises ``ValueError``.
    window : int
        Number of time steps in each window, at least 1.
    horizon : int, default=1
        How many rows after a window its target covers. ``1``: the next row (single-step
        forecasting); ``H > 1``: the next ``H`` rows (direct multi-horizon forecasting; take
        ``y[..., -1]`` for the ``H``-th row alone); ``0``: the window's last row.
    stride : int, default=1
        Step between the starts of consecutive windows, at least 1.

    Returns
    -------
    X : ndarray of shape (n_windows, n_channels, window)
        Read-only view of the windows, channels before time.
    y : ndarray of shape (n_windows, n_channels), or (n_windows, n_channels, horizon) for horizon > 1
        Read-only view of the target rows.

    Raises
    ------
    ValueError
        If ``window < 1``, ``horizon < 0`` or ``stride < 1`` (or they are not integers), if
        the series has fewer than ``window + horizon`` steps, more than two dimensions, no
        channel, or non-numeric data.

    Notes
    -----
    The number of windows is ``(n_timesteps - window - horizon) // stride + 1``, which for
    ``horizon=0`` is ``(n_timesteps - window) // stride + 1``. Every window has a target
    inside the series; trailing rows that cannot start a full window with a target are
    not used.

    The views are read-only so that nothing writes into the caller's series through them.
    Use ``np.array(X[batch])`` (or fancy indexing, which always copies) to get a writable
    batch. Do not call ``np.ascontiguousarray(X)`` on the whole view: that materialises
    every window.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.data import sliding_windows
    >>> series = np.arange(12.0).reshape(6, 2)   # 6 steps, 2 channels
    >>> X, y = sliding_windows(series, window=3)
    >>> X.shape, y.shape
    ((3, 2, 3), (3, 2))
    >>> X[0]
    array([[0., 2., 4.],
           [1., 3., 5.]])
    >>> y[0]
    array([6., 7.])
    >>> np.shares_memory(X, series), X.flags.writeable
    (True, False)

    ``horizon=0`` targets the last row of each window:

    >>> X, y = sliding_windows(series, window=3, horizon=0, stride=2)
    >>> X.shape, y.tolist()
    ((2, 2, 3), [[4.0, 5.0], [8.0, 9.0]])

    ``horizon=2`` targets the next two rows, channels before time:

    >>> X, y = sliding_windows(series, window=3, horizon=2)
    >>> X.shape, y.shape, y[0].tolist()
    ((2, 2, 3), (2, 2, 2), [[6.0, 8.0], [7.0, 9.0]])
    >>> np.shares_memory(y, series)
    True
    """
    window = _check_int(window, "window", 1)
    horizon = _check_int(horizon, "horizon", 0)
    stride = _check_int(stride, "stride", 1)

    arr = _as_float_2d(series)
    n_timesteps = arr.shape[0]
    if n_timesteps < window + horizon:
        raise ValueError(
            f"series has {n_timesteps} time steps, fewer than window + horizon = "
            f"{window} + {horizon} = {window + horizon}; no window fits."
        )

    n_windows = (n_timesteps - window - horizon) // stride + 1

    # (T - window + 1, C, window): element [i, c, k] is arr[i + k, c]; read-only view
    X = sliding_window_view(arr, window, axis=0)[::stride][:n_windows]
    if horizon > 1:  # (n_windows, C, horizon): the rows after each window, channels before time
        y = sliding_window_view(arr[window:], horizon, axis=0)[::stride][:n_windows]
        return X, y
    first_target = window + horizon - 1
    y = arr[first_target::stride][:n_windows].view()
    y.flags.writeable = False
    return X, y
