"""The suite pins ``n_jobs="auto"`` (the estimators' default) to one thread.

``"auto"`` follows the machine's load, so two fits of one test could otherwise run with different
thread counts (and differ in float rounding) when something else starts running in between. The
measurement itself is tested in tests/estimators/test_threads.py through ``MEASURED_FREE_CPUS``.
"""

from sbt_sklearn.estimators import _threads

#: the real measurement of the free CPUs, kept for the tests of n_jobs="auto"
MEASURED_FREE_CPUS = _threads.free_cpus


def pin() -> None:
    """From now on every CPU counts as busy: ``n_jobs="auto"`` resolves to one thread."""
    _threads.free_cpus = lambda: 0
