"""n_jobs: the threads of each call, restored afterwards; never more than the CPUs a process may use."""

import os

import joblib
import numpy as np
import pytest
import torch
from _params import INIT_PARAMS
from _pinned_threads import MEASURED_FREE_CPUS
from skorch.callbacks import Callback
from threadpoolctl import threadpool_info

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from sbt_sklearn.estimators import _threads
from sbt_sklearn.estimators._threads import (
    FollowLoad,
    _own_running_tasks,
    _running_tasks,
    auto_threads,
    available_cpus,
    resolve_n_jobs,
    thread_limit,
)


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
@pytest.mark.parametrize("n_jobs, expected", [(None, 1), (1, 1), (-1, None), ("auto", 1)])  # the suite pins auto
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


# -- n_jobs="auto": the CPUs other processes leave free -------------------------------------------------------------
def test_auto_resolves_to_the_free_cpus_within_the_available_ones(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cpus = available_cpus()
    for free, expected in [(0, 1), (1, 1), (cpus, cpus), (cpus + 7, cpus), (None, 1)]:  # None: load unreadable
        monkeypatch.setattr(_threads, "free_cpus", lambda free=free: free)
        assert resolve_n_jobs("auto") == expected == auto_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a joblib worker's share caps "auto" too
    assert resolve_n_jobs("auto") == 1
    with pytest.raises(ValueError, match="n_jobs"):
        resolve_n_jobs("max")


def test_running_tasks_are_read_from_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3\nctxt 99\nprocs_running 3\nprocs_blocked 1\n")
    assert _running_tasks(str(stat)) == 3
    stat.write_text("cpu  1 2 3\n")
    assert _running_tasks(str(stat)) is None
    assert _running_tasks(str(tmp_path / "missing")) is None


def test_own_running_threads_are_counted_from_their_state(tmp_path):
    for tid, comm, state in [(1, "python", "R"), (2, "pt_main thread) S (x", "R"), (3, "gc", "S"), (4, "omp", "D")]:
        (tmp_path / str(tid)).mkdir()
        (tmp_path / str(tid) / "stat").write_text(f"{tid} ({comm}) {state} 1 2 3 4\n")
    (tmp_path / "5").mkdir()  # a thread that ended before its stat was read
    assert _own_running_tasks(str(tmp_path)) == 2
    assert _own_running_tasks(str(tmp_path / "missing")) == 1  # at least the caller


def test_free_cpus_measures_this_machine(monkeypatch):
    free = MEASURED_FREE_CPUS()
    if _running_tasks() is None:
        assert free is None
        return
    assert 0 <= free <= os.cpu_count()
    # the other processes' runnable tasks are taken from the online CPUs
    monkeypatch.setattr(_threads, "_running_tasks", lambda: 5)
    monkeypatch.setattr(_threads, "_own_running_tasks", lambda: 2)
    assert MEASURED_FREE_CPUS() == max(0, os.cpu_count() - 3)
    monkeypatch.setattr(_threads, "_running_tasks", lambda: 1)  # the caller alone: its threads are not read
    monkeypatch.setattr(_threads, "_own_running_tasks", lambda: pytest.fail("read"))
    assert MEASURED_FREE_CPUS() == os.cpu_count()


def test_follow_load_sets_the_threads_once_per_interval():
    now, free = [0.0], [1]
    cb = FollowLoad(interval=1.0, clock=lambda: now[0], threads=lambda: free[0]).initialize()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        free[0] = 2
        now[0] = 0.5
        cb.on_batch_begin(None)
        assert torch.get_num_threads() == 3  # within the interval: not counted again
        now[0] = 1.0
        cb.on_batch_begin(None)
        assert torch.get_num_threads() == 2
        free[0] = 1
        now[0] = 1.9
        cb.on_batch_begin(None)
        assert torch.get_num_threads() == 2
        now[0] = 2.0
        cb.on_batch_begin(None)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


class RecordStartThreads(Callback):
    def __init__(self, seen=None):
        self.seen = seen

    def on_train_begin(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


@pytest.mark.parametrize("cls", [SBTClassifier, SBTForecaster, SBTAnomalyDetector])
def test_auto_is_the_default_and_follows_the_load_during_fit(cls, monkeypatch):
    assert cls().n_jobs == "auto"
    X, y = _data(cls)
    free = iter([2])  # two CPUs free when fit starts, then one
    monkeypatch.setattr(_threads, "free_cpus", lambda: next(free, 1))
    monkeypatch.setattr(FollowLoad, "default_interval", 0.0)  # count at every batch
    start, seen = [], []
    est = cls(**{**INIT_PARAMS[cls], "max_epochs": 2}, callbacks=[RecordStartThreads(start), RecordThreads(seen)])
    before = torch.get_num_threads()
    try:
        est.fit(X, y)
        assert start == [min(2, available_cpus())]
        assert [t for t, _ in seen] == [1, 1]  # counted again at the first batch: one CPU free
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="n_jobs"):
        cls(**INIT_PARAMS[cls], n_jobs="all").fit(X, y)


def test_auto_counts_the_cpus_once_per_outer_call(monkeypatch):
    """score calls predict: with "auto" the load is read once, by the outer call."""
    X, y = _data(SBTForecaster)
    est = SBTForecaster(**INIT_PARAMS[SBTForecaster]).fit(X, y)
    reads = []
    monkeypatch.setattr(_threads, "free_cpus", lambda: reads.append(1) or 0)
    est.score(X, y)
    assert len(reads) == 1
    est.predict(X)
    assert len(reads) == 2
