"""Hostile inputs: data that must raise a clear ValueError, never vanish, overflow or lose a part silently.

One section per case of issue 22:

A. values beyond float32 (the network's dtype) raise instead of turning every output NaN;
B. complex data raises instead of keeping its real part;
C. panel rows are never dropped, merged or reordered silently (pd-multiindex, nested, df-list);
D. ``SBTSktimeForecaster.update`` only takes data that continues the series;
E. the sktime adapters validate ``window_length``;
F. the sktime detector on an empty series.

(G, the Dask LocalCluster without a dashboard, is tested in tests/distributed/test_dask.py.)
The models are tiny (tests/_params.py) and fitted once per module where a test only predicts.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from _params import INIT_PARAMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.estimators._input import as_real_array, check_values, panel_to_array

F32_MAX = float(np.finfo(np.float32).max)
ESTIMATORS = [SBTClassifier, SBTForecaster, SBTAnomalyDetector]


def tiny(cls, **extra):
    return cls(**{**INIT_PARAMS[cls], "max_epochs": 1, **extra})


def fit_args(cls, X):
    """Arguments of ``cls.fit`` for windows X (n, C, T): labels, next rows, or nothing."""
    if cls is SBTClassifier:
        return (X, np.arange(len(X)) % 2)
    if cls is SBTForecaster:
        return (X, np.zeros((len(X), X.shape[1])))
    return (X,)


@pytest.fixture(scope="module")
def windows():
    return np.random.default_rng(0).normal(size=(24, 2, 8))


@pytest.fixture(scope="module")
def fitted(windows):
    """One fitted model per estimator class, shared by the tests that only predict."""
    return {cls: tiny(cls).fit(*fit_args(cls, windows)) for cls in ESTIMATORS}


def _multiindex(instances, times, values, names=("instance", "timepoints")):
    index = pd.MultiIndex.from_arrays([instances, times], names=list(names))
    values = np.asarray(values)
    return pd.DataFrame(values, index=index, columns=[f"c{i}" for i in range(values.shape[1])])


def _panel(n=4, t=5, c=2, seed=4):
    values = np.random.default_rng(seed).normal(size=(n * t, c))
    return _multiindex(np.repeat(np.arange(n), t).astype(float), np.tile(np.arange(t), n), values)


def _predict(model, X):
    return model.score_samples(X) if isinstance(model, SBTAnomalyDetector) else model.predict(X)


# -- A. values beyond the float32 range --------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_rejects_a_float64_value_beyond_float32(cls, windows):
    X = windows.copy()
    X[3, 1, 4] = 1e39  # was: a model whose every prediction is NaN, no error
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "overflow encountered in cast" either
        with pytest.raises(ValueError, match=r"beyond the float32 range \(largest magnitude 1e\+39"):
            tiny(cls).fit(*fit_args(cls, X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_predict_rejects_a_float64_value_beyond_float32(cls, fitted, windows):
    X = windows[:4].copy()
    X[0, 0, 0] = -2e39
    with pytest.raises(ValueError, match=r"X holds values beyond the float32 range \(largest magnitude 2e\+39"):
        _predict(fitted[cls], X)


def test_the_largest_value_is_named_and_missing_values_do_not_hide_it(windows):
    X = windows.copy()
    X[1, 0, 2], X[5, 1, 7], X[2, 0, 0] = 5e38, -7e39, np.nan
    with pytest.raises(ValueError, match=r"largest magnitude 7e\+39"):
        check_values(X, allow_nan=True)
    with pytest.raises(ValueError, match=r"largest magnitude 7e\+39"):
        tiny(SBTClassifier, missing="interpolate").fit(*fit_args(SBTClassifier, X))
    with pytest.raises(ValueError, match="contains NaN or infinity"):
        check_values(X)  # without allow_nan the NaN is the first problem


def test_float32_boundary():
    check_values(np.array([[F32_MAX, -F32_MAX]]))  # the largest float32 itself fits
    with pytest.raises(ValueError, match="beyond the float32 range"):
        check_values(np.array([[np.nextafter(F32_MAX, np.inf)]]))
    check_values(np.array([[np.inf]], dtype=np.float32), allow_nan=True)  # infinity is "missing", not "too large"


def test_sliding_window_views_are_checked_without_a_copy():
    import tracemalloc

    series = np.zeros((400_000, 2))
    series[-1, 1] = 3e39  # the last row, covered by the last window only
    series[10, 0] = np.nan
    X, _ = sliding_windows(series, 200, horizon=0)  # a copy would take 1.3 GB
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"largest magnitude 3e\+39"):
            check_values(X, allow_nan=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"checking the view allocated {peak} bytes"


def test_score_series_rejects_a_value_beyond_float32(fitted):
    series = np.random.default_rng(1).normal(size=(40, 2))
    series[30, 0] = 1e39
    with pytest.raises(ValueError, match="beyond the float32 range"):
        fitted[SBTAnomalyDetector].score_series(series)


@pytest.mark.parametrize("container", ["list", "table", "multiindex"])
def test_converted_inputs_are_range_checked_before_the_float32_cast(container):
    rng = np.random.default_rng(2)
    if container == "list":
        X = [rng.normal(size=(2, 6)) for _ in range(6)]
        X[4][1, 3] = 1e39
    elif container == "table":  # a DataFrame of univariate windows (n, T)
        X = pd.DataFrame(rng.normal(size=(6, 8)))
        X.iloc[2, 5] = 1e39
    else:
        X = _multiindex(np.repeat(np.arange(6), 5), np.tile(np.arange(5), 6), rng.normal(size=(30, 2)))
        X.iloc[7, 0] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"beyond the float32 range \(largest magnitude 1e\+39"):
            tiny(SBTClassifier).fit(X, np.arange(6) % 2)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 9)))
def test_range_check_property(data, shape):
    """check_values raises exactly when some finite value exceeds float32's maximum, and names the largest."""
    finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
    values = np.array(data.draw(st.lists(finite, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
    X = values.reshape(shape)
    largest = float(np.abs(X).max())
    if largest > F32_MAX:
        with pytest.raises(ValueError, match="beyond the float32 range") as info:
            check_values(X)
        assert f"{largest:.6g}" in str(info.value)
    else:
        check_values(X)


# -- B. complex data ---------------------------------------------------------------------------------


def _complex_containers():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 2, 5)) + 1j
    yield "ndarray", z
    yield "ndarray-2d", z[:, 0]
    yield "list", list(z)
    yield "df-list", [pd.DataFrame(s.T) for s in z]
    yield "series-list", [pd.Series(s[0]) for s in z]
    yield "table", pd.DataFrame(z[:, 0])
    yield "multiindex", _multiindex(np.repeat(np.arange(6), 5), np.tile(np.arange(5), 6), z.transpose(0, 2, 1)
                                    .reshape(30, 2))
    nested = pd.DataFrame({"a": [pd.Series(s[0]) for s in z], "b": [pd.Series(s[1]) for s in z]})
    yield "nested_univ", nested


@pytest.mark.parametrize("name, X", list(_complex_containers()), ids=[n for n, _ in _complex_containers()])
def test_complex_X_raises_on_every_path(name, X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning would mean the imaginary part was dropped
        with pytest.raises(ValueError, match="Complex data not supported"):
            tiny(SBTClassifier).fit(X, np.arange(6) % 2)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_complex_X_raises_in_predict(cls, fitted, windows):
    with pytest.raises(ValueError, match="Complex data not supported"):
        _predict(fitted[cls], windows[:3] + 0.5j)


def test_complex_forecaster_y_and_forecast_history(fitted, windows):
    # SBTForecaster checks y and forecast()'s history itself (sbt_sklearn/estimators/_forecaster.py)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Complex data not supported"):
            tiny(SBTForecaster).fit(windows, np.zeros((len(windows), 2)) + 1j)
        with pytest.raises(ValueError, match="Complex data not supported"):
            fitted[SBTForecaster].forecast(np.ones((10, 2)) + 1j, 2)


def test_complex_series_in_score_series(fitted):
    with pytest.raises(ValueError, match="real-valued"):
        fitted[SBTAnomalyDetector].score_series(np.ones((20, 2)) + 1j)


@pytest.mark.parametrize("values", [np.ones(3) + 1j, np.array([1.0, 2j], dtype=object), pd.Series([1j, 2.0]),
                                    pd.DataFrame({"a": [1.0, 2.0], "b": [1j, 0j]})])
def test_as_real_array_never_keeps_only_the_real_part(values):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="(Complex data not supported|real numeric data)"):
            as_real_array(values)


def test_as_real_array_converts_numbers_once_and_passes_floats_through():
    floats = np.ones((3, 2))
    assert as_real_array(floats) is floats
    assert as_real_array(np.arange(3)).dtype == np.float64
    assert as_real_array(pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan]})).dtype == np.float64
    with pytest.raises(ValueError, match="numeric"):
        as_real_array(pd.DataFrame({"a": ["x", "y"]}))
    with pytest.raises(ValueError, match="not a rectangular array"):
        as_real_array([[1.0, 2.0], [3.0]])


