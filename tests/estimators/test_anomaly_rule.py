"""The anomaly detector's score rule: synthetic anomalies, the multi-scale score and rarity="auto"."""

import numpy as np
import pandas as pd
import pytest
from _series import detector_series
from sklearn.metrics import average_precision_score

from sbt_sklearn import SBTAnomalyDetector, sliding_windows
from sbt_sklearn.anomaly._multiscale import SCALES, fit_scale_tails, multiscale_levels
from sbt_sklearn.anomaly._synthetic import (
    ANOMALY_KINDS,
    SIZES,
    average_precision,
    choose_robust,
    inject_anomalies,
    moving_mean,
)

TINY = dict(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=2, batch_size=32, max_windows_per_epoch=None,
            random_state=0)


def _series(n=700, c=3, seed=0):
    return detector_series(n, c, seed)


@pytest.fixture(scope="module")
def windows():
    return sliding_windows(_series(), 16, horizon=0)[0]


@pytest.fixture(scope="module")
def auto(windows):
    return SBTAnomalyDetector(**TINY, rarity="auto").fit(windows)


# -- synthetic anomalies ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ANOMALY_KINDS)
def test_each_kind_changes_only_its_labelled_stretches_of_one_channel(kind):
    z = np.random.default_rng(1).standard_normal((2000, 3))
    z[:, 2] = np.sin(np.arange(2000) / 9.0)  # a smooth channel: reversing or speeding changes it
    out, labels, kinds = inject_anomalies(z, np.random.default_rng(0), start=40, channels=[2], kinds=(kind,))
    assert set(kinds) == {kind} and not labels[:40].any()
    budget = int(0.05 * 1960)  # 5 % of the steps after start; the last stretch may overshoot (at most 196)
    assert budget <= labels[40:].sum() < budget + 196
    np.testing.assert_array_equal(out[:, :2], z[:, :2])  # only the allowed channel moves
    np.testing.assert_array_equal(out[~labels], z[~labels])  # nothing outside the labelled steps
    changed = out[labels, 2] != z[labels, 2]
    assert changed.mean() > (0.3 if kind in ("flat", "reverse") else 0.9)
    starts = np.flatnonzero(np.diff(labels.astype(int)) == 1) + 1
    assert len(starts) == len(kinds) and not (labels[starts - 1]).any()  # separate stretches
    if kind in SIZES and kind != "noise":  # the shift of every step lies in the documented range
        low, high = SIZES[kind]
        moved = np.abs(out[labels, 2] - z[labels, 2])
        assert (moved >= low - 1e-12).all() and (moved <= high + 1e-12).all()
    if kind == "spike":
        assert labels.sum() == len(kinds)  # one step each


