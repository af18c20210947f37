"""sktime forecaster and detector adapters: sktime's checks, update, pipelines, tuning."""

import inspect

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sktime")

from _params import NAMED_PARAMS  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

from sbt_sklearn import SBTAnomalyDetector, SBTForecaster  # noqa: E402
from sbt_sklearn.sktime import SBTSktimeDetector, SBTSktimeForecaster  # noqa: E402

TINY = NAMED_PARAMS["sktime_series"]
# n_jobs sets torch's threads, and float sums in training depend on the thread count: fits with
# n_jobs=1 and n_jobs=-1 agree statistically, not to sktime's 6 decimals (documented on n_jobs;
# tests/estimators/test_threads.py checks that a fitted model predicts the same with any n_jobs)
THREAD_DEPENDENT = ["test_multiprocessing_idempotent"]


@pytest.mark.parametrize("adapter, wrapped", [(SBTSktimeForecaster, SBTForecaster),
                                              (SBTSktimeDetector, SBTAnomalyDetector)])
def test_same_hyperparameters_plus_window_length(adapter, wrapped):
    a = list(inspect.signature(adapter.__init__).parameters)
    b = list(inspect.signature(wrapped.__init__).parameters)
    assert a == ["self", "window_length", *b[1:]]


@pytest.mark.parametrize("adapter", [SBTSktimeForecaster, SBTSktimeDetector])
def test_sktime_check_estimator_passes(adapter):
    results = check_estimator(adapter, raise_exceptions=False, verbose=False, tests_to_exclude=THREAD_DEPENDENT)
    failed = {k: v for k, v in results.items() if v != "PASSED"}
    assert not failed, failed


@pytest.fixture(scope="module")
def airline():
    from sktime.datasets import load_airline

    return np.log(load_airline())


def test_forecast_any_horizon_and_update_without_refitting(airline):
    f = SBTSktimeForecaster(window_length=12, **TINY).fit(airline.iloc[:-12])
    inner = f.estimator_
    first = f.predict(fh=[1, 2, 12])
    assert list(first.index) == list(airline.index[-12:][[0, 1, 11]])
    rolled = f.estimator_.forecast(airline.iloc[:-12].to_numpy(), 12)
    np.testing.assert_allclose(first.to_numpy(), rolled[[0, 1, 11]])
    f.update(airline.iloc[-12:-6], update_params=True)
    assert f.estimator_ is inner  # no refit
    after = f.predict(fh=[1])
    assert after.index[0] == airline.index[-6]
    expected = inner.forecast(airline.iloc[:-6].to_numpy(), 1)[0]
    assert after.iloc[0] == pytest.approx(expected)


def test_multivariate_forecast():
    rng = np.random.default_rng(0)
    y = pd.DataFrame(np.cumsum(rng.normal(size=(120, 3)), axis=0), columns=["a", "b", "c"])
    f = SBTSktimeForecaster(window_length=10, **TINY).fit(y)
    pred = f.predict(fh=[1, 2])
    assert list(pred.columns) == ["a", "b", "c"] and pred.shape == (2, 3)
    # one multivariate model: without the capability:multivariate tag sktime fitted one per column
    assert f.estimator_.n_channels_ == 3 and not hasattr(f, "forecasters_")


def test_pipeline_and_forecasting_grid_search(airline):
    from sktime.forecasting.model_selection import ForecastingGridSearchCV
    from sktime.split import ExpandingWindowSplitter
    from sktime.transformations.series.detrend import Detrender

    pipe = Detrender() * SBTSktimeForecaster(window_length=12, **TINY)
    assert pipe.fit(airline.iloc[:-6]).predict(fh=[1, 2, 3]).shape == (3,)
    cv = ExpandingWindowSplitter(initial_window=96, step_length=24, fh=[1, 2, 3])
    search = ForecastingGridSearchCV(SBTSktimeForecaster(window_length=12, **TINY), cv=cv,
                                     param_grid={"p": [0.25, 0.75]})
    search.fit(airline.iloc[:-6])
    assert search.best_params_["p"] in (0.25, 0.75)
    assert search.predict(fh=[1]).shape == (1,)