# -- C. panels: no row dropped, merged or reordered --------------------------------------------------


@pytest.mark.parametrize("level, key", [(0, np.nan), (0, None), (1, np.nan)])
def test_a_missing_key_raises_instead_of_dropping_the_series(level, key):
    X = _panel()
    instances = X.index.get_level_values(0).to_numpy(dtype=object).copy()
    times = X.index.get_level_values(1).to_numpy(dtype=object).copy()
    (instances if level == 0 else times)[5:10] = key
    X.index = pd.MultiIndex.from_arrays([instances, times], names=X.index.names)
    kind = "instance" if level == 0 else "time"
    with pytest.raises(ValueError, match=f"5 row\\(s\\) whose {kind} key .* is missing"):
        panel_to_array(X)


def test_missing_datetime_key_raises():
    times = pd.date_range("2024-01-01", periods=5, freq="h").tolist() * 2
    times[7] = pd.NaT
    X = _multiindex(np.repeat([0, 1], 5), times, np.ones((10, 1)))
    with pytest.raises(ValueError, match="time key .* is missing"):
        panel_to_array(X)


def test_predict_and_fit_keep_every_series_of_a_panel_with_a_missing_key(fitted):
    """The reproducer: the classifier predicted n - 1 rows, the detector trained on n - 1 series."""
    X = _panel(n=6, t=8)
    instances = X.index.get_level_values(0).to_numpy().copy()
    instances[8:16] = np.nan
    X.index = pd.MultiIndex.from_arrays([instances, X.index.get_level_values(1)])
    with pytest.raises(ValueError, match="instance key .* is missing"):
        fitted[SBTClassifier].predict(X)
    with pytest.raises(ValueError, match="instance key .* is missing"):
        tiny(SBTAnomalyDetector).fit(X)