def test_injection_is_reproducible_and_refuses_bad_requests():
    z = np.random.default_rng(0).standard_normal((500, 2))
    a = inject_anomalies(z, np.random.default_rng(3))
    b = inject_anomalies(z, np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert set(a[2]) == set(ANOMALY_KINDS)  # every kind at least once by default
    with pytest.raises(ValueError, match="kinds"):
        inject_anomalies(z, np.random.default_rng(0), kinds=("earthquake",))
    with pytest.raises(ValueError, match="at least 4 steps"):
        inject_anomalies(z[:5], np.random.default_rng(0), start=3)


def test_moving_mean_average_precision_and_the_robust_choice():
    x = np.random.default_rng(0).standard_normal(50)
    for k in (1, 4, 50, 80):
        np.testing.assert_allclose(moving_mean(x, k), [x[max(0, i - k + 1) : i + 1].mean() for i in range(50)])
    rng = np.random.default_rng(1)
    for ties in (False, True):
        labels = rng.random(300) < 0.1
        scores = rng.integers(0, 6, 300).astype(float) if ties else rng.random(300) + labels
        assert average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert np.isnan(average_precision(np.zeros(5, bool), np.arange(5.0)))
    ap = np.array([[1.0, 0.2, 0.5],  # perfect on kind 0, poor on kind 1
                   [0.5, 0.4, 0.5],  # never below half the best
                   [0.4, 0.4, 0.0]])  # a kind no rule finds (all 0.5 or 0): counts 1 where the best is 0
    np.testing.assert_allclose(choose_robust(ap), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(choose_robust([[0.0, 0.3], [0.0, 0.6]]), [0.5, 1.0])


def test_multiscale_levels_are_tail_levels_of_every_scale_averaged():
    ref = np.random.default_rng(0).gamma(2.0, size=5000)
    tails = fit_scale_tails(ref)
    assert tails.shape == (len(SCALES), 65) and (np.diff(tails, axis=1) >= 0).all()
    np.testing.assert_allclose(tails[0], np.quantile(ref, 1 - np.geomspace(1, 1e-4, 65)))
    # a constant series at the training median of every scale's average: about log 2 everywhere
    flat = np.full(100, np.median(ref))
    levels = multiscale_levels(flat, tails)
    assert levels.shape == (100,) and np.all(levels > 0.3) and np.all(levels < 1.2)
    burst = flat.copy()
    burst[60:] = ref.max() * 2  # a long excursion: every scale rises, and keeps rising with its length
    out = multiscale_levels(burst, tails)
    assert out[99] > out[60] > levels[60] and out[99] > np.log(1e4)


# -- the detector's "auto" rule ---------------------------------------------------------------------------
def test_auto_chooses_one_candidate_by_the_documented_criterion(auto, windows):
    table = pd.DataFrame(auto.score_selection_)
    assert [r["rarity"] for r in auto.score_selection_] == [None, "marginal", "max"] and table["chosen"].sum() == 1
    assert set(table["smooth"]) == {"multiscale"} == {auto.smooth_}  # smooth="auto" on a series
    assert list(table.columns[:4]) == ["rarity", "smooth", "worst_relative_ap", "chosen"]
    ap = table[[f"ap_{k}" for k in ANOMALY_KINDS]].to_numpy()
    np.testing.assert_allclose(table["worst_relative_ap"], choose_robust(ap))
    best = table.iloc[int(np.argmax(choose_robust(ap)))]
    assert auto.rarity_ == auto.score_selection_[int(best.name)]["rarity"] and best["chosen"]
    assert (auto.value_bins_ is not None) == (auto.rarity_ in ("marginal", "max"))
    assert (auto.scale_tails_ is not None) == (auto.smooth_ == "multiscale")
    again = SBTAnomalyDetector(**TINY, rarity="auto").fit(windows)  # a seeded fit repeats the choice exactly
    assert again.score_selection_ == auto.score_selection_


def test_defaults_and_auto_need_a_series_and_otherwise_keep_the_error_alone(windows):
    default = SBTAnomalyDetector(**TINY).fit(windows)
    assert (default.rarity_, default.smooth_, default.score_selection_) == ("max", "multiscale", None)
    assert default.scale_tails_.shape == (2, len(SCALES), 65)  # the error's and the rarity's
    training_series = np.concatenate([windows[0].T, windows[1:, :, -1]])
    reference = -default.score_series(training_series)[15:]  # one score per training window
    assert default.series_threshold_ == pytest.approx(np.percentile(reference, 99), rel=1e-12)  # contamination
    shuffled = np.ascontiguousarray(windows[np.random.default_rng(0).permutation(len(windows))])
    det = SBTAnomalyDetector(**TINY, rarity="auto").fit(shuffled)
    assert (det.rarity_, det.smooth_, det.score_selection_, det.value_bins_) == (None, 1, None, None)
    assert det.series_threshold_ == det.threshold_  # nothing smoothed
    det = SBTAnomalyDetector(**TINY).fit(shuffled)  # the default rule, unsmoothed
    assert (det.rarity_, det.smooth_, det.scale_tails_, det.series_threshold_) == ("max", 1, None, det.threshold_)
    with pytest.raises(ValueError, match="consecutive windows"):
        SBTAnomalyDetector(**TINY, smooth="multiscale").fit(shuffled)
    fixed = SBTAnomalyDetector(**TINY, rarity="marginal", smooth=7).fit(windows)  # nothing left to choose
    assert (fixed.rarity_, fixed.smooth_, fixed.score_selection_, fixed.scale_tails_) == ("marginal", 7, None, None)
    chosen_unsmoothed = SBTAnomalyDetector(**TINY, rarity="auto", smooth=1).fit(windows)
    assert {r["smooth"] for r in chosen_unsmoothed.score_selection_} == {1}


@pytest.mark.parametrize("rarity", [None, "marginal"])
def test_score_series_follows_the_fitted_rule(windows, rarity):
    det = SBTAnomalyDetector(**TINY, rarity=rarity, smooth="multiscale").fit(windows)
    train_anomaly = -det.score_samples(windows)
    series = _series(300, seed=5)
    window_anomaly = -det.score_samples(sliding_windows(series, 16, horizon=0)[0])
    expected = multiscale_levels(window_anomaly, fit_scale_tails(train_anomaly))
    got = -det.score_series(series)
    np.testing.assert_allclose(got[15:], expected, rtol=1e-12)
    np.testing.assert_allclose(-det.score_series(series, smooth=3)[15:], moving_mean(window_anomaly, 3))
    plain = SBTAnomalyDetector(**TINY, rarity=rarity, smooth=1).fit(windows)
    with pytest.raises(ValueError, match="multiscale"):
        plain.score_series(series, smooth="multiscale")


def test_the_rule_survives_a_model_file(auto, windows):
    back = SBTAnomalyDetector.from_bytes(auto.to_bytes())
    assert (back.rarity_, back.smooth_, back.score_selection_) == (auto.rarity_, auto.smooth_, auto.score_selection_)
    series = _series(300, seed=2)
    np.testing.assert_array_equal(back.score_series(series), auto.score_series(series))
    ms = SBTAnomalyDetector(**TINY, smooth="multiscale").fit(windows)
    back = SBTAnomalyDetector.from_bytes(ms.to_bytes())
    np.testing.assert_array_equal(back.scale_tails_, ms.scale_tails_)
    np.testing.assert_array_equal(back.score_series(series), ms.score_series(series))


def test_a_value_at_tied_training_quantiles_gets_the_level_of_the_whole_tie():
    ref = np.concatenate([np.zeros(400), np.linspace(0.0, 1.0, 600)])  # 40 % of the scores at one value
    tails = fit_scale_tails(ref)
    levels = multiscale_levels(np.zeros(60), tails)  # every scale's average sits on the tie
    np.testing.assert_allclose(levels, 0.0)  # P(reference >= 0) = 1: not in the tail at all
    assert multiscale_levels(np.full(60, 0.999), tails)[-1] > np.log(100) * 0.9


def test_max_rule_is_the_larger_of_the_error_and_rarity_levels_each_calibrated_on_its_own(windows):
    import torch

    from sbt_sklearn.anomaly._typicality import fit_tail, marginal_rarity, tail_level

    both = SBTAnomalyDetector(**TINY, rarity="max").fit(windows)
    alone = SBTAnomalyDetector(**TINY, rarity=None).fit(windows)  # the same seed trains the same network
    series = _series(300, seed=5)
    test_windows = sliding_windows(series, 16, horizon=0)[0]

    def terms(X):
        error = -alone.score_samples(X)
        rows = (np.asarray(X[:, :, -1]) - both.scaler_mean_) / both.scaler_scale_
        values = torch.from_numpy(rows[:, both.rarity_channels_].astype(np.float32)).double()
        return error, marginal_rarity(values, torch.from_numpy(both.value_bins_).double()).numpy()

    (e_train, r_train), (e_test, r_test) = terms(windows), terms(test_windows)
    np.testing.assert_array_equal(both.error_tail_, fit_tail(e_train))
    np.testing.assert_allclose(both.rarity_tail_, fit_tail(r_train), rtol=1e-6)
    levels = [tail_level(torch.from_numpy(v), torch.from_numpy(k).double()).numpy()
              for v, k in ((e_test, both.error_tail_), (r_test, both.rarity_tail_))]
    np.testing.assert_allclose(-both.score_samples(test_windows), np.maximum(*levels), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(both.scale_tails_[0], fit_scale_tails(e_train), rtol=1e-12)
    np.testing.assert_allclose(both.scale_tails_[1], fit_scale_tails(r_train), rtol=1e-5)
    expected = np.maximum(multiscale_levels(e_test, both.scale_tails_[0]),
                          multiscale_levels(r_test, both.scale_tails_[1]))
    got = -both.score_series(series)
    np.testing.assert_allclose(got[15:], expected, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(got[:15], got[15])  # the steps before the first window
    # an integer smoothing averages the window scores, as for the other rules
    np.testing.assert_allclose(-both.score_series(series, smooth=3)[15:],
                               moving_mean(-both.score_samples(test_windows), 3), rtol=1e-12)
    # the larger level: a value far outside the training range is flagged whatever the error says
    spiked = series.copy()
    spiked[200, int(np.flatnonzero(both.rarity_channels_)[0])] += 50.0
    assert int(np.argmax(-both.score_series(spiked, smooth=1))) == 200
