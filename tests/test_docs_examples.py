"""Smoke test: every script in ``examples/`` runs to the end in quick mode.

Off by default (the examples train real models; together they take minutes): set
``SBT_RUN_EXAMPLES=1`` to run them (the cheap checks of the file list and the gallery titles
always run). Each script runs in its own process with
``SBT_EXAMPLES_QUICK=1`` (scripts that honour it train for a few epochs only), the non-interactive
matplotlib backend, and a timeout of ``SBT_EXAMPLES_TIMEOUT`` seconds (default 300).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
TIMEOUT_S = int(os.environ.get("SBT_EXAMPLES_TIMEOUT", "300"))

run_examples = pytest.mark.skipif(os.environ.get("SBT_RUN_EXAMPLES") != "1",
                                  reason="examples run only with SBT_RUN_EXAMPLES=1")


def test_examples_found():
    assert EXAMPLES, "no examples/*.py found"


@run_examples
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = dict(os.environ, SBT_EXAMPLES_QUICK="1", MPLBACKEND="Agg", PYTHONWARNINGS="ignore",
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script.name} did not finish in {TIMEOUT_S} s (does it honour SBT_EXAMPLES_QUICK=1?)\n"
                    f"{(exc.stdout or '')[-2000:]}")
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def test_examples_have_gallery_titles():
    """sphinx-gallery needs a module docstring whose first lines are a title and its underline."""
    import ast

    for script in EXAMPLES:
        doc = ast.get_docstring(ast.parse(script.read_text()), clean=False) or ""
        lines = [ln for ln in doc.strip("\n").splitlines()]
        assert len(lines) >= 2 and set(lines[1].strip()) == {"="} and len(lines[1].strip()) >= len(lines[0].strip()), \
            f"{script.name}: the docstring must start with a title underlined with '='"