def test_duplicated_instance_time_pairs_raise():
    X = _panel()
    times = X.index.get_level_values(1).to_numpy().copy()
    times[6] = times[5]
    X.index = pd.MultiIndex.from_arrays([X.index.get_level_values(0), times])
    with pytest.raises(ValueError, match=r"1 duplicated \(instance, time\) index pair\(s\), first \(1.0, 0\)"):
        panel_to_array(X)


def test_a_series_not_sorted_by_time_raises():
    X = _panel()
    times = X.index.get_level_values(1).to_numpy().copy()
    times[5:10] = times[5:10][::-1]
    X.index = pd.MultiIndex.from_arrays([X.index.get_level_values(0), times])
    with pytest.raises(ValueError, match="instance 1.0 is not sorted by time"):
        panel_to_array(X)


def test_instances_keep_the_order_given_and_interleaved_rows_stay_in_their_series(fitted):
    # instances 2, 0, 1 in that order; rows of 0 and 1 interleaved
    X = _multiindex([2, 2, 0, 1, 0, 1], [0, 1, 0, 0, 1, 1], np.arange(12.0).reshape(6, 2))
    out, pad = panel_to_array(X)
    assert pad is None
    np.testing.assert_array_equal(out[:, 0], [[0, 2], [4, 8], [6, 10]])
    # predictions follow the same order
    panel = _panel(n=5, t=8, seed=5)
    order = [3, 0, 4, 1, 2]
    shuffled = pd.concat([panel.xs(float(i), level=0, drop_level=False) for i in order])
    windows, _ = panel_to_array(panel)
    np.testing.assert_allclose(fitted[SBTClassifier].predict_proba(shuffled),
                               fitted[SBTClassifier].predict_proba(windows[order]))


