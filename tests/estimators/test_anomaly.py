"""Behaviour of SBTAnomalyDetector: conventions, targets, thresholds, long series, errors."""

import pickle
import tracemalloc

import numpy as np
import pytest
import torch
from _params import NAMED_PARAMS
from _series import detector_series
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sbt_sklearn import SBTAnomalyDetector, sliding_windows
from sbt_sklearn.anomaly import pot_threshold
from sbt_sklearn.estimators._input import two_valued_channels

TINY = NAMED_PARAMS["detector_behaviour"]


def _series(n=600, c=3, seed=0):
    return detector_series(n, c, seed)


@pytest.fixture(scope="module")
def windows():
    X, _ = sliding_windows(_series(), 16, horizon=0)
    return X


@pytest.fixture(scope="module")
def fitted(windows):
    # the error alone, unsmoothed: the rule the tests below recompute by hand (the "auto" rule
    # that chooses among this and the others is tested in test_anomaly_rule.py)
    return SBTAnomalyDetector(**TINY, rarity=None, smooth=1).fit(windows)


def test_conventions(fitted, windows):
    scores = fitted.score_samples(windows)
    decision = fitted.decision_function(windows)
    labels = fitted.predict(windows)
    assert scores.dtype == np.float64 and scores.shape == (len(windows),)
    assert np.all(scores <= 0)  # minus a mean squared error
    np.testing.assert_allclose(decision, scores - fitted.offset_)
    assert set(np.unique(labels)) <= {-1, 1}
    np.testing.assert_array_equal(labels == -1, decision < 0)
    assert fitted.threshold_ == -fitted.offset_
    # quantile threshold on the training windows: contamination is the flagged fraction
    assert abs(np.mean(labels == -1) - fitted.contamination) <= 1.5 / len(windows)


def _errors(det, X):
    return det._window_terms(X)[0]


