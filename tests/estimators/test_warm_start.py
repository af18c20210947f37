"""warm_start: fit continues the fitted network (issue 21), and sample_weight is refused on purpose."""

import numpy as np
import pytest
import torch
from _params import INIT_PARAMS

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.sktime import SBTSktimeClassifier

CLASSES = {SBTClassifier, SBTForecaster, SBTAnomalyDetector}


def _data(cls, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    series = (rng.normal(size=(240, 2)).cumsum(axis=0) + shift).astype(np.float32)
    X, y = sliding_windows(series, 12)
    if cls is SBTClassifier:
        y = np.where(y[:, 0] > X[:, 0, -1], "up", "down")
    return np.ascontiguousarray(X), (None if cls is SBTAnomalyDetector else y)


def _output(est, X):
    return est.predict_proba(X) if isinstance(est, SBTClassifier) else \
        est.score_samples(X) if isinstance(est, SBTAnomalyDetector) else est.predict(X)


@pytest.mark.parametrize("cls", sorted(CLASSES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_a_warm_fit_starts_from_the_fitted_network_and_keeps_the_first_fit(cls):
    X1, y1 = _data(cls)
    X2, y2 = _data(cls, shift=3.0, seed=1)
    # layer norm: batch norm's running statistics would move with the new data even at lr=1e-12
    # the detector's score rule is chosen again on the new data (as its threshold is): fixed here
    rule = {"rarity": None, "smooth": 1} if cls is SBTAnomalyDetector else {}
    est = cls(**{**INIT_PARAMS[cls], "norm": "layer", **rule}, warm_start=True).fit(X1, y1)
    first_net, first_epochs, mean = est.net_, est.n_epochs_, est.scaler_mean_.copy()
    state = {k: v.clone() for k, v in first_net.module_.state_dict().items()}
    before = _output(est, X2)
    est.set_params(lr=1e-12).fit(X2, y2)  # continue without moving: the model is the fitted one
    np.testing.assert_allclose(_output(est, X2), before, rtol=1e-4, atol=1e-5)
    assert est.n_epochs_ == 2 * first_epochs and len(est.history_) == 2 * first_epochs
    np.testing.assert_array_equal(est.scaler_mean_, mean)  # the scaler of the first fit stays
    assert est.net_ is not first_net  # trained on a copy: the old network is untouched
    assert all(torch.equal(v, first_net.module_.state_dict()[k]) for k, v in state.items())
    cold = cls(**{**INIT_PARAMS[cls], "norm": "layer", **rule}, lr=1e-12).fit(X2, y2)  # a new network: other outputs
    assert not np.allclose(_output(cold, X2), before, rtol=1e-4, atol=1e-5)


def test_a_warm_fit_trains_further():
    X, y = _data(SBTClassifier)
    params = {**INIT_PARAMS[SBTClassifier], "max_epochs": 2}
    est = SBTClassifier(**params, warm_start=True).fit(X, y)
    losses = []
    for _ in range(3):
        est.fit(X, y)
        losses.append(est.history_[-1, "train_loss"])
    assert est.n_epochs_ == 8 and losses[-1] < losses[0]


def test_warm_fits_refuse_what_the_network_cannot_continue():
    X, y = _data(SBTClassifier)
    est = SBTClassifier(**INIT_PARAMS[SBTClassifier], warm_start=True).fit(X, y)
    net = est.net_
    with pytest.raises(ValueError, match=r"hyperparameters changed \(d: 8 -> 16\)"):
        est.set_params(d=16).fit(X, y)
    est.set_params(d=8)
    with pytest.raises(ValueError, match=r"y holds others \(\['sideways'\]\)"):
        est.fit(X, np.where(np.arange(len(y)) == 0, "sideways", y))
    assert est.net_ is net  # a refused fit leaves the model as it was
    with pytest.raises(ValueError, match="X has 3 features, but SBTClassifier is expecting 2"):
        est.fit(np.concatenate([X, X[:, :1]], axis=1), y)
    Xf, yf = _data(SBTForecaster)
    forecaster = SBTForecaster(**INIT_PARAMS[SBTForecaster], warm_start=True).fit(Xf, yf)
    with pytest.raises(ValueError, match="windows of n_timesteps_=12"):
        forecaster.fit(np.ascontiguousarray(Xf[:, :, 2:]), yf)


def test_the_sktime_adapters_refuse_warm_start():
    X, y = _data(SBTClassifier)
    with pytest.raises(ValueError, match="sktime, whose fit resets the estimator"):
        SBTSktimeClassifier(**INIT_PARAMS[SBTClassifier], warm_start=True).fit(X, y)


@pytest.mark.parametrize("cls", sorted(CLASSES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_sample_weight_is_refused(cls):
    X, y = _data(cls)
    with pytest.raises(TypeError, match="sample_weight"):
        cls(**INIT_PARAMS[cls]).fit(X, y, sample_weight=np.ones(len(X)))


def test_a_warm_fit_uses_the_current_training_settings():
    X, y = _data(SBTClassifier)
    est = SBTClassifier(**INIT_PARAMS[SBTClassifier], warm_start=True).fit(X, y)
    est.set_params(class_weight="balanced").fit(X, y)
    counts = np.bincount(np.searchsorted(est.classes_, y))
    np.testing.assert_allclose(est.net_.criterion_.weight.numpy(), len(y) / (2 * counts), rtol=1e-6)
    up = y == "up"  # a warm fit on one class only: weights for the classes y holds, no error
    est.fit(X[up][:40], y[up][:40])
    assert est.net_.criterion_.weight.tolist() == [1.0, 1.0]
    det = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector], warm_start=True).fit(_data(SBTAnomalyDetector)[0])
    det.set_params(loss="huber", max_windows_per_epoch=50).fit(_data(SBTAnomalyDetector)[0])
    assert isinstance(det.net_.criterion_, torch.nn.HuberLoss) and det.net_.iterator_train__max_samples == 50


def test_a_warm_forecaster_refuses_a_changed_target_or_base():
    X, y = _data(SBTForecaster)
    f = SBTForecaster(**INIT_PARAMS[SBTForecaster], warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match=r"target: 'relative' -> 'value'"):
        f.set_params(target="value").fit(X, y)
    with pytest.raises(ValueError, match=r"linear_base: 'ridge' -> None"):
        f.set_params(target="relative", linear_base=None).fit(X, y)


def test_exports_cover_the_longer_windows_of_a_warm_fit():
    rng = np.random.default_rng(0)
    short, long_ = rng.normal(size=(30, 2, 20)).astype(np.float32), rng.normal(size=(30, 2, 60)).astype(np.float32)
    labels = np.arange(30) % 2
    clf = SBTClassifier(**{**INIT_PARAMS[SBTClassifier], "patch_len": 1}, warm_start=True).fit(short, labels)
    clf.fit(long_, labels)
    assert clf.n_timesteps_ == 60
    np.testing.assert_allclose(clf.export_folded()(torch.from_numpy(long_)).numpy(), clf.predict_proba(long_),
                               rtol=0, atol=1e-5)


def test_the_pyod_detector_continues_with_warm_start():
    pytest.importorskip("pyod")
    from sbt_sklearn.pyod import SBTPyODDetector

    X, _ = _data(SBTAnomalyDetector)
    det = SBTPyODDetector(**INIT_PARAMS[SBTAnomalyDetector], warm_start=True).fit(X)
    first = det.estimator_.n_epochs_
    det.fit(X)
    assert det.estimator_.n_epochs_ == 2 * first
