"""SBTForecaster(horizon=H): direct multi-horizon forecasting."""

import numpy as np
import pytest
import torch
from _params import NAMED_PARAMS
from _series import sine_series
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from sbt_sklearn import SBTForecaster, sliding_windows
from sbt_sklearn.compression import honest_flops

TINY = NAMED_PARAMS["forecaster_behaviour"]
H = 5


def _series(n=260, c=2, seed=0):
    return sine_series(n, c, seed)


@pytest.fixture(scope="module")
def data():
    return sliding_windows(_series(), window=16, horizon=H)


@pytest.fixture(scope="module")
def fitted(data):
    return SBTForecaster(**TINY, horizon=H).fit(*data)


def test_shapes_and_network(fitted, data):
    X, y = data
    assert y.shape == (len(X), 2, H)
    assert fitted.predict(X[:4]).shape == (4, 2, H)
    assert fitted.module_.n_queries == H
    assert fitted.base_coef_.shape == (fitted.base_lags_, H) and fitted.base_intercept_.shape == (H,)
    assert fitted.score(X, y) > 0  # R^2 over every output, as sklearn's RegressorMixin


def test_horizon_1_builds_the_network_as_before_and_reads_older_files():
    """horizon=1 passes no query count to the network, and a file written before ``horizon``
    existed (no such parameter in it) loads as a horizon=1 model."""
    from sbt_sklearn.compression import read_model_bytes
    from sbt_sklearn.compression._format import write_model_bytes

    X, y = sliding_windows(_series(), window=16)
    model = SBTForecaster(**TINY).fit(X, y)
    assert "n_queries" not in model.net_.get_params_for("module") and model.module_.n_queries == 1
    meta, tensors = read_model_bytes(model.to_bytes())
    assert "horizon" in meta["params"]
    del meta["params"]["horizon"]
    old = SBTForecaster.from_bytes(write_model_bytes(meta, {k: np.array(v) for k, v in tensors.items()}))
    assert old.horizon == 1
    np.testing.assert_array_equal(old.predict(X[:5]), model.predict(X[:5]))


def test_univariate_2d_y_means_one_channel(data):
    X, y = sliding_windows(_series(c=1), window=16, horizon=H)
    model = SBTForecaster(**TINY, horizon=H).fit(X, y[:, 0, :])  # (n, H)
    assert model.predict(X[:3]).shape == (3, H)
    full = SBTForecaster(**TINY, horizon=H).fit(X, y)
    assert full.predict(X[:3]).shape == (3, 1, H)
    np.testing.assert_allclose(model.predict(X[:3]), full.predict(X[:3])[:, 0], rtol=1e-6)


def test_direct_base_is_the_channel_shared_ridge(monkeypatch, data):
    """With a zero network output the forecast is sklearn's Ridge of every channel's next H
    changes on its own lags re-referenced to its last value, one map for all channels; the last
    value's level itself is not a feature (its coefficient is 0)."""
    from sklearn.linear_model import Ridge

    X, y = data
    model = SBTForecaster(**dict(TINY, max_epochs=1, horizon=H, base_lags=4, base_alpha=0.01)).fit(X, y)
    monkeypatch.setattr(model.module_, "forward", lambda x: torch.zeros(x.shape[0], H, x.shape[2]))
    std = (np.asarray(X, dtype=np.float64).transpose(0, 2, 1) - model.scaler_mean_) / model.scaler_scale_  # (n, T, C)
    last = std[:, -1]  # (n, C)
    feats = np.stack([std[:, -k] - last for k in (2, 3, 4)], axis=2).reshape(-1, 3)  # (n*C, 3)
    t = (np.asarray(y) - model.scaler_mean_[:, None]) / model.scaler_scale_[:, None] - last[:, :, None]
    ridge = Ridge(alpha=0.01 * len(feats)).fit(feats, t.reshape(-1, H))
    assert not model.base_coef_[0].any()  # the level row
    np.testing.assert_allclose(model.base_coef_[1:], ridge.coef_.T, rtol=1e-3, atol=1e-4)
    expected = (ridge.predict(feats).reshape(len(X), 2, H) + last[:, :, None]) * model.scaler_scale_[:, None] \
        + model.scaler_mean_[:, None]
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("alpha", [0.01, "auto"])
def test_direct_base_follows_a_level_shift(monkeypatch, data, alpha):
    """Shifting a window by a constant shifts the base's forecast by that constant: the direct base
    does not forecast from the level it saw in training (robust to a level shift at test time)."""
    X, y = data
    model = SBTForecaster(**dict(TINY, max_epochs=1, horizon=H, base_alpha=alpha)).fit(X, y)
    monkeypatch.setattr(model.module_, "forward", lambda x: torch.zeros(x.shape[0], H, x.shape[2]))
    shift = np.float32(3.0) * model.scaler_scale_[None, :, None]  # 3 standard deviations, every channel
    np.testing.assert_allclose(model.predict(X + shift), model.predict(X) + shift, rtol=1e-4, atol=1e-3)


