"""GridSearchCV over SBT estimators on a Dask LocalCluster (127.0.0.1) gives the local results.

The cluster is started and stopped by the test (context managers, also on failure); both runs
use one torch thread per fit so that the results can be compared for exact equality.
"""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold

pytest.importorskip("dask.distributed", reason='dask.distributed is not installed (pip install "sbt-sklearn[dask]")')

from dask.distributed import get_task_stream  # noqa: E402

from sbt_sklearn import SBTClassifier, SBTForecaster, sliding_windows  # noqa: E402
from sbt_sklearn.distributed import dask_backend  # noqa: E402

TINY = dict(n_heads=2, n_layers=1, d_ff=16, max_epochs=1, batch_size=16, random_state=0)


def _searches(panel):
    X, y = panel
    t = np.arange(200, dtype=np.float32)
    Xf, yf = sliding_windows(np.stack([np.sin(t / 5), np.cos(t / 7)], axis=1), window=12)
    return [
        (GridSearchCV(SBTClassifier(**TINY), {"p": [0.25, 0.75], "d": [8, 16]}, cv=2, n_jobs=-1), X, y),
        (GridSearchCV(SBTForecaster(d=8, **TINY), {"p": [0.25, 0.75]}, cv=KFold(2), n_jobs=-1), Xf, yf),
    ]


# one_torch_thread (tests/conftest.py): one thread as on the workers, so that float sums agree bit for bit
def test_grid_search_on_dask_matches_local(panel, one_torch_thread):
    local = [search.fit(X, y) for search, X, y in _searches(panel)]

    with dask_backend(n_workers=2, threads_per_worker=1) as client:
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in client.scheduler_info()["workers"])
        assert set(client.run(torch.get_num_threads).values()) == {1}
        with get_task_stream(client) as stream:
            remote = [search.fit(X, y) for search, X, y in _searches(panel)]
        assert len(stream.data) >= 8 + 4  # the fits ran on the cluster, not in this process
    assert client.status == "closed"

    for a, b in zip(local, remote):
        assert a.best_params_ == b.best_params_
        np.testing.assert_array_equal(a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"])
        np.testing.assert_array_equal(a.cv_results_["split0_test_score"], b.cv_results_["split0_test_score"])
        assert a.best_score_ == b.best_score_
    X, _ = panel
    np.testing.assert_array_equal(local[0].predict_proba(X), remote[0].predict_proba(X))


def test_dask_backend_closes_cluster_on_error():
    with pytest.raises(RuntimeError, match="boom"):
        with dask_backend(n_workers=1) as client:
            raise RuntimeError("boom")
    assert client.status == "closed"


def _listening(processes):
    """(host, port) of every TCP socket that these processes listen on."""
    import psutil

    found = []
    for proc in processes:
        try:
            found += [c.laddr for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
        except psutil.NoSuchProcess:
            pass
    return [(addr.ip, addr.port) for addr in found]


def test_local_cluster_serves_no_dashboard_and_stops():
    """No dashboard: nothing listens on 8787, the scheduler's HTTP server has no dashboard pages, every
    socket of the cluster is on 127.0.0.1, and the worker processes are gone soon after the block."""
    import urllib.error
    import urllib.request

    psutil = pytest.importorskip("psutil")  # a dependency of distributed

    import os

    me = psutil.Process()
    with dask_backend(n_workers=1) as client:
        pids = set(client.run(os.getpid).values())
        assert os.getpid() not in pids  # the worker runs in a process of its own
        workers = [psutil.Process(pid) for pid in pids]
        sockets = _listening([me, *workers])
        assert 8787 not in {port for _, port in sockets}
        scheduler = client.cluster.scheduler
        http_ports = {sock.getsockname()[1] for sock in scheduler.http_server._sockets.values()}
        assert {host for host, port in sockets if port in http_ports | {8787}} == {"127.0.0.1"}
        assert {host for host, _ in _listening(workers)} == {"127.0.0.1"}
        port = http_ports.pop()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10)
        assert missing.value.code == 404  # the bokeh dashboard's page is not served
    assert client.status == "closed"
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"worker processes still running 30 s after the cluster closed: {alive}"
