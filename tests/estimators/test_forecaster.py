"""Behaviour of SBTForecaster: shapes, scaling, forecasting, memory, determinism, errors."""

import pickle
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from _params import NAMED_PARAMS
from _series import sine_series
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from sbt_sklearn import SBTForecaster, sliding_windows
from sbt_sklearn.estimators._dataset import BatchLoader

TINY = NAMED_PARAMS["forecaster_behaviour"]


def _series(n=240, c=2, seed=0):
    return sine_series(n, c, seed)


@pytest.fixture(scope="module")
def data():
    return sliding_windows(_series(), window=16)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return SBTForecaster(**TINY).fit(X, y)


def test_shapes_and_attributes(fitted, data):
    X, y = data
    pred = fitted.predict(X[:5])
    assert pred.shape == (5, 2) and pred.dtype == np.float64
    assert fitted.n_channels_ == 2 and fitted.n_timesteps_ == 16 and fitted.n_features_in_ == 2
    assert fitted.scaler_mean_.shape == (2,) and fitted.n_epochs_ == 2
    assert fitted.module_.__class__.__name__ == "SBTLastStepNet"


def test_univariate_2d_X_and_1d_y():
    X, y = sliding_windows(_series(c=1)[:, 0], window=10)
    model = SBTForecaster(**TINY).fit(X[:, 0, :], y[:, 0])
    assert model.predict(X[:4, 0, :]).shape == (4,)
    model3d = SBTForecaster(**TINY).fit(X, y)  # (n, 1, T) with (n, 1) y keeps the 2-D output
    assert model3d.predict(X[:4]).shape == (4, 1)
    np.testing.assert_allclose(model.predict(X[:, 0, :]), model3d.predict(X)[:, 0], rtol=1e-5, atol=1e-6)


def test_standardisation_is_learned_and_inverted():
    s = _series(c=2)
    big = s * np.array([50.0, 0.01], dtype=np.float32) + np.array([1000.0, -3.0], dtype=np.float32)
    X, y = sliding_windows(big, window=16)
    model = SBTForecaster(**TINY).fit(X, y)
    covered = big[:-1]  # the rows the windows cover (the last row is only a target)
    np.testing.assert_allclose(model.scaler_mean_, covered.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(model.scaler_scale_, covered.std(axis=0), rtol=1e-4)
    pred = model.predict(X)
    # errors are on the scale of the data, not of the standardised space
    rel = np.abs(pred - y).mean(axis=0) / big.std(axis=0)
    assert (rel < 1.0).all()
    assert np.abs(pred[:, 0] - 1000).max() < 200


@pytest.mark.parametrize("target, bound", [("relative", 0.5), ("delta", 0.5), ("value", 1.0)])
def test_learns_better_than_the_mean(target, bound):
    X, y = sliding_windows(_series(n=300), window=24)
    model = SBTForecaster(d=16, n_layers=1, d_ff=32, max_epochs=4, target=target, random_state=0).fit(X, y)
    mse = ((model.predict(X) - y) ** 2).mean()
    assert mse < bound * y.var(axis=0).mean()


@pytest.mark.parametrize("target", ["relative", "delta"])
def test_change_targets_start_from_persistence(monkeypatch, target):
    """The network output is added to the last observed row: a zero output is persistence."""
    import torch

    X, y = sliding_windows(_series(), window=16)
    model = SBTForecaster(**dict(TINY, max_epochs=1, target=target, linear_base=None)).fit(X, y)
    assert model.base_lags_ == 0 and model.base_coef_ is None
    monkeypatch.setattr(model.module_, "forward", lambda x: torch.zeros(x.shape[0], x.shape[2]))
    np.testing.assert_allclose(model.predict(X), X[:, :, -1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("target", ["relative", "value"])
def test_linear_base_is_the_ridge_the_network_output_is_added_to(monkeypatch, target):
    """With a zero network output the forecast is sklearn's Ridge on the documented features."""
    import torch
    from sklearn.linear_model import Ridge

    X, y = sliding_windows(_series(), window=16)
    model = SBTForecaster(**dict(TINY, max_epochs=1, target=target, base_lags=4, base_alpha=0.01)).fit(X, y)
    assert model.base_lags_ == 4 and model.base_coef_.shape == (4 * 2, 2)
    monkeypatch.setattr(model.module_, "forward", lambda x: torch.zeros(x.shape[0], x.shape[2]))
    std = (np.asarray(X, dtype=np.float64).transpose(0, 2, 1) - model.scaler_mean_) / model.scaler_scale_
    last = std[:, -1]
    feats = np.concatenate([last] + [std[:, -k] - last for k in (2, 3, 4)], axis=1)
    t = (y - model.scaler_mean_) / model.scaler_scale_ - (last if target == "relative" else 0)
    ridge = Ridge(alpha=0.01 * len(X)).fit(feats, t)  # the base penalises the mean squared error
    assert model.base_coef_.dtype == np.float16  # stored and used in float16
    np.testing.assert_allclose(model.base_coef_, ridge.coef_.T, rtol=1e-3, atol=1e-4)
    expected = (ridge.predict(feats) + (last if target == "relative" else 0)) * model.scaler_scale_ \
        + model.scaler_mean_
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-3, atol=2e-3)


def test_no_automatic_linear_base_beyond_128_channels():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 130, 6)).astype(np.float32), rng.normal(size=(60, 130))
    model = SBTForecaster(**dict(TINY, max_epochs=1)).fit(X, y)
    assert model.base_lags_ == 0 and model.base_coef_ is None and model.module_.output_gate is None
    forced = SBTForecaster(**dict(TINY, max_epochs=1, base_lags=1)).fit(X, y)
    assert forced.base_coef_.shape == (130, 130)


