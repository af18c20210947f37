"""Hyperparameter search on a Dask cluster: joblib's ``"dask"`` backend with one torch thread per task.

dask is imported when :func:`dask_backend` is called (the ``dask`` extra).
"""

from __future__ import annotations

import contextlib
import os

import torch

__all__ = ["dask_backend", "set_torch_threads"]


def _set_threads(n: int) -> int:
    torch.set_num_threads(n)
    # the estimators cap n_jobs at OMP_NUM_THREADS: a fit on this worker never uses more than n threads
    os.environ["OMP_NUM_THREADS"] = str(n)
    return torch.get_num_threads()


def set_torch_threads(client, n_threads: int = 1) -> dict:
    """Set the number of torch intra-op threads on every worker of a Dask client.

    A Dask worker that runs several fits side by side, or several workers on one machine, each
    using all cores, oversubscribe the CPU; one thread per task is usually fastest. The workers'
    ``OMP_NUM_THREADS`` is set to ``n_threads`` too, which caps the estimators' ``n_jobs`` there.

    Parameters
    ----------
    client : dask.distributed.Client
        Connected client.
    n_threads : int, default=1
        Threads per worker process.

    Returns
    -------
    threads : dict
        Worker address -> thread count now in effect.
    """
    return client.run(_set_threads, int(n_threads))


@contextlib.contextmanager
def dask_backend(client=None, *, torch_threads: int | None = 1, n_workers: int = 2, threads_per_worker: int = 1,
                 **cluster_kwargs):
    """Run joblib-parallel scikit-learn code on a Dask cluster.

    Inside the ``with`` block, every ``n_jobs`` loop of scikit-learn (``GridSearchCV``,
    ``RandomizedSearchCV``, ``cross_validate``, ...) sends its fits to the cluster. Results are
    identical to a local run with the same ``random_state`` (each fit is seeded by the
    estimator's parameters, not by where it runs), provided the local run also uses
    ``torch_threads`` threads.

    Parameters
    ----------
    client : dask.distributed.Client or None, default=None
        An existing client (a real cluster). None starts a
        :class:`~dask.distributed.LocalCluster` bound to 127.0.0.1 without a dashboard, and
        closes it on exit, also when the block raises. (``dashboard_address=None`` alone does not
        do it: distributed still opens the scheduler's HTTP server, on port 8787 by default; here
        it gets a free port on 127.0.0.1 and serves no dashboard pages. Pass
        ``dashboard_address=":8787"`` to have the dashboard.)
    torch_threads : int or None, default=1
        torch threads on every worker (see :func:`set_torch_threads`); None leaves them alone.
    n_workers, threads_per_worker : int, default=2, 1
        Size of the local cluster (ignored with ``client``). Worker processes, not threads:
        torch training holds the GIL for part of every step.
    **cluster_kwargs
        More :class:`~dask.distributed.LocalCluster` arguments (ignored with ``client``).

    Yields
    ------
    client : dask.distributed.Client
        The client in use.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sbt_sklearn import SBTClassifier
    >>> from sbt_sklearn.distributed import dask_backend
    >>> search = GridSearchCV(SBTClassifier(max_epochs=5, random_state=0),
    ...                       {"p": [0.25, 0.5, 0.75], "d": [16, 32]}, cv=3, n_jobs=-1)
    >>> with dask_backend(n_workers=2):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    try:
        import joblib
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('dask_backend needs dask.distributed: pip install "sbt-sklearn[dask]"') from exc

    with contextlib.ExitStack() as stack:
        if client is None:
            options = dict(host="127.0.0.1", n_workers=n_workers, threads_per_worker=threads_per_worker,
                           processes=True, dashboard_address=None)
            if cluster_kwargs.get("dashboard_address") is None:
                # the scheduler starts its HTTP server whatever dashboard_address says (on 8787 for None):
                # no dashboard, and a free port on the loopback interface
                scheduler_kwargs = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
                scheduler_kwargs.update(cluster_kwargs.pop("scheduler_kwargs", None) or {})
                options["scheduler_kwargs"] = scheduler_kwargs
            options.update(cluster_kwargs)
            cluster = stack.enter_context(LocalCluster(**options))
            client = stack.enter_context(Client(cluster))
        if torch_threads is not None:
            set_torch_threads(client, torch_threads)
        with joblib.parallel_backend("dask"):
            yield client
