"""Fixtures for the data-layer tests.

``data_home`` points at the folder with the paper's datasets (ETT/, Weather_WTH/,
SMAP_MSL/): the environment variable ``SBT_DATA_HOME`` if set, else the project's sibling
``../shared/data``; tests that need it are skipped when neither exists.
"""

import os
from pathlib import Path

import pytest


def _find_data_home():
    env = os.environ.get("SBT_DATA_HOME", "").strip()
    if env:
        path = Path(env).expanduser()
        return (path if path.is_dir() else None), (
            f"real datasets not available: SBT_DATA_HOME={env!r} is not a folder"
        )
    sibling = Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if sibling.is_dir():
        return sibling, ""
    return None, (
        "real datasets not available: set SBT_DATA_HOME to the folder holding ETT/, "
        f"Weather_WTH/ and SMAP_MSL/ (also looked for {sibling})"
    )


@pytest.fixture(scope="session")
def data_home():
    """Folder with the real datasets; skips the test when there is none."""
    path, reason = _find_data_home()
    if path is None:
        pytest.skip(reason)
    return path