def test_direct_base_penalty_is_chosen_by_blocked_cross_validation(monkeypatch):
    """``base_alpha="auto"`` with ``horizon > 1``: each of the 5 consecutive blocks of windows is
    scored by sklearn's Ridge fitted on every window more than one window and its targets away
    from the block (no shared row); the penalty with the least error over all blocks is chosen and
    refitted on every window."""
    from sklearn.linear_model import Ridge

    from sbt_sklearn.estimators import _linear_base as lb

    X, y = sliding_windows(_series(n=400), window=16, horizon=H)
    n, c, t = X.shape
    mean, scale = np.zeros(c), np.ones(c)
    x = np.asarray(X, dtype=np.float64)
    feats = (x[:, :, ::-1][:, :, 1:] - x[:, :, -1:]).reshape(-1, t - 1)  # newest first, minus the last value
    targets = (np.asarray(y, dtype=np.float64) - x[:, :, -1:]).reshape(-1, H)
    window = np.repeat(np.arange(n), c)
    gap, edges = t + H - 1, np.linspace(0, n, 6).round().astype(int)
    grid = (1e-4, 1e-2, 1.0)
    expected = dict.fromkeys(grid, 0.0)
    for lo, hi in zip(edges[:-1], edges[1:]):
        scored = (window >= lo) & (window < hi)
        train = (window < lo - gap) | (window >= hi + gap)
        for alpha in grid:
            ridge = Ridge(alpha=alpha * train.sum()).fit(feats[train], targets[train])
            expected[alpha] += float(np.square(ridge.predict(feats[scored]) - targets[scored]).sum())
    total, errors = lb._blocked_cv(X, y, np.arange(n), mean, scale, t, True, gap=gap,
                                   alphas=grid, level=False)
    assert total.n == n * c
    np.testing.assert_allclose([errors[a] * n * c for a in grid], [expected[a] for a in grid], rtol=1e-6)

    assert len({round(v, 6) for v in expected.values()}) == 3  # the choice is not a tie
    monkeypatch.setattr(lb, "ALPHA_GRID", grid)
    coef, _, lags, alpha = lb.fit_linear_base(X, y, mean, scale, relative=True, lags="auto", alpha="auto",
                                              rng=np.random.default_rng(0))
    assert (lags, alpha) == (t, min(grid, key=expected.get))
    ridge = Ridge(alpha=alpha * len(feats)).fit(feats, targets)  # refitted on every window
    np.testing.assert_allclose(coef[1:], ridge.coef_.T, rtol=1e-2, atol=2e-3)  # float16 coefficients

    few = sliding_windows(_series(n=60), window=16, horizon=H)  # two folds need more windows: fixed defaults
    assert lb.fit_linear_base(*few, mean, scale, relative=True, lags="auto", alpha="auto",
                              rng=np.random.default_rng(0))[2:] == (16, 1e-3)


