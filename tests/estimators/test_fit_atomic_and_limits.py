"""A refit leaves the old model or the new one; extreme values and long windows give clear errors
or bounded memory, never silent NaN (issue 22, classes 4-6 and the forecaster's short windows)."""

import numpy as np
import pytest
import torch
from _outputs import main_output
from _params import INIT_PARAMS
from sklearn.exceptions import NotFittedError

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.estimators._base import SBTBase

ESTIMATORS = [SBTClassifier, SBTForecaster, SBTAnomalyDetector]


def _series(n=240, c=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c)).cumsum(axis=0)


def _data(cls, c=3, seed=0):
    X, y = sliding_windows(_series(c=c, seed=seed), 12)
    if cls is SBTClassifier:
        return X, (y[:, 0] > X[:, 0, -1]).astype(int)
    if cls is SBTAnomalyDetector:
        return X, None
    return X, y


def _fitted_state(est):
    """Attribute names and, for arrays and scalars, their values."""
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(est).items()}


# -- class 6: an interrupted refit ----------------------------------------------------------------
@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("stage", ["_fit_scaler", "_train"])
def test_interrupted_refit_keeps_the_old_model(cls, stage, monkeypatch):
    X3, y3 = _data(cls, c=3)
    est = cls(**INIT_PARAMS[cls]).fit(X3, y3)
    before, out_before, net_before = _fitted_state(est), main_output(est, X3[:20]), est.net_
    X5, y5 = _data(cls, c=5, seed=1)

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    # the scaler is fitted after n_channels_ (and, for the classifier, classes_) were assigned;
    # _train runs after the forecaster's linear base was fitted
    monkeypatch.setattr(cls, stage, interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X5, y5)
    monkeypatch.undo()
    after = _fitted_state(est)
    assert after.keys() == before.keys()
    assert est.n_channels_ == 3 and est.net_ is net_before
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)
    np.testing.assert_array_equal(main_output(est, X3[:20]), out_before)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_interrupted_first_fit_leaves_an_unfitted_estimator(cls, monkeypatch):
    X, y = _data(cls)
    est = cls(**INIT_PARAMS[cls])
    params = dict(vars(est))

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cls, "_train", interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert vars(est) == params
    with pytest.raises(NotFittedError):
        main_output(est, X)


def test_failed_refit_after_validation_keeps_the_old_model():
    X, y = _data(SBTForecaster)
    est = SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y)
    pred = est.predict(X[:10])
    with pytest.raises(ValueError, match="y has 2 columns"):
        est.fit(X, y[:, :2])
    assert est.n_channels_ == 3
    np.testing.assert_array_equal(est.predict(X[:10]), pred)


# -- class 4: values that overflow float32 inside the network ------------------------------------
def test_diverged_training_is_an_error_and_keeps_the_old_model():
    X, y = _data(SBTForecaster)
    est = SBTForecaster(**{**INIT_PARAMS[SBTForecaster], "linear_base": None}).fit(X, y)
    pred = est.predict(X[:10])
    y_bad = np.array(y, dtype=np.float32)
    y_bad[3, 0] = 1e30  # finite in float32; its square in the loss is not
    with pytest.raises(ValueError, match="training diverged"):
        est.fit(X, y_bad)
    np.testing.assert_array_equal(est.predict(X[:10]), pred)


def test_linear_base_beyond_float16_is_an_error():
    X, y = _data(SBTForecaster)
    y_bad = np.array(y, dtype=np.float32)
    y_bad[3, 0] = 1e30
    with pytest.raises(ValueError, match="linear base's ridge coefficients"):
        SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y_bad)


def test_forecaster_y_and_history_are_checked_in_float32():
    X, y = _data(SBTForecaster)
    y64 = np.array(y, dtype=np.float64)
    y64[0, 1] = 1e39
    with pytest.raises(ValueError, match="beyond the float32 range"):
        SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y64)
    est = SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y)
    history = _series()[-30:].copy()
    history[-1, 0] = np.finfo(np.float64).max
    with pytest.raises(ValueError, match="beyond the float32 range"):
        est.forecast(history, 3)


@pytest.mark.parametrize("complex_y", [True, False])
def test_forecaster_refuses_complex_values(complex_y):
    X, y = _data(SBTForecaster)
    if complex_y:
        with pytest.raises(ValueError, match="Complex data not supported"):
            SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y + 1j)
        return
    est = SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.forecast(_series()[-30:] + 0j, 2)


