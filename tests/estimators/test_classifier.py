"""SBTClassifier behaviour: inputs, padding, errors, determinism and sklearn integration."""

import pickle

import numpy as np
import pandas as pd
import pytest
from _params import NAMED_PARAMS
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sbt_sklearn import SBTClassifier

FAST = NAMED_PARAMS["classifier_learns"]


@pytest.fixture(scope="module")
def fitted(request):
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b", "c"]), 30)
    X = rng.normal(size=(90, 3, 16)).astype(np.float32)
    X[y == "b", 0] += 1.5
    X[y == "c", 1] -= 1.5
    return SBTClassifier(**FAST).fit(X, y), X, y


def test_learns_and_returns_labels_and_probabilities(fitted):
    clf, X, y = fitted
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64 and proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.n_channels_ == 3 and clf.n_features_in_ == 3 and clf.n_timesteps_ == 16
    assert clf.scaler_mean_.shape == (3,) and clf.n_epochs_ == 30


def test_integer_unordered_labels():
    rng = np.random.default_rng(1)
    y = np.array([7, -2, 7, 3] * 10)
    X = rng.normal(size=(40, 2, 8))
    X[:, 0] += y[:, None] / 3
    clf = SBTClassifier(**FAST).fit(X, y)
    assert clf.classes_.tolist() == [-2, 3, 7]
    assert set(clf.predict(X)) <= {-2, 3, 7}


def test_two_dimensional_input_is_univariate():
    rng = np.random.default_rng(2)
    y = np.array([0, 1] * 20)
    X = rng.normal(size=(40, 12)) + y[:, None]
    clf = SBTClassifier(**FAST).fit(X, y)
    assert clf.n_channels_ == 1 and clf.n_features_in_ == 12
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :10])


def test_same_random_state_same_predictions_different_state_differs(fitted):
    clf, X, y = fitted
    again = SBTClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), again.predict_proba(X))
    other = SBTClassifier(**{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(clf.predict_proba(X), other.predict_proba(X))


def test_sktime_panel_containers_give_the_same_predictions(fitted):
    clf, X, _ = fitted
    expected = clf.predict_proba(X[:6])
    # pd-multiindex: (instance, time) rows, one column per channel
    idx = pd.MultiIndex.from_product([range(6), range(16)], names=["instance", "time"])
    multi = pd.DataFrame(X[:6].transpose(0, 2, 1).reshape(-1, 3), index=idx, columns=["c0", "c1", "c2"])
    np.testing.assert_allclose(clf.predict_proba(multi), expected, rtol=1e-6, atol=1e-7)
    # nested_univ: one pd.Series per cell
    nested = pd.DataFrame({f"c{j}": [pd.Series(X[i, j]) for i in range(6)] for j in range(3)})
    np.testing.assert_allclose(clf.predict_proba(nested), expected, rtol=1e-6, atol=1e-7)
    # df-list: one (time, channel) frame per instance
    frames = [pd.DataFrame(X[i].T) for i in range(6)]
    np.testing.assert_allclose(clf.predict_proba(frames), expected, rtol=1e-6, atol=1e-7)
    # a plain list of (channels, time) arrays
    np.testing.assert_allclose(clf.predict_proba(list(X[:6])), expected, rtol=1e-6, atol=1e-7)


def test_sktime_convert_roundtrip_input():
    sktime = pytest.importorskip("sktime.datatypes")
    rng = np.random.default_rng(3)
    y = np.array(["x", "y"] * 15)
    X = rng.normal(size=(30, 2, 10))
    X[y == "y", 1] += 2
    clf = SBTClassifier(**FAST).fit(X, y)
    nested = sktime.convert_to(X, to_type="nested_univ")
    multi = sktime.convert_to(X, to_type="pd-multiindex")
    np.testing.assert_allclose(clf.predict_proba(nested), clf.predict_proba(X), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(clf.predict_proba(multi), clf.predict_proba(X), rtol=1e-6, atol=1e-7)


def _unequal_panel(seed=4):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(5, 14, size=40)
    y = np.array(["p", "q"] * 20)
    X = [rng.normal(size=(2, n)) + (1.0 if lab == "q" else -1.0) for n, lab in zip(lengths, y)]
    return X, y


def test_unequal_length_panels_and_longer_series_at_predict():
    X, y = _unequal_panel()
    clf = SBTClassifier(**FAST).fit(X, y)
    assert clf.n_timesteps_ == max(s.shape[1] for s in X)
    assert clf.score(X, y) > 0.9
    rng = np.random.default_rng(5)
    longer = [rng.normal(size=(2, 25)) + 1.0, rng.normal(size=(2, 30)) - 1.0]
    assert clf.predict(longer).tolist() == ["q", "p"]


def test_padded_steps_never_change_a_prediction():
    X, y = _unequal_panel()
    clf = SBTClassifier(**FAST).fit(X, y)
    series = X[0]
    alone = clf.predict_proba([series])
    # predicted next to a much longer series: it gets padded, its probabilities must not move
    with_long = clf.predict_proba([series, np.zeros((2, 40))])[:1]
    np.testing.assert_allclose(with_long, alone, rtol=1e-5, atol=1e-6)


def test_nan_handling_raise_or_interpolate():
    X, y = _unequal_panel()
    X = [s.copy() for s in X]
    X[3][0, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SBTClassifier(**FAST).fit(X, y)
    clf = SBTClassifier(**{**FAST, "missing": "interpolate"}).fit(X, y)
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.full((6, 2, 5), np.inf), [0, 1] * 3, "infinity"),
        (np.zeros((0, 2, 5)), [], "0 sample"),
        (np.zeros((6, 2, 5)), [1] * 6, "1 class"),
        (np.zeros((6, 2, 5, 2)), [0, 1] * 3, "4-D"),
        (np.zeros((6, 2, 0)), [0, 1] * 3, "too short|0 feature"),
        (np.array([["a", "b"], ["c", "d"]], dtype=object), [0, 1], "could not convert|string"),
        (np.zeros((6, 2, 5)), [0, 1] * 2, "samples"),
    ],
)
def test_bad_input_errors(X, y, match):
    with pytest.raises(ValueError, match=match):
        SBTClassifier(**FAST).fit(X, np.asarray(y))


def test_wrong_number_of_channels_at_predict(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match="features|channels"):
        clf.predict(X[:, :2])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"p": 1.5}, "'p' parameter"),
        ({"d": 10, "n_heads": 3}, "divisible"),
        ({"attention": "sparse"}, "'attention' parameter"),
        ({"device": "gpu"}, "device"),
        ({"lr": -1.0}, "'lr' parameter"),
    ],
)
def test_bad_hyperparameters_are_reported_at_fit(panel, params, match):
    X, y = panel
    clf = SBTClassifier(**{**FAST, **params})  # __init__ accepts anything
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_cuda_request_without_cuda_is_a_clear_error(panel):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    with pytest.raises(ValueError, match="CUDA is not available"):
        SBTClassifier(**{**FAST, "device": "cuda"}).fit(*panel)
    assert SBTClassifier(**{**FAST, "max_epochs": 1, "device": "auto"}).fit(*panel).net_.device == "cpu"


