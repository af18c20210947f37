"""transform: the representation the output layer reads, for every estimator (issue 21)."""

import numpy as np
import pytest
import torch
from _params import INIT_PARAMS
from sklearn.exceptions import NotFittedError

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows


def _windows():
    series = np.random.default_rng(0).normal(size=(300, 3)).cumsum(axis=0)
    return sliding_windows(series.astype(np.float32), 16)


def _decoded(est, embedded):
    """The network output computed from transform's rows by the output layer alone."""
    with torch.no_grad():
        out = est.module_.decoder(torch.as_tensor(embedded, dtype=torch.float32))
        gate = getattr(est.module_, "output_gate", None)
        return (out if gate is None else out * gate).double()


def test_classifier_rows_give_predict_proba_through_the_output_layer():
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(2, int(n))).astype(np.float32) for n in rng.integers(5, 40, size=30)]
    y = np.arange(30) % 3
    clf = SBTClassifier(**INIT_PARAMS[SBTClassifier]).fit(series, y)
    embedded = clf.transform(series)
    assert embedded.shape == (30, clf.d) and embedded.dtype == np.float32
    np.testing.assert_allclose(torch.softmax(_decoded(clf, embedded), dim=1).numpy(), clf.predict_proba(series),
                               rtol=0, atol=1e-6)
    alone = np.concatenate([clf.transform([s]) for s in series])  # padding and order change nothing
    np.testing.assert_allclose(embedded, alone, rtol=0, atol=1e-5)


@pytest.mark.parametrize("cls", [SBTForecaster, SBTAnomalyDetector], ids=lambda c: c.__name__)
def test_last_step_rows_give_the_network_output(cls):
    X, y = _windows()
    est = cls(**INIT_PARAMS[cls]).fit(X, None if cls is SBTAnomalyDetector else y)
    embedded = est.transform(X[:50])
    assert embedded.shape == (50, est.d)
    network = est._forward(est._dataset(np.asarray(X[:50]))).double()
    np.testing.assert_allclose(_decoded(est, embedded).numpy(), network.numpy(), rtol=0, atol=1e-5)
    assert est.fit_transform(X, None if cls is SBTAnomalyDetector else y).shape == (len(X), est.d)


def test_transform_checks_its_input_like_predict():
    X, y = _windows()
    with pytest.raises(NotFittedError):
        SBTForecaster().transform(X)
    est = SBTForecaster(**INIT_PARAMS[SBTForecaster], base_lags=8).fit(X, y)
    with pytest.raises(ValueError, match="too short"):
        est.transform(np.ascontiguousarray(X[:, :, -4:]))
    with pytest.raises(ValueError, match="expecting 3 features"):
        est.transform(np.ascontiguousarray(X[:, :2]))