@pytest.mark.parametrize("cls", [SBTClassifier, SBTForecaster], ids=lambda c: c.__name__)
def test_output_overflow_is_a_clear_error_naming_the_window(cls):
    X, y = _data(cls)
    # the default architecture (the tiny test network happens to saturate instead of overflowing)
    est = cls(max_epochs=1, random_state=0).fit(X, y)
    bad = np.array(X[:6], dtype=np.float32)
    bad[4, 0, -1] = 1e30  # finite float32; standardised and embedded it is not
    assert np.isfinite(bad).all()
    with pytest.raises(ValueError, match=r"not finite for 1 window\(s\) \(first indices \[4\]\)"):
        main_output(est, bad)
    # the other windows still predict
    assert np.isfinite(main_output(est, np.delete(bad, 4, axis=0))).all()


def test_detector_scores_extreme_values_as_anomalies():
    X, _ = _data(SBTAnomalyDetector)
    det = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit(X)
    windows = np.array(X[:6], dtype=np.float32)
    windows[2, 0, -1] = 1e30
    try:
        scores = det.score_samples(windows)
    except ValueError as exc:  # the network overflowed: a clear error is the other allowed outcome
        assert "not finite" in str(exc)
        return
    assert np.isfinite(scores).all() and np.argmin(scores) == 2


# -- class 8: forecaster windows shorter than its linear base ------------------------------------
def test_forecaster_windows_shorter_than_base_lags():
    X, y = _data(SBTForecaster)
    est = SBTForecaster(**{**INIT_PARAMS[SBTForecaster], "base_lags": 8}).fit(X, y)
    assert est.base_lags_ == 8
    with pytest.raises(ValueError, match=r"too short: the fitted linear base uses the last base_lags_=8"):
        est.predict(np.ascontiguousarray(X[:3, :, -5:]))
    assert est.predict(np.ascontiguousarray(X[:3, :, -8:])).shape == (3, 3)


# -- class 5: inference memory follows attention, not input bytes --------------------------------
def test_inference_batches_are_sized_from_attention_memory(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3, 300)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    patched = SBTClassifier(**{**INIT_PARAMS[SBTClassifier], "max_epochs": 1}).fit(X, y)
    assert patched.patch_len_ == 10  # 1000 steps are 100 tokens of 30 inputs
    assert patched._window_bytes(3, 1000) == 4 * (3 * patched.n_heads * 100 * 100 + 100 * (30 + 6 * 8 + 2 * 16))
    clf = SBTClassifier(**{**INIT_PARAMS[SBTClassifier], "max_epochs": 1, "patch_len": 1}).fit(X, y)
    # one window of T=1000 with 2 heads: three (2, 1000, 1000) float32 tensors = 24 MB
    per_window = clf._window_bytes(3, 1000)
    assert per_window >= 4 * 3 * clf.n_heads * 1000 * 1000
    assert clf._predict_batch_size(3, 1000) == max(1, SBTBase._predict_max_bytes // per_window)
    assert clf._predict_batch_size(3, 1000) * per_window <= SBTBase._predict_max_bytes
    # the batches the network sees follow that size, and the result does not depend on it
    seen = []
    forward = type(clf.module_).forward

    def recording(module, x, *args, **kwargs):
        seen.append(x.shape[0])
        return forward(module, x, *args, **kwargs)

    monkeypatch.setattr(type(clf.module_), "forward", recording)
    X_long = rng.normal(size=(7, 3, 1000)).astype(np.float32)
    proba = clf.predict_proba(X_long)
    assert max(seen) == clf._predict_batch_size(3, 1000) and sum(seen) == 7
    monkeypatch.setattr(clf, "_predict_max_bytes", 1)  # one window per batch
    seen.clear()
    np.testing.assert_allclose(clf.predict_proba(X_long), proba, rtol=1e-5, atol=1e-6)
    assert seen == [1] * 7


def test_last_step_attention_memory_is_linear_in_the_window():
    X, y = _data(SBTForecaster)
    est = SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y)
    assert est.attention == "step_t"
    assert est._window_bytes(3, 2000) == 2 * est._window_bytes(3, 1000)
    est.set_params(attention="full")
    assert est._window_bytes(3, 2000) > 3 * est._window_bytes(3, 1000)


def test_an_overflow_error_leaves_torch_as_it_was():
    X, y = _data(SBTClassifier)
    clf = SBTClassifier(max_epochs=1, random_state=0, n_jobs=1).fit(X, y)
    bad = np.array(X[:2], dtype=np.float32)
    bad[0, 0, 0] = 1e30
    threads = torch.get_num_threads()
    with pytest.raises(ValueError, match="not finite"):
        clf.predict(bad)
    assert torch.is_grad_enabled() and torch.get_num_threads() == threads
    assert clf.predict(np.array(X[:2])).shape == (2,)
