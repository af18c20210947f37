"""n_jobs: the threads of each call, restored afterwards; never more than the CPUs a process may use."""

import joblib
import numpy as np
import pytest
import torch
from _params import INIT_PARAMS
from skorch.callbacks import Callback
from threadpoolctl import threadpool_info

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from sbt_sklearn.estimators._threads import available_cpus, resolve_n_jobs, thread_limit


class RecordThreads(Callback):
    """Records torch's and BLAS's thread counts at every epoch end (in a list shared by clones)."""

    def __init__(self, seen=None):
        self.seen = seen

    def on_epoch_end(self, net, **kwargs):
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        self.seen.append((torch.get_num_threads(), max(blas) if blas else None))


def _data(cls):
    X = np.random.default_rng(0).normal(size=(24, 2, 10)).astype(np.float32)
    y = {SBTClassifier: (X[:, 0, -1] > 0).astype(int), SBTForecaster: X[:, :, -1] * 0.5}.get(cls)
    return X, y


@pytest.mark.parametrize("cls", [SBTClassifier, SBTForecaster, SBTAnomalyDetector])
@pytest.mark.parametrize("n_jobs, expected", [(None, 1), (1, 1), (-1, None)])
def test_fit_runs_with_n_jobs_threads_and_restores_the_global_setting(cls, n_jobs, expected):
    expected = available_cpus() if expected is None else expected
    X, y = _data(cls)
    seen = []
    est = cls(**{**INIT_PARAMS[cls], "max_epochs": 2}, n_jobs=n_jobs, callbacks=[RecordThreads(seen)])
    before = torch.get_num_threads()
    other = 2 if before != 2 else 3
    torch.set_num_threads(other)  # whatever the caller set is left as it was
    try:
        est.fit(X, y)
        assert torch.get_num_threads() == other
        assert [t for t, _ in seen] == [expected] * 2
        assert all(b is None or b <= expected for _, b in seen)  # BLAS limited during fit too
        predict = est.predict_proba if cls is SBTClassifier else (
            est.score_samples if cls is SBTAnomalyDetector else est.predict)
        predict(X)
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)


def test_threads_are_restored_when_fit_raises():
    before = torch.get_num_threads()
    with pytest.raises(ValueError):
        SBTForecaster(n_jobs=1).fit(np.zeros((4, 2, 5), np.float32), np.zeros((4, 3)))  # y has 3 columns
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), thread_limit(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_resolve_n_jobs(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpus = available_cpus()
    assert resolve_n_jobs(None) == 1 and resolve_n_jobs(1) == 1
    assert resolve_n_jobs(-1) == cpus and resolve_n_jobs(-2) == max(1, cpus - 1)
    assert resolve_n_jobs(cpus + 5) == cpus  # never more threads than CPUs
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # what joblib sets in its workers
    assert available_cpus() == 1 and resolve_n_jobs(-1) == 1 and resolve_n_jobs(4) == 1
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_jobs"):
            resolve_n_jobs(bad)


def test_n_jobs_zero_is_refused_at_fit():
    X, y = _data(SBTClassifier)
    with pytest.raises(ValueError, match="n_jobs"):
        SBTClassifier(**INIT_PARAMS[SBTClassifier], n_jobs=0).fit(X, y)


def _threads_in_worker():
    return resolve_n_jobs(-1), torch.get_num_threads()


def test_joblib_workers_never_oversubscribe():
    # joblib gives each of its n workers cpu_count // n threads; n_jobs=-1 inside a worker follows
    results = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_threads_in_worker)() for _ in range(2))
    share = max(1, joblib.cpu_count() // 2)
    assert all(n <= share for n, _ in results), results


@pytest.mark.parametrize("cls", [SBTClassifier, SBTForecaster, SBTAnomalyDetector])
def test_a_fitted_model_predicts_the_same_with_any_n_jobs(cls):
    X, y = _data(cls)
    est = cls(**INIT_PARAMS[cls]).fit(X, y)
    method = {SBTClassifier: "predict_proba", SBTForecaster: "predict", SBTAnomalyDetector: "score_samples"}[cls]
    one = getattr(est, method)(X)
    est.set_params(n_jobs=-1)
    np.testing.assert_allclose(getattr(est, method)(X), one, rtol=1e-5, atol=1e-6)