def test_detector_scores_every_point_including_the_first_window():

    rng = np.random.default_rng(1)
    X = pd.DataFrame(np.sin(np.arange(400) / 6.0)[:, None] + 0.05 * rng.normal(size=(400, 2)))
    det = SBTSktimeDetector(window_length=30, **TINY).fit(X.iloc[:300])
    test = X.iloc[300:].copy()
    test.iloc[60:63] += 4.0
    scores = det.transform_scores(test)
    assert scores.shape == (100,) and np.isfinite(scores).all()
    inner = det.estimator_
    # point 0 uses the one-step context, point 10 the first 11 steps, point 29 onwards full windows
    assert scores.iloc[10] == pytest.approx(-inner.score_samples(test.iloc[:11].to_numpy().T[None])[0])
    assert inner.smooth_ == "multiscale"  # the default on a series: full windows' scores are smoothed
    np.testing.assert_allclose(scores.iloc[29:], -inner.score_series(test.to_numpy())[29:], rtol=1e-12)
    labels = det.transform(test)
    ilocs = det.predict(test)
    assert set(np.flatnonzero(labels.to_numpy().ravel())) == set(ilocs.to_numpy().ravel())
    assert scores.iloc[60:63].min() > np.median(scores)


def test_last_window_and_the_deprecated_history_alias(airline):
    f = SBTSktimeForecaster(window_length=12, **TINY)
    assert not hasattr(f, "history_") and not hasattr(f, "last_window_")  # not fitted: no warning either
    f.fit(airline.iloc[:-12])
    pd.testing.assert_series_equal(f.last_window_.iloc[:, 0], airline.iloc[-24:-12], check_names=False)
    with pytest.warns(FutureWarning, match="renamed to last_window_"):
        old = f.history_
    assert old is f.last_window_
    f.update(airline.iloc[-12:-6], update_params=False)
    assert f.last_window_.index[-1] == airline.index[-7] and len(f.last_window_) == 12
    # sktime's get_fitted_params lists every public name ending in "_": the alias is not one of them
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        params = f.get_fitted_params()
    assert "last_window" in params and "history" not in params
    assert "history_" not in dir(f)
    assert len(f.estimator_.history_) == f.estimator_.n_epochs_  # the training history lives on the estimator

    import pickle

    restored = pickle.loads(pickle.dumps(f))
    pd.testing.assert_frame_equal(restored.last_window_, f.last_window_)
    old = object.__new__(SBTSktimeForecaster)  # a forecaster pickled before the rename
    old.__setstate__({**{k: v for k, v in f.__dict__.items() if k != "last_window_"}, "history_": f.last_window_})
    np.testing.assert_allclose(old.predict(fh=[1, 2]).to_numpy(), f.predict(fh=[1, 2]).to_numpy())


def test_forecaster_interpolates_missing_values_when_asked():
    from sktime.datasets import load_airline

    y = load_airline().astype(float)
    gappy = y.copy()
    gappy.iloc[[5, 40, 41, 100, len(y) - 2]] = np.nan
    params = dict(window_length=12, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, random_state=0)
    assert SBTSktimeForecaster(**params, missing="interpolate").get_tag("capability:missing_values") is True
    with pytest.raises(ValueError, match="missing data"):
        SBTSktimeForecaster(**params).fit(gappy)
    filled = gappy.interpolate(method="linear", limit_direction="both")
    ours = SBTSktimeForecaster(**params, missing="interpolate").fit(gappy).predict(fh=[1, 2, 3])
    reference = SBTSktimeForecaster(**params, missing="interpolate").fit(filled).predict(fh=[1, 2, 3])
    np.testing.assert_allclose(ours.to_numpy(), reference.to_numpy(), rtol=1e-6)


