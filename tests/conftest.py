"""Shared fixtures: small deterministic data, a quiet single-machine torch setup, thread limits.

Cheap estimator settings live in ``tests/_params.py``.
"""

import importlib.util
import os
from pathlib import Path

import _pinned_threads
import numpy as np
import pytest
import torch

# one thread: these small models run much faster single-threaded on 2 shared cores (95 s -> 7 s measured);
# `python -m pytest` also runs the package's doctests (pyproject.toml: testpaths), in this same process
torch.set_num_threads(1)
_pinned_threads.pin()  # n_jobs="auto", the estimators' default, runs one thread too (tests/_pinned_threads.py)

# doctests of package modules that need an optional extra: node-id prefix -> the module the extra installs
_DOCTEST_EXTRAS = {"sbt_sklearn/plotting": "matplotlib"}


def pytest_collection_modifyitems(config, items):
    """Skip the doctests of ``sbt_sklearn`` modules whose optional extra is not installed.

    The package's modules import their extras lazily, so they are collected without them; their
    examples would fail. (A conftest inside the package would break the package's layer contract,
    tests/test_layers.py, so this session-wide hook lives here.)
    """
    missing = {prefix: module for prefix, module in _DOCTEST_EXTRAS.items()
               if importlib.util.find_spec(module) is None}
    for item in items:
        for prefix, module in missing.items():
            if item.nodeid.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=f"the example needs {module}, not installed"))


@pytest.fixture
def one_torch_thread():
    """One torch intra-op thread for the test, then the previous count again.

    For a test whose results must not depend on what an earlier test set, e.g. one that compares
    float sums with those of Dask workers that run one thread each (tests/distributed/test_dask.py).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_blas_thread():
    """One BLAS/OpenMP thread (numpy, scipy) for a test module, through threadpoolctl.

    scipy's L-BFGS-B is very slow under thread contention on small CI machines (tests/anomaly/test_pot.py).
    """
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def shared_data_home():
    """Folder of the real datasets: SBT_DATA_HOME, else ../shared/data next to the repo."""
    env = os.environ.get("SBT_DATA_HOME")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path}; set SBT_DATA_HOME")
    return path


@pytest.fixture
def panel():
    """A small 3-class, 3-channel classification panel whose classes are learnable."""
    rng = np.random.default_rng(0)
    n, c, t = 90, 3, 16
    y = np.repeat(np.array(["a", "b", "c"]), n // 3)
    X = rng.normal(size=(n, c, t)).astype(np.float32)
    X[y == "b", 0] += 1.5
    X[y == "c", 1] -= 1.5
    return X, y
