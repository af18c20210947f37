"""The plotting package: importing it needs no matplotlib, and the old module name still works."""

import importlib
import subprocess
import sys

import pytest


def test_importing_plotting_does_not_import_matplotlib():
    code = "import sbt_sklearn.plotting, sys; assert 'matplotlib' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_plotting_exposes_every_helper():
    import sbt_sklearn.plotting as plotting

    assert plotting.__all__ == ["plot_anomaly_scores", "plot_forecast", "plot_pals_trajectory"]
    assert all(callable(getattr(plotting, name)) for name in plotting.__all__)


def test_plotting_anomaly_is_a_deprecated_alias(monkeypatch):
    from sbt_sklearn.plotting import plot_anomaly_scores

    monkeypatch.delitem(sys.modules, "sbt_sklearn.plotting_anomaly", raising=False)
    with pytest.warns(FutureWarning, match=r"sbt_sklearn\.plotting import plot_anomaly_scores"):
        shim = importlib.import_module("sbt_sklearn.plotting_anomaly")
    assert shim.plot_anomaly_scores is plot_anomaly_scores
    assert not getattr(shim, "__all__", [])  # the API reference generator skips it