def test_error_weighting(windows):
    fitted = SBTAnomalyDetector(**TINY, rarity=None).fit(windows)
    np.testing.assert_array_equal(fitted.channel_weights_, np.ones(3))  # all channels continuous: plain mean
    weighted = SBTAnomalyDetector(**TINY, rarity=None, error_weighting="reference").fit(windows)
    assert weighted.channel_weights_.shape == (3,) and np.all(weighted.channel_weights_ > 0)
    # same seed, same network: the weighting only changes how channel errors are combined
    errors = _errors(fitted, windows)
    np.testing.assert_allclose(fitted.score_samples(windows), -errors.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(weighted.score_samples(windows), -(errors @ weighted.channel_weights_) / 3,
                               rtol=1e-12)
    np.testing.assert_allclose(errors.mean(axis=0) * weighted.channel_weights_, 1.0, rtol=1e-9)


def test_continuous_weighting_leaves_on_off_channels_out_of_the_score():
    series = _series(600, c=3)
    series[:, 2] = (series[:, 2] > 0).astype(np.float32)  # an on/off flag
    X, _ = sliding_windows(series, 16, horizon=0)
    det = SBTAnomalyDetector(**TINY, rarity=None).fit(X)  # error_weighting="continuous" by default
    np.testing.assert_array_equal(det.channel_weights_, [1.5, 1.5, 0.0])  # mean over the 2 kept channels
    errors = _errors(det, X)
    np.testing.assert_allclose(det.score_samples(X), -errors[:, :2].mean(axis=1), rtol=1e-12)
    flipped = np.array(X[:5])  # flip the flag's last value: with target="predict" only its error changes
    flipped[:, 2, -1] = 1 - flipped[:, 2, -1]
    np.testing.assert_array_equal(det.score_samples(flipped), det.score_samples(X[:5]))
    with_rarity = SBTAnomalyDetector(**TINY, rarity="marginal").fit(X)  # the flag is left out of the rarity term too
    np.testing.assert_array_equal(with_rarity.rarity_channels_, [True, True, False])
    assert with_rarity.value_bins_.shape == (2, 65)
    np.testing.assert_array_equal(with_rarity.score_samples(flipped), with_rarity.score_samples(X[:5]))
    # the same rule on windows that are not a view of one series, and with every channel on/off
    np.testing.assert_array_equal(two_valued_channels(np.array(X[::7])), [False, False, True])
    flags = SBTAnomalyDetector(**TINY).fit((X[:, 2:] > 0.5).astype(np.float32))
    np.testing.assert_array_equal(flags.channel_weights_, [1.0])  # no continuous channel: all of them


def test_huber_loss_trains_another_model(windows, fitted):
    huber = SBTAnomalyDetector(**TINY, loss="huber").fit(windows)
    assert isinstance(huber.net_.criterion_, torch.nn.HuberLoss)
    assert isinstance(fitted.net_.criterion_, torch.nn.MSELoss)


def test_pot_threshold_from_training_scores(windows):
    det = SBTAnomalyDetector(**TINY, threshold="pot", q=1e-2, level=0.9).fit(windows)
    reference = -det.score_samples(windows)
    assert det.offset_ == pytest.approx(-pot_threshold(reference, q=1e-2, level=0.9))


def test_predict_target_ignores_the_last_row(fitted, windows):
    x = np.array(windows[:4])
    changed = x.copy()
    changed[:, :, -1] += 5.0
    ds_a, ds_b = fitted._dataset(x), fitted._dataset(changed)
    (in_a, tgt_a), (in_b, tgt_b) = ds_a.get_batch(np.arange(4)), ds_b.get_batch(np.arange(4))
    with torch.no_grad():
        out_a, out_b = fitted.module_(**in_a), fitted.module_(**in_b)
    torch.testing.assert_close(out_a, out_b)  # the prediction does not see the last row
    assert not torch.allclose(tgt_a, tgt_b)  # ... but the target is the last row


def test_reconstruct_target_sees_the_last_row(windows):
    det = SBTAnomalyDetector(**TINY, target="reconstruct").fit(windows)
    x = np.array(windows[:4])
    changed = x.copy()
    changed[:, :, -1] += 5.0
    with torch.no_grad():
        out_a = det.module_(**det._dataset(x).get_batch(np.arange(4))[0])
        out_b = det.module_(**det._dataset(changed).get_batch(np.arange(4))[0])
    assert not torch.allclose(out_a, out_b)


def test_detects_a_spike(fitted):
    series = _series(700)  # the fixture was fitted on the first 600 steps of the same signal
    broken = series.copy()
    broken[650, 1] += 4.0
    scores = fitted.score_series(broken)
    assert scores.shape == (700,)
    assert int(np.argmin(scores)) == 650
    assert fitted.predict(sliding_windows(broken, 16, horizon=0)[0])[650 - 15] == -1


def test_score_series_alignment(fitted):
    series = _series(100)
    scores = fitted.score_series(series)
    windows, _ = sliding_windows(series, 16, horizon=0)
    np.testing.assert_allclose(scores[15:], fitted.score_samples(windows))
    np.testing.assert_allclose(scores[:15], scores[15])
    with pytest.raises(ValueError, match="fewer than window"):
        fitted.score_series(series[:10])
    smoothed = fitted.score_series(series, smooth=4)  # each step: the mean of the last 4 window scores
    window_scores = fitted.score_samples(windows)
    expected = [window_scores[max(0, i - 3) : i + 1].mean() for i in range(len(window_scores))]
    np.testing.assert_allclose(smoothed[15:], expected, rtol=1e-12)
    np.testing.assert_array_equal(smoothed[:15], smoothed[15])
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="smooth"):
            fitted.score_series(series, smooth=bad)


def test_determinism_clone_and_pickle(windows, fitted):
    again = clone(fitted).fit(windows)
    np.testing.assert_array_equal(again.score_samples(windows), fitted.score_samples(windows))
    assert again.offset_ == fitted.offset_
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.score_samples(windows[:50]), fitted.score_samples(windows[:50]))