def test_hierarchical_index_keeps_every_series_apart():
    # (panel, instance, time): instance 0 of panel "a" and instance 0 of panel "b" are different series
    index = pd.MultiIndex.from_arrays([["a"] * 4 + ["b"] * 4, [0, 0, 1, 1] * 2, [0, 1] * 4])
    out, _ = panel_to_array(pd.DataFrame({"v": np.arange(8.0)}, index=index))
    assert out.shape == (4, 1, 2)
    np.testing.assert_array_equal(out[:, 0], [[0, 1], [2, 3], [4, 5], [6, 7]])


def test_unused_categories_make_no_empty_series():
    instances = pd.Categorical(["b", "b", "a", "a"], categories=["z", "a", "b"])
    out, pad = panel_to_array(_multiindex(instances, [0, 1, 0, 1], np.arange(4.0)[:, None]))
    assert out.shape == (2, 1, 2) and pad is None
    np.testing.assert_array_equal(out[:, 0], [[0, 1], [2, 3]])


def test_empty_panels_and_empty_series_raise():
    empty = _multiindex(np.array([], dtype=float), np.array([], dtype=int), np.zeros((0, 2)))
    with pytest.raises(ValueError, match="0 series"):
        panel_to_array(empty)
    with pytest.raises(ValueError, match="series 1 has no time steps"):
        panel_to_array([np.ones((2, 3)), np.ones((2, 0))])


@pytest.mark.parametrize("index, message", [
    ([0, 1, 1, 2], "duplicated time labels"),
    ([0, 2, 1, 3], "not sorted by time"),
    ([0.0, np.nan, 2.0, 3.0], "missing time label"),
])
def test_df_list_series_need_a_clean_time_index(index, message):
    series = [pd.DataFrame(np.ones((4, 2))), pd.DataFrame(np.ones((4, 2)), index=index)]
    with pytest.raises(ValueError, match=f"X series 1 .*{message}"):
        panel_to_array(series)
    with pytest.raises(ValueError, match=message):
        panel_to_array([pd.Series(np.ones(4)), pd.Series(np.ones(4), index=index)])


def test_nested_univ_cells_must_be_series_of_one_length():
    ragged = pd.DataFrame({"a": [pd.Series(np.ones(5)), pd.Series(np.ones(4))],
                           "b": [pd.Series(np.ones(5)), pd.Series(np.ones(3))]})
    with pytest.raises(ValueError, match=r"instance 1 has variables of different lengths \[3, 4\]"):
        panel_to_array(ragged)
    holed = pd.DataFrame({"a": [pd.Series(np.ones(5)), pd.Series(np.ones(5))],
                          "b": [pd.Series(np.ones(5)), np.nan]})
    with pytest.raises(ValueError, match="instance 1, variable 1 is not a series"):
        panel_to_array(holed)
    ok = pd.DataFrame({"a": [pd.Series(np.ones(5)), pd.Series(np.ones(3))],
                       "b": [pd.Series(np.zeros(5)), pd.Series(np.zeros(3))]})
    out, pad = panel_to_array(ok)  # unequal lengths across instances are padded, not an error
    assert out.shape == (2, 2, 5) and pad.sum() == 2


