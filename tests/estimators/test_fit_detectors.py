"""fit_detectors: one detector per series from one training run, scores on one scale."""

import numpy as np
import pandas as pd
import pytest
import torch

from sbt_sklearn import SBTAnomalyDetector, fit_detectors, sliding_windows
from sbt_sklearn.estimators._input import channel_stats

TINY = dict(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=2, batch_size=32, max_windows_per_epoch=None,
            random_state=0)


def _series(n, seed, c=2):
    t = np.arange(n, dtype=np.float32)
    rng = np.random.default_rng(seed)
    cols = [np.sin(t / (5 + 2 * k + seed)) for k in range(c)]
    return (np.stack(cols, axis=1) + 0.05 * rng.standard_normal((n, c))).astype(np.float32)


@pytest.fixture(scope="module")
def fleet():
    series = {"a": _series(400, 0), "b": 50 + 100 * _series(300, 1), "c": _series(250, 2)}
    return series, fit_detectors(SBTAnomalyDetector(**TINY), series, 16)


def test_one_ordinary_detector_per_series_sharing_one_trained_network(fleet):
    series, dets = fleet
    assert list(dets) == ["a", "b", "c"] and all(type(d) is SBTAnomalyDetector for d in dets.values())
    assert all(d.get_params() == SBTAnomalyDetector(**TINY).get_params() for d in dets.values())
    states = [d.net_.module_.state_dict() for d in dets.values()]
    assert all(torch.equal(states[0][k], s[k]) for s in states[1:] for k in states[0])  # the same weights
    assert dets["a"].net_.module_ is not dets["b"].net_.module_  # each its own copy
    # trained once, on the windows inside each series only (no window straddles two series)
    seen = sum(b["train_batch_size"] for b in dets["a"].history_[0]["batches"])
    assert seen == sum(len(s) - 16 + 1 for s in series.values())
    for name, det in dets.items():  # each detector's own rule and thresholds, from its own windows
        assert det.smooth_ == "multiscale" and det.scale_tails_ is not None
        own = SBTAnomalyDetector(**TINY)
        own.__dict__.update({k: v for k, v in det.__dict__.items() if k.endswith("_") and not k.startswith("_")})
        windows = sliding_windows(series[name], 16, horizon=0)[0]
        own._fit_score_rule(windows)  # the same network refitted on this series' windows: the same tables
        np.testing.assert_array_equal(own.scale_tails_, det.scale_tails_)
        assert own.threshold_ == det.threshold_ and own.series_threshold_ == det.series_threshold_


def test_the_network_sees_each_series_standardised_by_its_own_statistics(fleet):
    series, dets = fleet
    stats = {k: channel_stats(sliding_windows(v, 1, horizon=0)[0]) for k, v in series.items()}
    pooled = np.concatenate([(v - stats[k][0]) / stats[k][1] for k, v in series.items()])
    mean_t, scale_t = channel_stats(sliding_windows(pooled, 1, horizon=0)[0])  # the shared network's scaler
    for name, det in dets.items():
        m, s = stats[name]
        x = series[name]
        np.testing.assert_allclose((x - det.scaler_mean_) / det.scaler_scale_, ((x - m) / s - mean_t) / scale_t,
                                   rtol=1e-4, atol=1e-5)


def test_scores_share_one_scale_an_affine_copy_scores_alike(fleet):
    _, dets = fleet
    base = _series(400, 0)
    twins = fit_detectors(SBTAnomalyDetector(**TINY), [base, 7.0 + 30.0 * base], 16)  # same shape, other units
    test = _series(200, 5)
    np.testing.assert_allclose(twins[0].score_series(test), twins[1].score_series(7.0 + 30.0 * test),
                               rtol=1e-3, atol=1e-3)
    assert twins[0].series_threshold_ == pytest.approx(twins[1].series_threshold_, rel=1e-3)
    spike = test.copy()
    spike[150, 0] += 3.0
    levels = {k: -d.score_series(spike if k != "b" else 50 + 100 * spike) for k, d in dets.items() if k != "c"}
    assert all(np.argmax(v) >= 150 for v in levels.values())  # the spike ranks first on every detector


def test_a_member_saves_and_loads_alone(fleet):
    series, dets = fleet
    back = SBTAnomalyDetector.from_bytes(dets["b"].to_bytes())
    np.testing.assert_array_equal(back.score_series(series["b"]), dets["b"].score_series(series["b"]))


def test_lists_frames_and_clear_errors():
    frames = [pd.DataFrame(_series(120, 0)), pd.DataFrame(_series(90, 1))]
    dets = fit_detectors(SBTAnomalyDetector(**TINY), frames, 10)
    assert isinstance(dets, list) and len(dets) == 2
    with pytest.raises(TypeError, match="SBTAnomalyDetector"):
        fit_detectors(object(), frames, 10)
    with pytest.raises(ValueError, match="empty"):
        fit_detectors(SBTAnomalyDetector(**TINY), {}, 10)
    with pytest.raises(ValueError, match="same channels"):
        fit_detectors(SBTAnomalyDetector(**TINY), [_series(100, 0), _series(100, 0, c=3)], 10)
    with pytest.raises(ValueError, match="at least window"):
        fit_detectors(SBTAnomalyDetector(**TINY), [_series(100, 0), _series(5, 0)], 10)
    bad = _series(100, 0)
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match="finite|infinit"):
        fit_detectors(SBTAnomalyDetector(**TINY), {"x": bad}, 10)
    with pytest.raises(TypeError, match="dict or a list"):
        fit_detectors(SBTAnomalyDetector(**TINY), _series(100, 0), 10)