def test_max_windows_per_epoch_samples_fresh_windows(windows):
    det = SBTAnomalyDetector(**{**TINY, "max_windows_per_epoch": 64, "max_epochs": 3}).fit(windows)
    assert det.history_[:, "train_batch_count"] == [2, 2, 2]  # 64 windows in batches of 32
    frac = SBTAnomalyDetector(**{**TINY, "max_windows_per_epoch": 0.25, "max_epochs": 1}).fit(windows)
    assert frac.history_[-1, "train_batch_count"] == int(np.ceil(np.ceil(0.25 * len(windows)) / 32))
    # the sampler draws from its own seeded stream: same seed, same model
    twin = SBTAnomalyDetector(**{**TINY, "max_windows_per_epoch": 64, "max_epochs": 3}).fit(windows)
    np.testing.assert_array_equal(det.score_samples(windows[:20]), twin.score_samples(windows[:20]))


def test_early_stopping_holds_out_the_tail(windows):
    det = SBTAnomalyDetector(**{**TINY, "early_stopping": True, "validation_fraction": 0.2}).fit(windows)
    assert "valid_loss" in det.history_[-1]
    n_valid = round(0.2 * len(windows))
    assert det.history_[-1, "valid_batch_count"] == int(np.ceil(n_valid / 32))
    assert det.net_.train_split is None  # no reference to the validation windows is kept


def test_2d_input_is_univariate():
    X = _series(300, 1)[:, 0]
    W, _ = sliding_windows(X, 10, horizon=0)
    det = SBTAnomalyDetector(**TINY).fit(W[:, 0, :])  # (n, T)
    assert det.n_channels_ == 1 and det.n_timesteps_ == 10
    assert det.n_features_in_ == 10  # sklearn's convention: the timesteps of a 2-D X
    as_3d = SBTAnomalyDetector(**TINY).fit(W)  # the same windows as (n, 1, T)
    np.testing.assert_allclose(det.score_samples(W[:, 0, :]), as_3d.score_samples(W))
    np.testing.assert_allclose(det.score_series(X), as_3d.score_series(X[:, None]))


