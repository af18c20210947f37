"""Tests for sbt_sklearn.data.sliding_windows: values, zero-copy views, errors."""

import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from sbt_sklearn.data import sliding_windows


def _brute_force(series, window, horizon, stride):
    """Reference: build the windows with an explicit loop (copies)."""
    arr = np.asarray(series, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    X, y = [], []
    start = 0
    while start + window + horizon <= len(arr) and (
        horizon > 0 or start + window <= len(arr)
    ):
        X.append(arr[start : start + window].T)
        # horizon > 1: the next `horizon` rows, channels before time; else one row
        y.append(arr[start + window : start + window + horizon].T if horizon > 1 else arr[start + window + horizon - 1])
        start += stride
    return np.array(X), np.array(y)


def _root_buffer(arr):
    """Follow the ``.base`` chain of a view down to the array that owns the memory."""
    obj = arr
    while True:
        base = getattr(obj, "base", None)
        if base is None:
            return obj
        obj = base


@pytest.mark.parametrize(
    "window, horizon, stride",
    [
        (1, 1, 1),
        (1, 0, 1),
        (3, 1, 1),
        (3, 0, 1),
        (4, 2, 3),
        (5, 0, 2),
        (7, 5, 4),
        (10, 1, 10),
        (19, 1, 1),
        (20, 0, 1),
        (2, 3, 7),
    ],
)
def test_values_match_brute_force(window, horizon, stride):
    rng = np.random.default_rng(0)
    series = rng.normal(size=(20, 3))
    X, y = sliding_windows(series, window, horizon, stride=stride)
    X_ref, y_ref = _brute_force(series, window, horizon, stride)

    expected_n = (len(series) - window - horizon) // stride + 1
    assert X.shape == (expected_n, 3, window)
    assert y.shape == ((expected_n, 3, horizon) if horizon > 1 else (expected_n, 3))
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert np.shares_memory(y, series) and not y.flags.writeable
    # definition, element by element
    for i in range(expected_n):
        np.testing.assert_array_equal(X[i], series[i * stride : i * stride + window].T)
        if horizon > 1:
            np.testing.assert_array_equal(y[i], series[i * stride + window : i * stride + window + horizon].T)
        else:
            np.testing.assert_array_equal(y[i], series[i * stride + window + horizon - 1])
    # the next window would not have had a target inside the series
    assert expected_n * stride + window + horizon - 1 >= len(series)


def test_horizon_zero_targets_last_row_of_window():
    series = np.arange(30.0).reshape(10, 3)
    X, y = sliding_windows(series, 4, horizon=0)
    assert X.shape == (7, 3, 4)
    np.testing.assert_array_equal(y, X[:, :, -1])


def test_one_dimensional_input_is_one_channel():
    series = np.arange(10.0)
    X, y = sliding_windows(series, 3)
    assert X.shape == (7, 1, 3)
    assert y.shape == (7, 1)
    np.testing.assert_array_equal(X[2, 0], [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(y[:, 0], np.arange(3.0, 10.0))
    assert np.shares_memory(X, series) and np.shares_memory(y, series)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_views_share_memory_and_are_read_only(dtype):
    series = np.arange(200, dtype=dtype).reshape(50, 4)
    X, y = sliding_windows(series, 8, 1, stride=2)
    assert X.dtype == dtype and y.dtype == dtype
    assert np.shares_memory(X, series)
    assert np.shares_memory(y, series)
    assert not X.flags.writeable
    assert not y.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        X[0, 0, 0] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        y[0, 0] = -1.0
    # the caller's series itself stays writeable, and the views follow its changes
    assert series.flags.writeable
    series[8, 1] = -5.0  # row 8 = window 0's target = step 6 of window 1 (start 2)
    assert y[0, 1] == -5.0
    assert X[1, 1, 6] == -5.0


def test_view_base_is_the_series_no_copy():
    series = np.random.default_rng(1).normal(size=(100, 5)).astype(np.float32)
    X, y = sliding_windows(series, 10, 1, stride=3)
    root_X, root_y = _root_buffer(X), _root_buffer(y)
    assert root_X is series
    assert root_y is series
    assert root_X.nbytes == series.nbytes
    # the view's nominal size is much larger than the memory it uses
    assert X.nbytes > series.nbytes


def test_dataframe_float_input_is_zero_copy():
    frame = pd.DataFrame(
        np.random.default_rng(2).normal(size=(30, 3)), columns=["a", "b", "c"]
    )
    X, y = sliding_windows(frame, 5)
    values = frame.to_numpy()
    assert np.shares_memory(X, values)
    assert np.shares_memory(y, values)
    assert _root_buffer(X).nbytes == values.nbytes
    np.testing.assert_array_equal(X[3], values[3:8].T)
    np.testing.assert_array_equal(y[3], values[8])


def test_series_input():
    s = pd.Series(np.arange(12.0))
    X, y = sliding_windows(s, 4, 2)
    assert X.shape == (7, 1, 4) and y.shape == (7, 1, 2)
    np.testing.assert_array_equal(y[:, 0, -1], np.arange(5.0, 12.0))  # the second row after each window
    assert np.shares_memory(X, s.to_numpy())


@pytest.mark.parametrize(
    "series",
    [
        np.arange(24).reshape(12, 2),  # int64
        np.arange(24, dtype=np.uint8).reshape(12, 2),
        (np.arange(24).reshape(12, 2) % 2).astype(bool),
        pd.DataFrame({"a": np.arange(12), "b": np.arange(12, 24)}),  # int columns
        pd.DataFrame({"a": np.arange(12), "b": np.arange(12.0, 24.0)}),  # mixed
        pd.DataFrame({"a": pd.array(range(12), dtype="Int64"), "b": np.arange(12.0)}),
        pd.Series(np.arange(12)),
    ],
    ids=["int64", "uint8", "bool", "df-int", "df-mixed", "df-nullable", "series-int"],
)
def test_non_float_numeric_input_is_converted_once_to_float(series):
    X, y = sliding_windows(series, 3, 1, stride=2)
    assert X.dtype == np.float64 and y.dtype == np.float64
    ref = np.asarray(series, dtype=np.float64)
    if ref.ndim == 1:
        ref = ref[:, None]
    X_ref, y_ref = _brute_force(ref, 3, 1, 2)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    # the one converted copy of the series is shared by X and y: windows are still views
    assert np.shares_memory(X, y)
    assert _root_buffer(X).nbytes == ref.nbytes
    assert not X.flags.writeable


def test_large_series_views_are_instant_and_allocate_nothing():
    # 700,000 steps x 38 channels of float32 (about 106 MB); materialised windows of
    # length 200 would take about 21 GB.
    series = np.zeros((700_000, 38), dtype=np.float32)
    tracemalloc.start()
    try:
        # positive control: tracemalloc does see numpy allocations
        probe = np.ones(3_000_000, dtype=np.float32)  # 12 MB
        _, control_peak = tracemalloc.get_traced_memory()
        del probe
        tracemalloc.reset_peak()

        start = time.perf_counter()
        X, y = sliding_windows(series, 200, 1)
        X0, y0 = sliding_windows(series, 200, 0, stride=5)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert control_peak > 10_000_000
    assert peak < 10_000_000
    assert elapsed < 1.0
    assert X.shape == (700_000 - 200, 38, 200)
    assert y.shape == (700_000 - 200, 38)
    assert X0.shape == ((700_000 - 200) // 5 + 1, 38, 200)
    assert X.nbytes > 20e9  # what a copy would cost
    for view in (X, y, X0, y0):
        assert np.shares_memory(view, series)
        assert _root_buffer(view) is series
        assert not view.flags.writeable


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"window": 0}, "window must be an integer >= 1"),
        ({"window": -3}, "window must be an integer >= 1"),
        ({"window": 2.5}, "window must be an integer"),
        ({"window": True}, "window must be an integer"),
        ({"window": 3, "horizon": -1}, "horizon must be an integer >= 0"),
        ({"window": 3, "horizon": 1.0}, "horizon must be an integer"),
        ({"window": 3, "stride": 0}, "stride must be an integer >= 1"),
        ({"window": 3, "stride": None}, "stride must be an integer"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sliding_windows(np.zeros((10, 2)), **kwargs)


def test_numpy_integer_parameters_are_accepted():
    X, y = sliding_windows(np.zeros((10, 2)), np.int64(3), np.int32(0), stride=np.int8(2))
    assert X.shape == (4, 2, 3)


@pytest.mark.parametrize(
    "n_timesteps, window, horizon",
    [(5, 5, 1), (5, 6, 0), (5, 3, 3), (0, 1, 0)],
)
def test_series_too_short(n_timesteps, window, horizon):
    with pytest.raises(ValueError, match="fewer than window \\+ horizon"):
        sliding_windows(np.zeros((n_timesteps, 2)), window, horizon)


def test_exact_fit_gives_one_window():
    X, y = sliding_windows(np.arange(6.0), 5, 1)
    assert X.shape == (1, 1, 5)
    assert y[0, 0] == 5.0
    X, y = sliding_windows(np.arange(5.0), 5, 0)
    assert X.shape == (1, 1, 5) and y[0, 0] == 4.0


def test_three_dimensional_input_rejected():
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        sliding_windows(np.zeros((10, 2, 2)), 3)


def test_no_channel_rejected():
    with pytest.raises(ValueError, match="at least one channel"):
        sliding_windows(np.zeros((10, 0)), 3)


@pytest.mark.parametrize(
    "series",
    [
        np.array([["a", "b"]] * 10),
        np.zeros((10, 2), dtype=complex),
        np.array([[1.0, "x"]] * 10, dtype=object),
        pd.DataFrame({"a": np.arange(10.0), "b": ["x"] * 10}),
        pd.DataFrame({"t": pd.date_range("2020", periods=10, freq="h")}),
        pd.Series(["x"] * 10),
    ],
    ids=["str", "complex", "object", "df-str-column", "df-datetime", "series-str"],
)
def test_non_numeric_rejected(series):
    with pytest.raises(ValueError, match="numeric"):
        sliding_windows(series, 3)
