"""PALS wired into the estimators: trajectory, best checkpoint, determinism, sklearn integration."""

import pickle

import numpy as np
import pytest
from _params import NAMED_PARAMS
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sbt_sklearn import SBTClassifier
from sbt_sklearn.nn import sparse_layers
from sbt_sklearn.nn._biprop import SparseBinaryLinear

PALS = NAMED_PARAMS["classifier_pals"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["a", "b"]), 40)
    X = rng.normal(size=(80, 2, 10)).astype(np.float32)
    X[y == "b", 0] += 1.0
    return X, y


@pytest.fixture(scope="module")
def fitted(data):
    return SBTClassifier(**PALS).fit(*data)


def test_trajectory_and_best_checkpoint(fitted):
    clf = fitted
    hist = clf.pals_history_
    # 72 training samples (10 % held out), batch 8 -> 9 steps per epoch, 54 steps, a decision every 3
    assert len(hist) == 54 // 3
    assert [h["step"] for h in hist] == list(range(3, 55, 3))
    assert hist[0]["p"] == 0.5 and hist[0]["decision"] == "shrink"
    assert {h["decision"] for h in hist} <= {"shrink", "stable", "expand", "frozen"}
    assert all(h["decision"] == "frozen" for h in hist if h["step"] >= 36)
    for a, b in zip(hist, hist[1:]):
        assert b["p"] == pytest.approx(a["p_after"])
    best = min(hist, key=lambda h: h["val_loss"])
    assert clf.p_ == pytest.approx(best["p"])  # the best checkpoint is kept with its prune rate
    assert 0.5 <= clf.p_ <= 0.9
    assert all(layer.p == pytest.approx(clf.p_) for layer in sparse_layers(clf.module_))
    assert len(clf.history_[:, "pals_p"]) == clf.n_epochs_


def test_pals_is_deterministic_and_survives_pickle_and_clone(data, fitted):
    again = SBTClassifier(**PALS).fit(*data)
    assert again.pals_history_ == fitted.pals_history_
    np.testing.assert_array_equal(again.predict_proba(data[0]), fitted.predict_proba(data[0]))
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(data[0]), fitted.predict_proba(data[0]))
    assert restored.p_ == fitted.p_
    assert clone(fitted).get_params()["pals"] is True


def test_without_pals_p_is_the_fixed_rate(data):
    clf = SBTClassifier(**{**PALS, "pals": False, "max_epochs": 1}).fit(*data)
    assert clf.p_ == 0.5 and clf.pals_history_ == []


def test_dense_pals_prunes_fp32_weights_by_magnitude(data):
    clf = SBTClassifier(**{**PALS, "binary": False, "p": 0.0}).fit(*data)
    layers = [m for m in clf.module_.modules() if isinstance(m, SparseBinaryLinear)]
    assert all(m.prune_mask is not None for m in layers)
    total = sum(m.weight.numel() for m in layers)
    measured = 1 - sum(int(m.prune_mask.sum()) for m in layers) / total
    assert clf.p_ == pytest.approx(measured)
    assert clf.pals_history_[0]["p"] == 0.0 and clf.pals_history_[0]["decision"] == "shrink"
    # the first shrink from a dense start removes zeta*(gamma-1) of the weights, as published (not zeta*gamma)
    assert 0.0 < clf.pals_history_[0]["p_after"] < 0.06
    for m in layers:  # pruned weights do not contribute
        w = m.effective_weight().detach()
        assert (w[~m.prune_mask] == 0).all()


def test_grid_search_over_pals_lambda_and_gamma(data):
    grid = {"pals_lambda": [1.05, 1.2], "pals_gamma": [1.1, 1.3]}
    search = GridSearchCV(SBTClassifier(**{**PALS, "max_epochs": 2}), grid, cv=2).fit(*data)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.pals_history_


@pytest.mark.parametrize("params, match", [
    ({"early_stopping": True}, "early_stopping"),
    ({"binary": False, "p": 0.5}, "starts dense"),
    ({"pals_gamma": 1.0}, "pals_gamma"),
])
def test_invalid_pals_combinations(data, params, match):
    with pytest.raises(ValueError, match=match):
        SBTClassifier(**{**PALS, **params}).fit(*data)


def test_fitted_model_holds_no_training_data(fitted):
    import pickle

    pals = dict(fitted.net_.callbacks_)["pals"]
    assert pals.valid_dataset is None and pals.best_state_ is None
    assert fitted.net_.train_split is None
    assert len(pickle.dumps(fitted)) < 200_000


def test_dense_pals_models_save_and_load(data, tmp_path):
    # dense PALS prunes FP32 weights through boolean buffers the file must carry (the loader refused them)
    dense = SBTClassifier(**{**PALS, "binary": False, "p": 0.0, "d": 8, "d_ff": 16}).fit(*data)
    masks = [m.prune_mask for m in dense.module_.modules() if getattr(m, "prune_mask", None) is not None]
    assert masks and dense.p_ > 0 and sum(int((~m).sum()) for m in masks) > 0
    path = tmp_path / "dense_pals.sbt"
    dense.save(path)
    loaded = SBTClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(data[0]), dense.predict_proba(data[0]))
    loaded_masks = [m.prune_mask for m in loaded.module_.modules() if getattr(m, "prune_mask", None) is not None]
    assert all(bool((a == b).all()) for a, b in zip(masks, loaded_masks)) and len(loaded_masks) == len(masks)
