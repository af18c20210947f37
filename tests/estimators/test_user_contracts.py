"""Contracts sklearn, sktime and PyOD users expect (issue 21): errors that name the problem, pandas
in and out of score_series, the sktime detector's predict_scores."""

import numpy as np
import pandas as pd
import pytest
from _params import INIT_PARAMS

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows


def _series(n=200, c=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, c)).cumsum(axis=0)


@pytest.mark.parametrize("missing", [None, np.nan])
def test_classifier_y_with_missing_labels_is_named(missing):
    X = np.random.default_rng(0).normal(size=(12, 2, 8))
    y = np.array(["a", "b"] * 6, dtype=object)
    y[3] = missing
    with pytest.raises(ValueError, match=r"y contains NaN \(or None\) at 1 position"):
        SBTClassifier(**INIT_PARAMS[SBTClassifier]).fit(X, y)


@pytest.mark.parametrize("cls", [SBTClassifier, SBTForecaster, SBTAnomalyDetector], ids=lambda c: c.__name__)
def test_time_major_layout_gets_a_hint(cls):
    X, y = sliding_windows(_series(c=3), 20)
    if cls is SBTClassifier:
        y = (y[:, 0] > X[:, 0, -1]).astype(int)
    est = cls(**INIT_PARAMS[cls]).fit(X, None if cls is SBTAnomalyDetector else y)
    time_major = np.ascontiguousarray(np.asarray(X[:4]).transpose(0, 2, 1))  # (n, 20, 3)
    method = est.score_samples if cls is SBTAnomalyDetector else est.predict
    with pytest.raises(ValueError, match=r"X has 20 channels.*\(n_samples, n_timesteps, n_channels\)\?.*transpose"):
        method(time_major)


@pytest.mark.parametrize("cls", [SBTClassifier, SBTForecaster, SBTAnomalyDetector], ids=lambda c: c.__name__)
def test_p_one_prunes_everything_and_is_refused(cls):
    X, y = sliding_windows(_series(), 10)
    with pytest.raises(ValueError, match=r"'p' parameter .* range \[0(\.0)?, 1(\.0)?\)"):
        cls(**{**INIT_PARAMS[cls], "p": 1.0}).fit(X, None if cls is SBTAnomalyDetector else y[:, 0] > 0)


def test_score_series_keeps_the_pandas_index():
    series = _series()
    X, _ = sliding_windows(series, 16, horizon=0)
    det = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit(X)
    index = pd.date_range("2024-01-01", periods=len(series), freq="h")
    frame = pd.DataFrame(series, index=index, columns=["a", "b"])
    out = det.score_series(frame)
    assert isinstance(out, pd.Series) and out.index.equals(index)
    np.testing.assert_array_equal(out.to_numpy(), det.score_series(series))
    one = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit(sliding_windows(series[:, 0], 16, horizon=0)[0])
    as_series = one.score_series(pd.Series(series[:, 0], index=index))
    assert isinstance(as_series, pd.Series) and as_series.index.equals(index)
    assert isinstance(det.score_series(series), np.ndarray)


def test_sktime_detector_predict_scores_match_predict():
    pytest.importorskip("sktime")
    from sbt_sklearn.sktime import SBTSktimeDetector

    values = _series(300, 1, seed=1)[:, 0]
    values[150] += 40.0  # a spike
    y = pd.DataFrame({"v": values})
    det = SBTSktimeDetector(window_length=10, **INIT_PARAMS[SBTAnomalyDetector]).fit(y)
    points = det.predict(y)
    scores = det.predict_scores(y)
    assert isinstance(scores, pd.DataFrame) and len(scores) == len(points) > 0
    all_scores = det.transform_scores(y).to_numpy().ravel()
    np.testing.assert_array_equal(scores.to_numpy().ravel(), all_scores[points.to_numpy().ravel()])
    assert (scores.to_numpy() > -det.estimator_.offset_).all()


def test_sktime_forecaster_says_it_ignores_exogenous_data():
    pytest.importorskip("sktime")
    from sbt_sklearn.sktime import SBTSktimeForecaster

    y = pd.DataFrame({"v": _series(80, 1)[:, 0]})
    X = pd.DataFrame({"x": np.arange(80.0)})
    params = dict(window_length=8, **INIT_PARAMS[SBTForecaster])
    with pytest.warns(UserWarning, match="does not use exogenous X"):
        with_x = SBTSktimeForecaster(**params).fit(y, X=X).predict(fh=[1, 2])
    without = SBTSktimeForecaster(**params).fit(y).predict(fh=[1, 2])
    pd.testing.assert_frame_equal(with_x, without)


def test_too_few_optimizer_steps_warn():
    from sklearn.exceptions import ConvergenceWarning

    X = np.random.default_rng(0).normal(size=(40, 2, 8))
    y = np.arange(40) % 2
    small = dict(d=8, d_ff=16, n_layers=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"only 6 optimizer steps \(2 epoch\(s\) of batch_size=16\)"):
        SBTClassifier(**small, max_epochs=2, batch_size=16).fit(X, y)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SBTClassifier(**small, max_epochs=10, batch_size=4).fit(X, y)  # 10 x 10 = 100 steps


def test_a_time_indexed_table_is_one_series_for_the_detector():
    frame = pd.DataFrame(_series(c=3), index=pd.date_range("2024-01-01", periods=200, freq="h"))
    with pytest.raises(ValueError, match=r"indexed by time: one series of 200 time steps.*fit_series"):
        SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit(frame)
    # for the forecaster a time-indexed table of lag windows (one row per window) is legitimate input
    lags = pd.DataFrame(sliding_windows(_series(c=1)[:, 0], 8)[0][:, 0], index=frame.index[:192])
    target = _series(c=1)[8:, 0]
    assert SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(lags, target).predict(lags).shape == (192,)


def test_fit_series_cuts_the_windows_for_the_user():
    series = _series(c=2)
    frame = pd.DataFrame(series, index=pd.date_range("2024-01-01", periods=200, freq="h"))
    direct = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit(sliding_windows(series, 16, horizon=0)[0])
    via = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit_series(frame, 16)
    assert via.n_timesteps_ == 16 and via.n_channels_ == 2
    np.testing.assert_array_equal(via.score_series(frame).to_numpy(), direct.score_series(series))
    for bad in (0, 2.5, True, 201):
        with pytest.raises(ValueError, match="window"):
            SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit_series(series, bad)