@st.composite
def panels(draw):
    """A pd-multiindex panel with random instance labels, lengths, instance order and interleaving,
    and the (C, T_i) arrays it holds in the order of the instances' first rows."""
    n = draw(st.integers(1, 6))
    labels = draw(st.lists(st.one_of(st.integers(-50, 50), st.text("abcxyz", min_size=1, max_size=3)),
                           min_size=n, max_size=n, unique_by=str))
    labels = [str(label) for label in labels]  # one type per level, as sktime requires
    lengths = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    series = [np.arange(t * 2, dtype=float).reshape(2, t) + 100 * i for i, t in enumerate(lengths)]
    rows = [(i, t) for i, length in enumerate(lengths) for t in range(length)]
    if draw(st.booleans()):  # interleave: any row order that keeps each series in time order
        keys = draw(st.permutations(range(len(rows))))
        rows = sorted(rows, key=lambda r: (r[1], keys[r[0]]))
    first = list(dict.fromkeys(i for i, _ in rows))  # instances in order of their first rows
    frame = _multiindex([labels[i] for i, _ in rows], [t for _, t in rows], [series[i][:, t] for i, t in rows])
    return frame, [series[i] for i in first]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panel=panels(), data=st.data())
def test_random_panels_lose_nothing(panel, data):
    frame, expected = panel
    out, pad = panel_to_array(frame)
    assert out.shape[0] == len(expected)
    for i, s in enumerate(expected):
        np.testing.assert_array_equal(out[i, :, : s.shape[1]], s)
        assert pad is None or not pad[i, : s.shape[1]].any() and pad[i, s.shape[1]:].all()
    # break one row's key: a missing instance key, a missing time key, or a duplicated pair
    row = data.draw(st.integers(0, len(frame) - 1))
    how = data.draw(st.sampled_from(["instance", "time", "duplicate"]))
    instances = frame.index.get_level_values(0).to_numpy(dtype=object).copy()
    times = frame.index.get_level_values(1).to_numpy(dtype=object).copy()
    if how == "instance":
        instances[row] = np.nan
    elif how == "time":
        times[row] = None
    else:
        if len(frame) < 2:
            return
        other = (row + 1) % len(frame)
        instances[other], times[other] = instances[row], times[row]
    broken = frame.set_axis(pd.MultiIndex.from_arrays([instances, times]), axis=0)
    with pytest.raises(ValueError, match="missing|duplicated"):
        panel_to_array(broken)


# -- E, F. the sktime adapters' window_length; the detector on an empty series ---------------------------


@pytest.fixture(scope="module")
def sktime_adapters():
    pytest.importorskip("sktime")
    from sbt_sklearn.sktime import SBTSktimeDetector, SBTSktimeForecaster

    return SBTSktimeForecaster, SBTSktimeDetector


def _adapter(cls, **params):
    return cls(**{**INIT_PARAMS[SBTClassifier], "max_epochs": 1, **params})


def _series(n=40, name="y", index=None):
    return pd.Series(np.sin(np.arange(n) / 3.0), index=index, name=name)


@pytest.mark.parametrize("window_length", [2.5, 3.0, 0, -1, True, "3", None])
def test_adapters_reject_a_window_length_that_is_not_an_integer_at_least_the_minimum(sktime_adapters,
                                                                                     window_length):
    forecaster, detector = sktime_adapters
    # were: 2.5 -> 2, 0 -> 1 silently (the detector), an error from sliding_windows or a TypeError
    with pytest.raises(ValueError, match=r"window_length must be an integer >= 1; got"):
        _adapter(forecaster, window_length=window_length).fit(_series())
    with pytest.raises(ValueError, match=r"window_length must be an integer >= 2 with target=\"predict\""):
        _adapter(detector, window_length=window_length).fit(pd.DataFrame(_series()))


