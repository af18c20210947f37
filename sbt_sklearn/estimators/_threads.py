"""Threads of an estimator call: ``n_jobs`` sets torch's (and, in ``fit``, BLAS's) thread count for
the duration of the call and restores the previous count afterwards.

Why the estimators own this: torch starts with one intra-op thread per core and its OpenMP
threads spin while they wait. The SBT models are small, so on a machine whose cores are busy
with other work a training step with two threads can take several times longer than with one,
while on a quiet machine two threads are 1.3-1.5x faster than one (measured in
``docs/benchmarks/threads.md``). The default ``n_jobs="auto"`` therefore counts the cores that
other processes leave free when a call starts, and during training checks again about once a
second (:class:`FollowLoad`). A call sets the count it needs and leaves the process as it found
it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import time
from numbers import Integral

import torch
from skorch.callbacks import Callback

__all__ = ["available_cpus", "free_cpus", "auto_threads", "check_n_jobs", "resolve_n_jobs", "thread_limit",
           "uses_threads", "FollowLoad"]


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


def _running_tasks(path: str = "/proc/stat") -> int | None:
    """Runnable tasks on the machine now (``procs_running`` of ``/proc/stat``), or None off Linux."""
    try:
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"procs_running "):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _own_running_tasks(task_dir: str = "/proc/self/task") -> int:
    """Threads of this process that are running or runnable now (at least 1: the caller)."""
    n = 0
    try:
        names = os.listdir(task_dir)
    except OSError:
        return 1
    for name in names:
        try:
            with open(f"{task_dir}/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        if stat[stat.rfind(b")") + 2:][:1] == b"R":  # the state follows the parenthesised name
            n += 1
    return max(n, 1)


def free_cpus() -> int | None:
    """CPUs that other processes leave free now, or None where this cannot be read (not Linux).

    The machine's online CPUs minus the runnable tasks of other processes (``procs_running`` of
    ``/proc/stat`` less this process's own running threads, so that torch threads still spinning
    after an earlier call do not count as load). A snapshot: it sees processes that compute, not
    processes that sleep between short bursts.
    """
    running = _running_tasks()
    if running is None:
        return None
    others = max(0, running - _own_running_tasks()) if running > 1 else 0  # 1: the caller alone
    return max(0, (os.cpu_count() or 1) - others)


def auto_threads() -> int:
    """Threads of ``n_jobs="auto"``: the CPUs free now (:func:`free_cpus`), at least 1 and at most
    :func:`available_cpus`; 1 where the load cannot be read."""
    free = free_cpus()
    if free is None:
        return 1
    return int(min(max(free, 1), available_cpus()))


def check_n_jobs(n_jobs) -> None:
    """Raise ValueError unless ``n_jobs`` is "auto", None or a non-zero integer (not a bool)."""
    if (isinstance(n_jobs, str) and n_jobs == "auto") or n_jobs is None:
        return
    if not isinstance(n_jobs, Integral) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs must be 'auto', None or a non-zero integer; got {n_jobs!r}")


def resolve_n_jobs(n_jobs) -> int:
    """Threads for ``n_jobs``: ``"auto"`` -> :func:`auto_threads`; None -> 1; k > 0 -> k; -1 -> every
    available CPU, -2 -> all but one...; capped at :func:`available_cpus`."""
    check_n_jobs(n_jobs)
    if isinstance(n_jobs, str):
        return auto_threads()
    if n_jobs is None:
        return 1
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


#: True while an estimator call decorated with :func:`uses_threads` runs (in this thread or task)
_IN_CALL = contextvars.ContextVar("sbt_sklearn_in_estimator_call", default=False)


def uses_threads(method=None, *, blas: bool = False):
    """Decorate an estimator method so that it runs under ``thread_limit(resolve_n_jobs(self.n_jobs))``."""
    if method is None:
        return functools.partial(uses_threads, blas=blas)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        n_jobs = getattr(self, "n_jobs", None)
        if _IN_CALL.get() and isinstance(n_jobs, str):  # "auto" inside an estimator call (a fit's own
            check_n_jobs(n_jobs)  # predictions): the outer call counted the CPUs and FollowLoad follows
            return method(self, *args, **kwargs)
        token = _IN_CALL.set(True)
        try:
            with thread_limit(resolve_n_jobs(n_jobs), blas=blas):
                return method(self, *args, **kwargs)
        finally:
            _IN_CALL.reset(token)

    return wrapper


class FollowLoad(Callback):
    """During training with ``n_jobs="auto"``: re-count the free CPUs at most every ``interval``
    seconds, at the start of a batch, and set torch's thread count to :func:`auto_threads`.

    A load that starts after ``fit`` began (another fit, a build, a second notebook) then costs
    no more than it would have at the start. The thread count in force when ``fit`` returns is
    restored by the call's :func:`thread_limit`.
    """

    #: seconds between two counts when ``interval`` is None
    default_interval: float = 1.0

    def __init__(self, interval: float | None = None, clock=time.monotonic, threads=None):
        self.interval = interval
        self.clock = clock
        self.threads = threads

    def initialize(self):  # noqa: D102
        self.interval_ = self.default_interval if self.interval is None else float(self.interval)
        self.next_check_ = self.clock() + self.interval_
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):  # noqa: D102
        now = self.clock()
        if now < self.next_check_:
            return
        self.next_check_ = now + self.interval_
        n = (self.threads or auto_threads)()
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