def test_fit_and_score_do_not_copy_the_windows():
    """A long series cut with sliding_windows: peak numpy allocations stay far below the
    size of the materialised windows (fails if fit or scoring copies X)."""
    series = np.random.default_rng(0).standard_normal((4100, 64)).astype(np.float32)
    X, _ = sliding_windows(series, 100, horizon=0)  # materialised: 4001 x 64 x 100 x 4 B = 102 MB
    materialised = X.shape[0] * X.shape[1] * X.shape[2] * 4
    det = SBTAnomalyDetector(**{**TINY, "max_windows_per_epoch": 64, "max_epochs": 1, "batch_size": 64})
    det.fit(X[:64])  # warm-up: the first fit imports parts of torch lazily (tens of MB of Python objects)
    tracemalloc.start()
    try:
        det.fit(X)
        _, fit_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        det.score_samples(X)
        _, score_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert fit_peak < materialised / 4, (fit_peak, materialised)
    assert score_peak < materialised / 4, (score_peak, materialised)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(contamination=0.6), "contamination"),
        (dict(contamination=0.0), "contamination"),
        (dict(target="forecast"), "target"),
        (dict(threshold="auto"), "threshold"),
        (dict(q=1.0), "'q'"),
        (dict(max_windows_per_epoch=0), "max_windows_per_epoch"),
        (dict(error_weighting="max"), "error_weighting"),
        (dict(rarity="joint"), "rarity"),
        (dict(loss="l1"), "loss"),
        (dict(max_windows_per_epoch=1.5), "max_windows_per_epoch"),
    ],
)
def test_invalid_parameters(windows, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        SBTAnomalyDetector(**{**TINY, **params}).fit(windows)


def test_clear_errors_for_bad_input(fitted, windows):
    with pytest.raises(ValueError, match="4 features, but SBTAnomalyDetector is expecting 3"):
        fitted.score_samples(np.zeros((5, 4, 16), dtype=np.float32))
    bad = np.array(windows[:20])
    bad[3, 1, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SBTAnomalyDetector(**TINY).fit(bad)
    ragged = [np.zeros((3, 16)), np.zeros((3, 12))]
    with pytest.raises(ValueError, match="equal length"):
        SBTAnomalyDetector(**TINY).fit(ragged)


def test_missing_interpolate(windows):
    bad = np.array(windows[:100])
    bad[3, 1, 4] = np.nan
    det = SBTAnomalyDetector(**{**TINY, "missing": "interpolate"}).fit(bad)
    assert np.isfinite(det.score_samples(bad)).all()


def test_rarity_score_is_the_documented_combination(windows, fitted):
    """score = -(max(0, T_e + log 0.05) + T_v), both terms calibrated on the training windows."""
    from sbt_sklearn.anomaly._typicality import _TAIL_P

    assert fitted.rarity_ is None and fitted.value_bins_ is None and fitted.error_tail_ is None
    errors_only = fitted.score_samples(windows)
    fitted = SBTAnomalyDetector(**TINY, rarity="marginal").fit(windows)
    # the same network (rarity does not touch training): the error term is the default score
    np.testing.assert_array_equal(-_errors(fitted, windows).mean(axis=1), errors_only)

    errors = _errors(fitted, windows)
    error = errors.mean(axis=1)
    last = (np.asarray(windows[:, :, -1], np.float32) - fitted.scaler_mean_.astype(np.float32)) \
        / fitted.scaler_scale_.astype(np.float32)
    last = last.astype(np.float64)
    # bins: training quantiles of the standardised last rows; tails: -log upper-tail levels
    assert fitted.value_bins_.dtype == np.float16 and fitted.error_tail_.dtype == np.float32  # stored as used
    np.testing.assert_array_equal(fitted.value_bins_,
                                  np.quantile(last, np.linspace(0, 1, 65), axis=0).T.astype(np.float16))
    xs, ys = fitted.error_tail_.astype(np.float64)
    assert np.all(np.diff(xs) > 0) and np.all(np.diff(ys) > 0) and ys[0] == 0.0
    assert xs[0] == pytest.approx(error.min(), rel=1e-6)
    assert xs[-1] == pytest.approx(np.quantile(error, 1 - _TAIL_P[-1]), rel=1e-6)

    def tail(x, knots):  # piecewise linear, flat below, beyond: the last level per width of the range
        xs, ys = knots.astype(np.float64)
        return np.interp(x, xs, ys) + np.maximum(x - xs[-1], 0) * ys[-1] / (xs[-1] - xs[0])

    def rarity(v):
        total = 0.0
        for c in range(v.shape[1]):
            edges = fitted.value_bins_[c].astype(np.float64)
            i = np.clip(np.searchsorted(edges, v[:, c], side="right") - 1, 0, 63)
            width = np.maximum(edges[i + 1] - edges[i], 0.01)
            outside = np.maximum(edges[0] - v[:, c], 0) + np.maximum(v[:, c] - edges[-1], 0)
            total = total + np.log(64 * width) + outside / width
        return total

    expected = np.maximum(0, tail(error, fitted.error_tail_) + np.log(0.05)) + tail(rarity(last), fitted.rarity_tail_)
    np.testing.assert_allclose(fitted.score_samples(windows), -expected, rtol=1e-9, atol=1e-12)
    # the threshold is the contamination quantile of these training scores
    assert fitted.offset_ == pytest.approx(np.percentile(-expected, 100 * fitted.contamination))


def test_rarity_flags_a_well_predicted_level_shift():
    """A flat stretch at a level never seen in training: easy to predict, rare as a value."""
    t = np.arange(1500, dtype=np.float32)
    series = np.sin(t / 7)[:, None].astype(np.float32)
    X, _ = sliding_windows(series[:1000], 16, horizon=0)
    test = series[1000:].copy()
    test[200:300] = 1.6  # constant, outside the training range [-1, 1]
    params = {**TINY, "max_epochs": 3, "rarity": "marginal"}
    with_rarity = SBTAnomalyDetector(**params).fit(X)
    scores = with_rarity.score_series(test)
    inside, outside = scores[215:300], np.r_[scores[15:200], scores[315:]]
    assert inside.max() < outside.min()  # every step of the stretch scores below every normal step
    assert (with_rarity.predict(sliding_windows(test, 16, horizon=0)[0])[200:285] == -1).all()