def test_adapter_window_length_minimums(sktime_adapters):
    forecaster, detector = sktime_adapters
    assert _adapter(forecaster, window_length=np.int64(1)).fit(_series()).window_length_ == 1
    with pytest.raises(ValueError, match=r">= 2 with target=\"predict\" .*got 1"):
        _adapter(detector, window_length=1).fit(pd.DataFrame(_series()))
    # a window of 1 step has no context to predict its last step from; reconstructing it needs none
    assert _adapter(detector, window_length=1, target="reconstruct").fit(pd.DataFrame(_series())).window_length_ == 1
    assert _adapter(detector, window_length=2).fit(pd.DataFrame(_series())).window_length_ == 2
    with pytest.raises(ValueError, match="training series of at least 2 time point"):
        _adapter(detector, window_length=5).fit(pd.DataFrame([1.0]))


def test_detector_on_an_empty_series(sktime_adapters):
    _, detector = sktime_adapters
    det = _adapter(detector, window_length=5).fit(pd.DataFrame(_series()))
    empty = pd.DataFrame(np.zeros((0, 1)))
    # was: "cannot reshape array of size 0"; sktime's contract is one score / label per time point
    scores = det.transform_scores(empty)
    assert len(scores) == 0 and scores.index.equals(empty.index)
    assert len(det.predict(empty)) == 0
    assert len(det.transform(empty)) == 0


def test_detector_adapter_rejects_complex_and_huge_values(sktime_adapters):
    _, detector = sktime_adapters
    with warnings.catch_warnings():
        warnings.simplefilter("error", np.exceptions.ComplexWarning if hasattr(np, "exceptions") else Warning)
        with pytest.raises(ValueError, match="Complex data not supported"):
            _adapter(detector, window_length=5).fit(pd.DataFrame(_series().to_numpy() + 1j))
    huge = _series().to_numpy().copy()
    huge[-1] = 1e39
    with pytest.raises(ValueError, match="beyond the float32 range"):
        _adapter(detector, window_length=5).fit(pd.DataFrame(huge))


# -- D. SBTSktimeForecaster.update takes only data that continues the series ------------------------------

MONTHS = pd.period_range("2000-01", periods=40, freq="M")
INDEXES = {
    "period": MONTHS,
    "datetime": pd.date_range("2000-01-01", periods=40, freq="15min"),
    "datetime-no-freq": pd.DatetimeIndex(pd.date_range("2000-01-01", periods=40, freq="D").to_numpy()),
    "range": pd.RangeIndex(40),
    "int-step-2": pd.Index(np.arange(0, 80, 2)),
}


@pytest.fixture(scope="module")
def fitted_forecasters(sktime_adapters):
    forecaster, _ = sktime_adapters
    return {kind: _adapter(forecaster, window_length=5).fit(_series(index=index).iloc[:30])
            for kind, index in INDEXES.items()}


def assert_update_rejected(f, y, match):
    """update raises ValueError and leaves the forecaster as it was (cutoff, last window, forecasts)."""
    cutoff, last, before = f.cutoff, f.last_window_.copy(), f.predict(fh=[1, 2])
    with pytest.raises(ValueError, match=match):
        f.update(y)
    assert f.cutoff.equals(cutoff) and getattr(f.cutoff, "freq", None) == getattr(cutoff, "freq", None)
    pd.testing.assert_frame_equal(f.last_window_, last)
    after = f.predict(fh=[1, 2])
    same = pd.testing.assert_frame_equal if isinstance(before, pd.DataFrame) else pd.testing.assert_series_equal
    same(after, before)


@pytest.mark.parametrize("kind", list(INDEXES))
def test_update_rejects_data_that_does_not_continue_the_series(fitted_forecasters, kind):
    f, y = fitted_forecasters[kind], _series(index=INDEXES[kind])
    assert_update_rejected(f, y.iloc[20:25], "ends at .*, before the cutoff")  # were all accepted silently
    assert_update_rejected(f, y.iloc[31:34], "starts at .*, but the cutoff is .*the next time point is")
    assert_update_rejected(f, y.iloc[[30, 31, 33]], "has a gap: after")
    assert_update_rejected(f, y.iloc[30:33].rename("z"), r"update got the series \['z'\], but .* fitted on \['y'\]")
    assert_update_rejected(f, pd.concat([y.iloc[30:32], y.iloc[31:33]]), "duplicated time points")
    revised = y.iloc[27:32].copy()
    revised.iloc[0] += 1.0
    assert_update_rejected(f, revised, "revises observations already seen")


