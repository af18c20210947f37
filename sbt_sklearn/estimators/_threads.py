"""Threads of an estimator call: ``n_jobs`` sets torch's (and, in ``fit``, BLAS's) thread count for
the duration of the call and restores the previous count afterwards.

Why the estimators own this: torch starts with one intra-op thread per core and its OpenMP
threads spin while they wait. The SBT models are small, so on a machine whose cores are busy
with other work a training step with two threads can take several times longer than with one
(measured in ``docs/benchmarks/threads.md``). A call sets the count it needs and leaves the
process as it found it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from numbers import Integral

import torch

__all__ = ["available_cpus", "resolve_n_jobs", "thread_limit", "uses_threads"]


def available_cpus() -> int:
    """CPUs this process may use: its CPU affinity, capped by ``OMP_NUM_THREADS`` when that is set.

    joblib sets ``OMP_NUM_THREADS`` in its worker processes to their share of the cores (and
    :func:`sbt_sklearn.distributed.dask_backend` on its Dask workers), so an estimator fitted
    inside ``GridSearchCV(n_jobs=k)`` never asks for more threads than its share.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        n = os.cpu_count() or 1
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        n = min(n, int(env))
    return max(1, n)


def resolve_n_jobs(n_jobs) -> int:
    """Threads for ``n_jobs``: None -> 1; k > 0 -> k; -1 -> every available CPU, -2 -> all but
    one...; capped at :func:`available_cpus`."""
    if n_jobs is None:
        return 1
    if not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a non-zero integer; got {n_jobs!r}")
    cpus = available_cpus()
    n = int(n_jobs) if n_jobs > 0 else cpus + 1 + int(n_jobs)
    return int(min(max(n, 1), cpus))


@contextlib.contextmanager
def thread_limit(n: int, *, blas: bool = False):
    """Run the block with ``n`` torch intra-op threads (and at most ``n`` BLAS threads when
    ``blas``), then restore the previous settings."""
    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        if blas:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=n, user_api="blas"):
                yield
        else:
            yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def uses_threads(method=None, *, blas: bool = False):
    """Decorate an estimator method so that it runs under ``thread_limit(resolve_n_jobs(self.n_jobs))``."""
    if method is None:
        return functools.partial(uses_threads, blas=blas)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with thread_limit(resolve_n_jobs(getattr(self, "n_jobs", None)), blas=blas):
            return method(self, *args, **kwargs)

    return wrapper