def test_linear_base_auto_choice():
    """"auto" picks lags and penalty on the tail; too few windows fall back to fixed values."""
    rng = np.random.default_rng(0)
    e = rng.normal(size=(3000, 1))
    series = np.zeros((3000, 1))
    for t in range(3, 3000):  # AR(3): needs at least 4 lags (the last row and three before it)
        series[t] = 0.5 * series[t - 1] - 0.4 * series[t - 3] + 0.3 * e[t]
    X, y = sliding_windows(series.astype(np.float32), window=32)
    model = SBTForecaster(**dict(TINY, max_epochs=1)).fit(X, y)
    assert 4 <= model.base_lags_ <= 32 and model.base_alpha_ <= 1e-2
    small = SBTForecaster(**dict(TINY, max_epochs=1)).fit(X[:40], y[:40])
    assert (small.base_lags_, small.base_alpha_) == (24, 1e-3)
    with pytest.raises(ValueError, match="exceeds the window length"):
        SBTForecaster(**dict(TINY, max_epochs=1, base_lags=33)).fit(X, y)


def test_relative_target_is_level_equivariant(data):
    """Without the linear base (whose features include the level), shifting every window of a
    channel by c shifts its forecast by c."""
    X, y = data
    model = SBTForecaster(**TINY, linear_base=None).fit(X, y)
    shift = np.array([3.0, -2.0], dtype=np.float32)[None, :, None]
    moved = model.predict(np.asarray(X[:20]) + shift)
    np.testing.assert_allclose(moved, model.predict(X[:20]) + shift[:, :, 0], rtol=1e-4, atol=1e-4)


def test_forecast_rolls_the_single_step_model(fitted, data):
    series = _series()
    f = fitted.forecast(series[-40:], n_steps=3)
    assert f.shape == (3, 2)
    first = fitted.predict(series[-16:].T[None])[0]
    np.testing.assert_allclose(f[0], first, rtol=1e-5, atol=1e-6)
    rolled = np.concatenate([series[-15:], f[:1]]).astype(np.float32)
    np.testing.assert_allclose(f[1], fitted.predict(rolled.T[None])[0], rtol=1e-4, atol=1e-5)


def test_forecast_dataframe_and_1d():
    series = _series(c=1)
    idx = pd.date_range("2020-01-01", periods=len(series), freq="h")
    frame = pd.DataFrame(series, index=idx, columns=["load"])
    X, y = sliding_windows(frame, window=12)
    model = SBTForecaster(**TINY).fit(X, y)
    out = model.forecast(frame, n_steps=4)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["load"]
    assert out.index[0] == idx[-1] + pd.Timedelta(hours=1) and len(out) == 4
    assert model.forecast(series[:, 0], 2).shape == (2,)
    with pytest.raises(ValueError, match="at least the window length"):
        model.forecast(series[:5], 2)
    with pytest.raises(ValueError, match="n_steps"):
        model.forecast(series, 0)
    with pytest.raises(ValueError, match="channels"):
        model.forecast(np.zeros((20, 3)), 2)


def test_does_not_copy_or_write_its_input():
    """Fitting and predicting on a zero-copy window view must never materialise the windows."""
    series = np.cumsum(np.random.default_rng(0).normal(size=(20_000, 4)), axis=0)  # float64, 0.6 MB
    before = series.copy()
    X, y = sliding_windows(series, window=64)
    materialised = X.shape[0] * X.shape[1] * X.shape[2] * 4  # 20 MB even in float32
    model = SBTForecaster(d=8, n_heads=1, n_layers=1, d_ff=8, max_epochs=1, max_windows_per_epoch=256,
                          batch_size=64, random_state=0)
    model.fit(X[:300], y[:300])  # warm-up: the first fit of a process allocates lazily imported state
    tracemalloc.start()
    try:
        model.fit(X, y)
        pred = model.predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert pred.shape == y.shape
    # one batch of windows, the linear base's statistics (O(features^2), not O(windows)): far from a copy
    assert peak < materialised / 5, f"peak {peak / 1e6:.1f} MB vs {materialised / 1e6:.1f} MB materialised"
    np.testing.assert_array_equal(series, before)
    assert not X.flags.writeable and np.shares_memory(X, series)


def test_pickle_is_small_and_round_trips(fitted, data):
    X, _ = data
    blob = pickle.dumps(fitted)
    assert len(blob) < 2_000_000  # the training windows are not kept
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict(X[:10]), fitted.predict(X[:10]))