def test_update_with_an_irregular_index_checks_order_but_not_gaps(sktime_adapters):
    forecaster, _ = sktime_adapters
    index = pd.Index([0, 1, 3, 4, 7, 8, 9, 12, 13, 15, 16, 18, 20, 21, 24, 25, 30, 31, 33, 35])
    y = _series(n=20, index=index)
    f = _adapter(forecaster, window_length=3).fit(y.iloc[:14])
    assert_update_rejected(f, y.iloc[5:10], "before the cutoff")
    f.update(y.iloc[16:18])  # no step to check gaps against
    assert f.cutoff[0] == 31


def test_update_accepts_the_seen_rows_again_and_continues(fitted_forecasters, sktime_adapters):
    forecaster, _ = sktime_adapters
    y = _series(index=MONTHS)
    f = _adapter(forecaster, window_length=5).fit(y.iloc[:30])
    inner = f.estimator_
    f.update(y.iloc[24:33])  # rows up to the cutoff repeat what was seen, as update_predict sends them
    assert f.cutoff[0] == MONTHS[32] and f.estimator_ is inner
    pd.testing.assert_frame_equal(f.last_window_, y.iloc[28:33].to_frame())
    with pytest.warns(UserWarning, match="empty y"):  # sktime's own warning: nothing changes
        f.update(y.iloc[33:33])
    assert f.cutoff[0] == MONTHS[32]


def test_update_predict_with_an_expanding_window(sktime_adapters):
    """sktime's update_predict re-sends the expanding window: the forecasts equal step-by-step updates."""
    from sktime.split import ExpandingWindowSplitter

    forecaster, _ = sktime_adapters
    y = _series(index=MONTHS)
    f = _adapter(forecaster, window_length=5).fit(y.iloc[:30])
    cv = ExpandingWindowSplitter(fh=[1], initial_window=2, step_length=2)
    rolled = f.update_predict(y.iloc[30:], cv=cv)
    manual = []
    for stop in (32, 34, 36, 38):
        f.update(y.iloc[stop - 2:stop])
        manual.append(f.predict(fh=[1]))
    pd.testing.assert_series_equal(rolled, pd.concat(manual), check_names=False)


def test_multivariate_y_is_one_model_and_columns_must_match(sktime_adapters):
    forecaster, _ = sktime_adapters
    rng = np.random.default_rng(6)
    y = pd.DataFrame(np.cumsum(rng.normal(size=(40, 3)), axis=0), columns=["a", "b", "c"], index=MONTHS)
    f = _adapter(forecaster, window_length=5).fit(y.iloc[:30])
    assert f.estimator_.n_channels_ == 3  # was: sktime fitted one univariate model per column
    assert_update_rejected(f, y.iloc[30:33][["b", "a", "c"]], r"update got the series \['b', 'a', 'c'\]")
    assert_update_rejected(f, y.iloc[30:33][["a", "b"]], r"fitted on \['a', 'b', 'c'\]")
    f.update(y.iloc[30:33])
    assert f.predict(fh=[1, 2]).shape == (2, 3)


def test_forecaster_adapter_rejects_a_huge_last_value(sktime_adapters):
    forecaster, _ = sktime_adapters
    y = _series().copy()
    y.iloc[-1] = 1e39  # the last row is only a target: no window covers it
    with pytest.raises(ValueError, match=r"y holds values beyond the float32 range"):
        _adapter(forecaster, window_length=5).fit(y)
    f = _adapter(forecaster, window_length=5).fit(_series().iloc[:30])
    assert_update_rejected(f, y.iloc[30:], "beyond the float32 range")