def test_detector_flags_only_fully_scored_points_at_the_fitted_rate():
    import os

    import sktime

    from sbt_sklearn import sliding_windows

    data = pd.read_csv(os.path.join(os.path.dirname(sktime.__file__), "datasets", "data", "yahoo", "yahoo.csv"))
    X = data[["data"]]
    det = SBTSktimeDetector(window_length=20, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, random_state=0)
    points = det.fit(X).predict(X).to_numpy().ravel()  # sktime returns a frame of ilocs
    assert points.min() >= 19  # the 19 points scored with a shorter window are never flagged
    windows, _ = sliding_windows(X.to_numpy(float), 20, horizon=0)
    est = det.estimator_  # full windows' scores, smoothed by the detector's fitted rule
    series_scores = -est.score_series(X.to_numpy(float))[19:]
    np.testing.assert_allclose(det.transform_scores(X).to_numpy()[19:], series_scores)
    assert det.threshold_ == pytest.approx(np.percentile(series_scores, 99), rel=1e-12)  # on this same series
    above = series_scores > det.threshold_
    np.testing.assert_array_equal(points, np.flatnonzero(above) + 19)  # exactly the full windows above it
    assert len(points) <= 0.011 * len(windows) + 1  # contamination=0.01 on the training series
    scores = det.predict_scores(X).to_numpy().ravel()
    np.testing.assert_allclose(scores, det.transform_scores(X).to_numpy()[points])