def test_clone_and_determinism(data):
    X, y = data
    a = SBTForecaster(**TINY).fit(X, y).predict(X[:20])
    b = clone(SBTForecaster(**TINY)).fit(X, y).predict(X[:20])
    c = SBTForecaster(**dict(TINY, random_state=1)).fit(X, y).predict(X[:20])
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_grid_search_with_time_series_split(data):
    X, y = data
    grid = GridSearchCV(SBTForecaster(**dict(TINY, max_epochs=1)), {"p": [0.5, 0.75], "d": [4, 8]},
                        cv=TimeSeriesSplit(n_splits=2))
    grid.fit(X, y)
    assert set(grid.best_params_) == {"p", "d"}
    assert grid.predict(X[:3]).shape == (3, 2)


def test_early_stopping_uses_a_time_tail_with_a_gap(data):
    X, y = data
    model = SBTForecaster(**dict(TINY, max_epochs=3, early_stopping=True, validation_fraction=0.2)).fit(X, y)
    assert "valid_loss" in model.history_[-1]
    ds = model._dataset(np.zeros((100, 2, 16), dtype=np.float32), np.zeros((100, 2), dtype=np.float32))
    train, valid = model._holdout_indices(ds, np.random.default_rng(0))
    assert valid.tolist() == list(range(80, 100))  # the most recent windows
    assert train.max() + 16 < valid.min()  # no training window overlaps a validation window


def test_max_windows_per_epoch(data):
    X, y = data
    model = SBTForecaster(**dict(TINY, max_windows_per_epoch=64)).fit(X, y)
    assert len(model.history_[-1, "batches"]) == 2  # 64 windows / batch_size 32
    loader = BatchLoader(list(range(100)), batch_size=10, max_samples=30, seed=0)
    assert len(loader) == 3


def test_verbose_shows_progress(data, capsys):
    X, y = data
    SBTForecaster(**dict(TINY, verbose=1)).fit(X, y)
    out = capsys.readouterr()
    assert "train_loss" in out.out + out.err


def test_missing_interpolate():
    s = _series()
    s[50, 0] = np.nan
    X, y = sliding_windows(s, window=16)
    with pytest.raises(ValueError, match="NaN"):
        SBTForecaster(**TINY).fit(X, np.nan_to_num(y))
    model = SBTForecaster(**dict(TINY, missing="interpolate")).fit(X, np.nan_to_num(y))
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises(data, bad):
    X, y = data
    Xb = np.array(X[:50])
    Xb[3, 1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        SBTForecaster(**TINY).fit(Xb, y[:50])
    yb = np.array(y[:50])
    yb[0, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        SBTForecaster(**TINY).fit(X[:50], yb)


def test_bad_shapes_raise(fitted, data):
    X, y = data
    with pytest.raises(ValueError, match="columns but X has 2 channels"):
        SBTForecaster(**TINY).fit(X, np.zeros((len(X), 3)))
    with pytest.raises(ValueError, match="y is 1-D but X has 2 channels"):
        SBTForecaster(**TINY).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="samples but y has"):
        SBTForecaster(**TINY).fit(X, y[:-1])
    with pytest.raises(ValueError, match="y must be 1-D"):
        SBTForecaster(**TINY).fit(X, np.zeros((len(X), 2, 1)))
    with pytest.raises(ValueError, match="expecting 2 features|2 channels"):
        fitted.predict(np.zeros((3, 3, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="too short|0 feature|minimum"):
        SBTForecaster(**TINY).fit(np.zeros((10, 2, 0), dtype=np.float32), np.zeros((10, 2)))
    with pytest.raises(ValueError, match="equal length"):
        SBTForecaster(**TINY).fit([np.zeros((2, 5)), np.zeros((2, 6))], np.zeros((2, 2)))


def test_bad_hyperparameters_raise(data):
    X, y = data
    with pytest.raises(ValueError, match="target"):
        SBTForecaster(target="level").fit(X, y)
    with pytest.raises(ValueError, match="max_windows_per_epoch"):
        SBTForecaster(max_windows_per_epoch=0).fit(X, y)
    with pytest.raises(ValueError, match="divisible"):
        SBTForecaster(d=9, n_heads=2).fit(X, y)


def test_pals_adapts_the_prune_rate(data):
    X, y = data
    model = SBTForecaster(**dict(TINY, pals=True, pals_interval=2)).fit(X, y)
    assert 0.0 <= model.p_ <= model.p_max
    assert model.predict(X[:3]).shape == (3, 2)


@pytest.mark.parametrize("target", ["relative", "value"])
def test_model_file_and_folded_export_match_predict(data, target):
    import torch

    X, y = data
    model = SBTForecaster(**dict(TINY, target=target)).fit(X, y)
    again = SBTForecaster.from_bytes(model.to_bytes())
    np.testing.assert_allclose(again.predict(X[:10]), model.predict(X[:10]), rtol=1e-5, atol=1e-6)
    folded = model.export_folded()
    out = folded(torch.from_numpy(np.ascontiguousarray(X[:10], dtype=np.float32))).numpy()
    np.testing.assert_allclose(out, model.predict(X[:10]), rtol=1e-4, atol=1e-4)
