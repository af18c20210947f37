"""SBTPyODDetector: PyOD's conventions on the SBT anomaly detector, checked with PyOD's own base class."""

import numpy as np
import pytest
from _params import INIT_PARAMS
from sklearn.base import clone

pytest.importorskip("pyod")
from pyod.models.base import BaseDetector  # noqa: E402

from sbt_sklearn import SBTAnomalyDetector, sliding_windows  # noqa: E402
from sbt_sklearn.pyod import SBTPyODDetector  # noqa: E402


@pytest.fixture(scope="module")
def windows():
    rng = np.random.default_rng(0)
    series = np.sin(np.arange(600) / 7.0)[:, None] + 0.05 * rng.normal(size=(600, 2))
    series[450:455] += 3.0  # a burst
    X, _ = sliding_windows(series.astype(np.float32), 16, horizon=0)
    return np.ascontiguousarray(X)


@pytest.fixture(scope="module")
def fitted(windows):
    # the error alone: P(outlier) > 0.5 for every flagged window (checked below) is a property of
    # these scores, not of PyOD's min-max rule for any score (it failed with rarity="marginal")
    return SBTPyODDetector(**INIT_PARAMS[SBTAnomalyDetector], contamination=0.05, rarity=None).fit(windows[:400])


def test_scores_are_minus_the_sklearn_detectors(windows, fitted):
    sklearn_det = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector], contamination=0.05,
                                     rarity=None).fit(windows[:400])
    np.testing.assert_array_equal(fitted.decision_function(windows), -sklearn_det.score_samples(windows))
    np.testing.assert_array_equal(fitted.decision_scores_, -sklearn_det.score_samples(windows[:400]))


def test_pyod_attributes_and_labels(windows, fitted):
    assert isinstance(fitted, BaseDetector)
    assert fitted.threshold_ == np.percentile(fitted.decision_scores_, 95)
    np.testing.assert_array_equal(fitted.labels_, (fitted.decision_scores_ > fitted.threshold_).astype(int))
    assert set(np.unique(fitted.labels_)) == {0, 1} and abs(fitted.labels_.mean() - 0.05) < 0.01
    labels = fitted.predict(windows)
    np.testing.assert_array_equal(labels, (fitted.decision_function(windows) > fitted.threshold_).astype(int))
    assert labels[440:455].any()  # the burst is flagged
    proba = fitted.predict_proba(windows)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(np.argmax(proba, axis=1)[labels == 1], 1)  # outliers: P(outlier) > 0.5
    labels2, confidence = fitted.predict(windows, return_confidence=True)
    np.testing.assert_array_equal(labels2, labels)
    assert confidence.shape == labels.shape and ((confidence >= 0) & (confidence <= 1)).all()


def test_pot_threshold_and_params_follow_the_sklearn_detector(windows):
    det = SBTPyODDetector(**INIT_PARAMS[SBTAnomalyDetector], threshold="pot").fit(windows[:400])
    assert det.threshold_ == det.estimator_.threshold_
    np.testing.assert_array_equal(det.labels_, (det.decision_scores_ > det.threshold_).astype(int))
    params = det.get_params()
    assert params == SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector], threshold="pot").get_params()
    copy = clone(det)
    assert copy.get_params() == params and not hasattr(copy, "estimator_")
