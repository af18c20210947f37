"""The command line and the demo package it runs (the demo itself trains for about a minute; not run here)."""

import numpy as np

from sbt_sklearn import SBTClassifier, cli, demo
from sbt_sklearn.demo._sizes import model_size, size_line


def test_info_prints_versions(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sbt_sklearn ")
    assert "torch " in out and "scikit-learn " in out


def test_demo_package_exposes_every_part():
    assert demo.__all__ == ["run_demo", "demo_classification", "demo_forecasting", "demo_anomaly"]
    assert all(callable(getattr(demo, name)) for name in demo.__all__)
    assert cli.run_demo is demo.run_demo


def test_demo_runs_every_part_under_its_title(monkeypatch):
    calls = []
    for name in ("demo_classification", "demo_forecasting", "demo_anomaly"):
        monkeypatch.setattr(demo, name, lambda *a, _name=name, **k: calls.append((_name, k)) or _name)
    lines = []
    results = demo.run_demo(lines.append, quick=True, n_jobs=2)
    seconds = results.pop("seconds")
    assert results == {"classification": "demo_classification", "forecasting": "demo_forecasting",
                       "anomaly": "demo_anomaly"}
    assert set(seconds) == {"classification", "forecasting", "anomaly", "total"}
    assert seconds["total"] >= sum(v for k, v in seconds.items() if k != "total")
    assert calls == [("demo_classification", {"max_epochs": 20, "n_jobs": 2}),
                     ("demo_forecasting", {"n_jobs": 2}), ("demo_anomaly", {"n_jobs": 2})]
    assert lines[-1].startswith("\nDemo finished in ") and sum("part: " in ln for ln in lines) == 3
    assert [ln for ln in lines if ln.startswith("\n== ")] == [
        "\n== Classification (SBTClassifier) ==", "\n== Forecasting (SBTForecaster) ==",
        "\n== Anomaly detection (SBTAnomalyDetector) =="]


def test_demo_size_line_names_both_conventions():
    X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
    clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, p=0.5, random_state=0).fit(X, X[:, 0, 0] > 0)
    size = model_size(clf)
    report = clf.compression_report().to_dict()
    assert size["kept_fraction"] == 0.5
    assert size["size_bits_paper"] == report["paper"]["size_bits"]["sbt"]
    assert size["size_bits_honest"] == report["honest"]["size_bits"]["sbt"]
    assert size["dense_size_bits"] == report["honest"]["size_bits"]["dense"]
    assert size["file_bytes"] == report["file_bytes"]["sbt"] > 0
    line = size_line(size)
    assert "(paper's convention)" in line and "honest" in line and f"{size['file_bytes']:,} B" in line


def test_progress_lines_report_epochs_and_elapsed_time():
    from sbt_sklearn.demo._progress import progress

    lines = []
    X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
    SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=3, random_state=0,
                  callbacks=progress("tiny", lines.append)).fit(X, X[:, 0, 0] > 0)
    assert len(lines) >= 1 and lines[-1].startswith("    tiny: epoch 3/3, train loss ") and lines[-1].endswith(" s")