def _noisy_series(n=260, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = np.stack([np.sin(t / 6.0) + 0.3 * rng.normal(size=n), np.cos(t / 9.0) + 0.3 * rng.normal(size=n)], 1)
    return pd.DataFrame(values, index=pd.RangeIndex(n), columns=["a", "b"])


def test_prediction_intervals_are_split_conformal_quantiles_of_rolled_errors():
    y = _noisy_series()
    params = dict(window_length=12, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=3, random_state=0)
    f = SBTSktimeForecaster(**params).fit(y)
    pi = f.predict_interval(fh=[1, 2, 3], coverage=[0.5, 0.9])
    point = f.predict(fh=[1, 2, 3])
    # the same half-widths by hand: roll the fitted model from every calibration origin
    rows = y.to_numpy()
    origins = np.unique(np.linspace(12, len(rows) - 1, len(rows) - 12).astype(int))
    for h in (1, 3):
        errors = []
        for o in origins[origins + h - 1 < len(rows)]:
            errors.append(np.abs(f.estimator_.forecast(rows[o - 12 : o], h)[-1] - rows[o + h - 1]))
        errors = np.sort(np.array(errors), axis=0)
        half = errors[min(len(errors), int(np.ceil((len(errors) + 1) * 0.9))) - 1]  # the conformal rank
        got = pi.xs(0.9, axis=1, level=1).xs("upper", axis=1, level=1).iloc[h - 1].to_numpy() - point.iloc[h - 1]
        np.testing.assert_allclose(got.to_numpy(), half, rtol=1e-5, atol=1e-6)
    narrow = pi.xs(0.5, axis=1, level=1)
    wide = pi.xs(0.9, axis=1, level=1)
    assert (wide.xs("lower", axis=1, level=1) <= narrow.xs("lower", axis=1, level=1)).all().all()
    assert (narrow.xs("upper", axis=1, level=1) >= point).all().all()
    median = f.predict_quantiles(fh=[1, 2, 3], alpha=[0.5]).xs(0.5, axis=1, level=1)
    np.testing.assert_allclose(median.to_numpy(), point.to_numpy())


def test_prediction_intervals_cover_held_out_data_near_nominal():
    y = _noisy_series(n=700, seed=1)
    params = dict(window_length=24, d=16, n_heads=2, n_layers=1, d_ff=32, random_state=0)
    f = SBTSktimeForecaster(**params).fit(y.iloc[:500])
    inside = []
    for origin in range(500, 680, 10):
        if origin > 500:
            f.update(y.iloc[origin - 10 : origin])
        pi = f.predict_interval(fh=list(range(1, 11)), coverage=0.9)
        truth = y.iloc[origin : origin + 10].to_numpy()
        lower = pi.xs("lower", axis=1, level=2).to_numpy()
        upper = pi.xs("upper", axis=1, level=2).to_numpy()
        inside.append((truth >= lower) & (truth <= upper))
    assert 0.8 <= np.mean(inside) <= 0.98  # 360 truths of a stationary series at nominal 0.9


def test_prediction_intervals_need_residuals_that_far_ahead():
    y = _noisy_series(n=20)
    f = SBTSktimeForecaster(window_length=12, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=1, random_state=0).fit(y)
    assert f.predict_interval(fh=[1, 8]).shape == (2, 4)
    with pytest.raises(ValueError, match="9 steps ahead need training residuals"):
        f.predict_interval(fh=[9])


def test_interpolating_forecaster_updates_with_gaps_and_starts_from_the_series_fill():
    from sktime.datasets import load_airline

    y = load_airline().astype(float)
    gappy = y.copy()
    gappy.iloc[[118, 119]] = np.nan  # the first two steps of the last window of the training part
    params = dict(window_length=12, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, random_state=0,
                  missing="interpolate")
    f = SBTSktimeForecaster(**params).fit(gappy.iloc[:130])
    reference = SBTSktimeForecaster(**params).fit(gappy.iloc[:130].interpolate(limit_direction="both"))
    np.testing.assert_allclose(f.predict(fh=[1, 2]).to_numpy(), reference.predict(fh=[1, 2]).to_numpy(), rtol=1e-6)
    f.update(gappy.iloc[129:136].where(lambda s: s.index != s.index[3]))  # repeats the cutoff, a NaN inside
    assert len(f.predict(fh=[1, 2])) == 2 and np.isfinite(f.predict(fh=[1, 2]).to_numpy()).all()


def test_direct_multi_horizon_adapter_answers_fh_with_gaps_in_one_pass():
    rng = np.random.default_rng(1)
    t = np.arange(200)
    y = pd.DataFrame(np.stack([np.sin(t / 6), np.cos(t / 9)], axis=1) + 0.05 * rng.normal(size=(200, 2)),
                     columns=["a", "b"])
    f = SBTSktimeForecaster(window_length=12, horizon=6, **TINY).fit(y)
    inner = f.estimator_
    assert inner.horizon == 6 and inner.n_channels_ == 2 and inner.module_.n_queries == 6
    direct = inner.predict(y.to_numpy()[-12:].T[None].astype(np.float32))[0]  # (C, 6): one pass
    gaps = f.predict(fh=[2, 6])
    np.testing.assert_allclose(gaps.to_numpy(), direct[:, [1, 5]].T, rtol=1e-6)
    assert list(gaps.index) == [201, 205]
    longer = f.predict(fh=list(range(1, 15)))  # beyond the horizon: blocks of 6
    np.testing.assert_allclose(longer.to_numpy(), inner.forecast(y.to_numpy()[-12:], 14), rtol=1e-6)
    intervals = f.predict_interval(fh=[1, 6, 9], coverage=0.9)
    point = f.predict(fh=[1, 6, 9])
    assert (intervals[("a", 0.9, "lower")] <= point["a"]).all() and (point["a"] <= intervals[("a", 0.9, "upper")]).all()
    with pytest.raises(ValueError, match="at least horizon"):
        SBTSktimeForecaster(window_length=12, horizon=300, **TINY).fit(y)


def test_adapter_tags_are_registered_in_the_installed_sktime():
    """Every tag the adapters declare is a tag the installed sktime knows; the two that its
    registry does not list for forecasters are kept on purpose (see the comments in _tags)."""
    from sktime.registry import all_tags

    from sbt_sklearn.sktime import SBTSktimeClassifier

    registry = {row[0]: row[1] for row in all_tags()}
    for adapter in (SBTSktimeForecaster, SBTSktimeClassifier, SBTSktimeDetector):
        assert set(adapter._tags) <= set(registry), sorted(set(adapter._tags) - set(registry))
    for_forecasters = {name for name, scitypes in registry.items()  # "object" and "estimator" tags apply to all
                       if {"forecaster", "object", "estimator"} & set([scitypes] if isinstance(scitypes, str)
                                                                      else scitypes)}
    assert set(SBTSktimeForecaster._tags) - for_forecasters <= {"scitype:y", "capability:multivariate"}