def test_clone_pickle_and_identical_probabilities(fitted):
    clf, X, _ = fitted
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params() and not hasattr(cloned, "net_")
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))


def test_pipeline_and_grid_search_over_p_and_d(panel):
    X, y = panel
    pipe = make_pipeline(FunctionTransformer(lambda a: a * 2.0), SBTClassifier(**{**FAST, "max_epochs": 3}))
    assert pipe.fit(X, y).predict(X).shape == (90,)
    grid = {"p": [0.25, 0.75], "d": [8, 16]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    serial = GridSearchCV(SBTClassifier(**{**FAST, "max_epochs": 3}), grid, cv=cv).fit(X, y)
    parallel = GridSearchCV(SBTClassifier(**{**FAST, "max_epochs": 3}), grid, cv=cv, n_jobs=2).fit(X, y)
    assert len(serial.cv_results_["params"]) == 4
    np.testing.assert_allclose(serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"])
    assert serial.best_estimator_.p in (0.25, 0.75)


def test_early_stopping_restores_the_best_weights(panel):
    X, y = panel
    clf = SBTClassifier(**{**FAST, "max_epochs": 40, "early_stopping": True, "n_iter_no_change": 3}).fit(X, y)
    losses = clf.history_[:, "valid_loss"]
    assert clf.n_epochs_ <= 40 and len(losses) == clf.n_epochs_
    best = int(np.argmin(losses))
    if clf.n_epochs_ < 40:  # stopped early: the last epochs did not improve
        assert clf.n_epochs_ - 1 - best >= 3
    assert clf.history_[best, "valid_loss_best"]


def test_class_weight_changes_the_loss(panel):
    X, y = panel
    a = SBTClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    b = SBTClassifier(**{**FAST, "max_epochs": 2, "class_weight": {"a": 10.0}}).fit(X, y)
    c = SBTClassifier(**{**FAST, "max_epochs": 2, "class_weight": "balanced"}).fit(X, y)
    assert a.history_[-1, "train_loss"] != b.history_[-1, "train_loss"]
    assert c.net_.criterion_.weight is not None


def test_verbose_prints_progress_and_quiet_prints_nothing(panel, capsys):
    X, y = panel
    SBTClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    SBTClassifier(**{**FAST, "max_epochs": 2, "verbose": 1}).fit(X, y)
    loud = capsys.readouterr()
    assert "train_loss" in loud.out and "epoch" in loud.out


def test_fit_writes_no_files(panel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    SBTClassifier(**{**FAST, "max_epochs": 2}).fit(*panel)
    assert list(tmp_path.iterdir()) == []