def test_forecast_is_direct_then_blockwise(fitted):
    series = _series()
    f = fitted.forecast(series[-40:], n_steps=2 * H + 2)
    direct = fitted.predict(series[-16:].T[None])[0].T  # (H, C)
    np.testing.assert_allclose(f[:H], direct, rtol=1e-5, atol=1e-6)
    rolled = np.concatenate([series, direct]).astype(np.float32)[-16:]
    np.testing.assert_allclose(f[H : 2 * H], fitted.predict(rolled.T[None])[0].T, rtol=1e-4, atol=1e-5)
    assert f.shape == (2 * H + 2, 2)
    np.testing.assert_allclose(fitted.forecast(series[-40:], n_steps=3), f[:3], rtol=1e-6)


def test_file_folded_onnx_shape_and_flops(fitted, data):
    X, _ = data
    expected = fitted.predict(X[:7])
    again = SBTForecaster.from_bytes(fitted.to_bytes())
    np.testing.assert_allclose(again.predict(X[:7]), expected, rtol=1e-6, atol=1e-6)
    assert again.horizon == H and again.module_.n_queries == H
    folded = fitted.export_folded()
    out = folded(torch.from_numpy(np.ascontiguousarray(X[:7]))).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    # FLOPs: H query rows of the final layer and decoder, H queries over T past rows
    one = SBTForecaster(**TINY).fit(*sliding_windows(_series(), window=16))
    f_h, f_1 = honest_flops(fitted.module_, 16 + H), honest_flops(one.module_, 17)
    assert f_h["head"] == H * f_1["head"]
    assert f_h["softmax"] > f_1["softmax"] and f_h["total"] > f_1["total"]


def test_onnx_export_matches_predict(tmp_path, fitted, data):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, _ = data
    path = tmp_path / "h.onnx"
    fitted.export_onnx(path)
    out = ort.InferenceSession(str(path)).run(None, {"x": np.ascontiguousarray(X[:6])})[0]
    np.testing.assert_allclose(out, fitted.predict(X[:6]), rtol=1e-4, atol=1e-4)


def test_c_export_is_refused_clearly(fitted, tmp_path):
    with pytest.raises(NotImplementedError, match="multi-horizon"):
        fitted.export_c(tmp_path / "m")


def test_pals_and_dense_twin(data):
    X, y = data
    pals = SBTForecaster(**dict(TINY, horizon=H, pals=True, pals_interval=2)).fit(X, y)
    assert 0.0 <= pals.p_ <= pals.p_max and pals.predict(X[:2]).shape == (2, 2, H)
    dense = SBTForecaster(**dict(TINY, horizon=H, binary=False, p=0.0)).fit(X, y)
    np.testing.assert_allclose(SBTForecaster.from_bytes(dense.to_bytes()).predict(X[:3]), dense.predict(X[:3]),
                               rtol=1e-6)


def test_determinism_and_grid_search(data):
    X, y = data
    a = SBTForecaster(**dict(TINY, random_state=3), horizon=H).fit(X, y).predict(X[:5])
    b = clone(SBTForecaster(**dict(TINY, random_state=3), horizon=H)).fit(X, y).predict(X[:5])
    np.testing.assert_array_equal(a, b)
    search = GridSearchCV(SBTForecaster(**dict(TINY, max_epochs=1, random_state=0), horizon=H),
                          {"p": [0.5, 0.75]}, cv=TimeSeriesSplit(n_splits=2)).fit(X, y)
    assert search.best_params_["p"] in (0.5, 0.75) and search.predict(X[:2]).shape == (2, 2, H)


def test_warm_start_keeps_the_horizon(data):
    X, y = data
    model = SBTForecaster(**dict(TINY, max_epochs=1), horizon=H, warm_start=True).fit(X, y)
    model.fit(X, y)  # continues
    model.set_params(horizon=H + 1)
    with pytest.raises(ValueError, match="horizon"):
        model.fit(*sliding_windows(_series(), window=16, horizon=H + 1))


