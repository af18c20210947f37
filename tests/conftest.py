"""Shared fixtures: small deterministic data and a quiet, single-machine torch setup."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# one thread: these small models run much faster single-threaded on 2 shared cores (95 s -> 7 s measured)
torch.set_num_threads(1)


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