def test_bad_y_and_windows_raise(data):
    X, y = data
    est = SBTForecaster(**TINY, horizon=H)
    with pytest.raises(ValueError, match=r"horizon=5"):
        est.fit(X, np.asarray(y)[:, :, :3])  # the horizon does not match
    with pytest.raises(ValueError, match="channel"):
        est.fit(X, np.asarray(y)[:, 0, :])  # 2-D y with 2 channels
    with pytest.raises(ValueError, match="horizon=5"):
        est.fit(X, np.asarray(y)[:, :, 0])  # a single-step y
    with pytest.raises(ValueError, match="NaN"):
        bad = np.array(y)
        bad[3, 1, 2] = np.nan
        est.fit(X, bad)
    model = SBTForecaster(**dict(TINY, max_epochs=1), horizon=H, base_lags=8).fit(X, y)
    with pytest.raises(ValueError, match="too short"):
        model.predict(X[:2, :, -4:])  # shorter than the base's look-back


def test_blend_weights_the_network_output_per_step(monkeypatch, fitted, data):
    """predict = level + base + net_blend_[h] * network output, and the blend is the smaller of
    the clipped least-squares weights on the two halves of the held-out tail."""
    X, _ = data
    blend = fitted.net_blend_
    assert blend.shape == (H,) and ((blend >= 0) & (blend <= 1)).all()
    model = SBTForecaster.from_bytes(fitted.to_bytes())
    np.testing.assert_array_equal(model.net_blend_, blend)
    monkeypatch.setattr(model.module_, "forward", lambda x: torch.zeros(x.shape[0], H, x.shape[2]))
    zero = model.predict(X[:4])
    monkeypatch.setattr(model.module_, "forward", lambda x: torch.ones(x.shape[0], H, x.shape[2]))
    one = model.predict(X[:4])
    expected = blend[None, None, :] * model.scaler_scale_[None, :, None]
    np.testing.assert_allclose(one - zero, np.broadcast_to(expected, one.shape), rtol=1e-4, atol=1e-5)

    out = torch.randn(50, H, 2)
    for factor, weight in ((0.5, 0.5), (2.0, 1.0), (-1.0, 0.0)):
        monkeypatch.setattr(SBTForecaster, "_predict_batches", lambda self, ds, f=factor: iter([(out, f * out)]))
        np.testing.assert_allclose(model._fit_blend(object()), np.full(H, weight), rtol=1e-6)
    # the halves disagree: the network counts only as far as both support it
    for first, second, weight in ((0.8, 0.3, 0.3), (0.2, 0.9, 0.2), (1.0, -1.0, 0.0), (-0.5, 0.7, 0.0)):
        resid = torch.cat([first * out[:25], second * out[25:]])
        batches = [(out[:10], resid[:10]), (out[10:], resid[10:])]  # the halves do not follow the batches
        monkeypatch.setattr(SBTForecaster, "_predict_batches", lambda self, ds, b=batches: iter(b))
        np.testing.assert_allclose(model._fit_blend(object()), np.full(H, weight), rtol=1e-6)
    monkeypatch.setattr(SBTForecaster, "_predict_batches", lambda self, ds: iter([(out[:1], 0.4 * out[:1])]))
    np.testing.assert_allclose(model._fit_blend(object()), np.full(H, 0.4), rtol=1e-6)  # one window


def test_torchscript_and_torch_export_of_the_folded_model(tmp_path, fitted, data):
    X, _ = data
    x = torch.from_numpy(np.ascontiguousarray(X[:4]))
    expected = fitted.predict(X[:4])
    scripted = torch.jit.script(fitted.export_folded())
    np.testing.assert_allclose(scripted(x).numpy(), expected, rtol=1e-4, atol=1e-4)
    program = torch.export.export(fitted.export_folded(), (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    np.testing.assert_allclose(program.module()(x[:3]).numpy(), expected[:3], rtol=1e-4, atol=1e-4)


def test_compression_report_states_the_horizon_and_charges_the_base(fitted):
    report = fitted.compression_report()
    model = report.to_dict()["model"]
    assert model["horizon"] == H and model["window"] == 16 + H
    assert "horizon=5" in str(report)
    base_floats = fitted.base_coef_.size + fitted.base_intercept_.size
    honest = report.to_dict()["honest"]
    assert honest["float_params"]["sbt"] >= base_floats and honest["float_params"]["dense"] >= base_floats
    # the shared base runs once per channel
    assert honest["flops_breakdown"]["sbt"]["linear_base"] == 2 * fitted.base_coef_.size


def test_the_held_out_tail_shares_no_row_with_the_training_targets(data):
    """A training window's targets reach H - 1 rows past the next window's start: the hold-out
    (blend, early stopping, PALS) starts after the last training target."""
    from sbt_sklearn.estimators._dataset import WindowDataset

    X, y = data
    ds = WindowDataset(X, y, None, mean=np.zeros(2), scale=np.ones(2), make_batch=None)
    train_idx, valid_idx = SBTForecaster(**TINY, horizon=H)._holdout_indices(ds, None)
    last_training_target_row = train_idx[-1] + 16 + H - 1  # window i covers rows i..i+15, targets i+16..i+15+H
    first_held_out_row = valid_idx[0]
    assert first_held_out_row > last_training_target_row
    assert first_held_out_row == last_training_target_row + 1


def test_flat_y_fits_the_same_model_and_works_with_sklearns_scorers(data, fitted):
    """y flat as (n, C * H), channel after channel, is the 3-D y reshaped: the same model, predict
    returns the flat form, named scorers and GridSearchCV accept it, and a file keeps the form."""
    X, y = data
    flat = np.asarray(y).reshape(len(X), -1)
    model = SBTForecaster(**TINY, horizon=H).fit(X, flat)
    assert model.predict(X[:4]).shape == (4, 2 * H)
    np.testing.assert_array_equal(model.predict(X[:4]), fitted.predict(X[:4]).reshape(4, -1))
    assert model.score(X, flat) == pytest.approx(fitted.score(X, y), rel=1e-12)
    search = GridSearchCV(SBTForecaster(**dict(TINY, max_epochs=1, random_state=0), horizon=H), {"p": [0.5, 0.75]},
                          cv=TimeSeriesSplit(n_splits=2), scoring="neg_mean_squared_error").fit(X, flat)
    assert search.best_score_ < 0 and search.predict(X[:2]).shape == (2, 2 * H)
    loaded = SBTForecaster.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(loaded.predict(X[:3]), model.predict(X[:3]))
    assert "_y_flat" not in vars(fitted) and "_y_flat" in vars(loaded)  # files of the other forms are unchanged
    model.fit(X, y)  # refitted on the 3-D form: predict follows
    assert model.predict(X[:2]).shape == (2, 2, H) and "_y_flat" not in vars(model)
    with pytest.raises(ValueError, match="flat"):
        SBTForecaster(**dict(TINY, max_epochs=1), horizon=H, warm_start=True).fit(X, y).fit(X, flat)
    with pytest.raises(ValueError, match=r"\(n_samples, 10\)"):
        SBTForecaster(**TINY, horizon=H).fit(X, flat[:, :-1])  # neither form


def test_a_file_claiming_a_flat_y_for_one_channel_is_refused():
    from sbt_sklearn.compression import read_model_bytes
    from sbt_sklearn.compression._format import write_model_bytes
    from sbt_sklearn.estimators._persistence import SBTFileError

    X, y = sliding_windows(_series(c=1), window=16, horizon=H)
    meta, tensors = read_model_bytes(SBTForecaster(**dict(TINY, max_epochs=1), horizon=H).fit(X, y).to_bytes())
    meta["attributes"]["_y_flat"] = True
    with pytest.raises(SBTFileError, match="_y_flat"):
        SBTForecaster.from_bytes(write_model_bytes(meta, {k: np.array(v) for k, v in tensors.items()}))
