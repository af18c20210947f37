"""The demo behind ``sbt-sklearn demo``: SBT models on small real samples shipped with the package.

Each part fits a model on vendored data (no download), compares it with a baseline and prints
its accuracy or error, fit time, kept fraction of the weights and size (under the SBT paper's
convention, under the honest one that charges everything inference needs, and as measured
file bytes, each against the dense FP32 twin):

* :func:`demo_classification`: :class:`~sbt_sklearn.SBTClassifier` and its dense twin on
  JapaneseVowels;
* :func:`demo_forecasting`: :class:`~sbt_sklearn.SBTForecaster` on ETTh1 against persistence;
* :func:`demo_anomaly`: :class:`~sbt_sklearn.SBTAnomalyDetector` on a NASA telemetry channel
  against IsolationForest.

:func:`run_demo` runs the three parts in turn.
"""

from __future__ import annotations

import time

from ._anomaly import demo_anomaly
from ._classification import demo_classification
from ._forecasting import demo_forecasting

__all__ = ["run_demo", "demo_classification", "demo_forecasting", "demo_anomaly"]


def run_demo(print_fn=print, quick: bool = False, *, n_jobs="auto") -> dict:
    """Run every part of the demo, each under a section title.

    Parameters
    ----------
    print_fn : callable, default=print
        Where the report lines go.
    quick : bool, default=False
        Fewer classification epochs (20 instead of 100): a smoke run.
    n_jobs : "auto", int or None, default="auto"
        Threads of every fit and prediction (the estimators' ``n_jobs``).

    Returns
    -------
    results : dict
        ``{"classification": ..., "forecasting": ..., "anomaly": ...}``: what each part returns,
        and ``"seconds"``: each part's duration and the total.

    Examples
    --------
    >>> from sbt_sklearn.demo import run_demo
    >>> results = run_demo(quick=True)  # doctest: +SKIP
    """
    parts = (
        ("classification", "Classification (SBTClassifier)",
         lambda: demo_classification(print_fn, max_epochs=20 if quick else 100, n_jobs=n_jobs)),
        ("forecasting", "Forecasting (SBTForecaster)", lambda: demo_forecasting(print_fn, n_jobs=n_jobs)),
        ("anomaly", "Anomaly detection (SBTAnomalyDetector)", lambda: demo_anomaly(print_fn, n_jobs=n_jobs)),
    )
    results, seconds = {}, {}
    start = time.perf_counter()
    for key, title, part in parts:
        print_fn(f"\n== {title} ==")
        part_start = time.perf_counter()
        results[key] = part()
        seconds[key] = time.perf_counter() - part_start
        print_fn(f"({title.split(' (')[0]} part: {seconds[key]:.1f} s)")
    seconds["total"] = time.perf_counter() - start
    print_fn(f"\nDemo finished in {seconds['total']:.1f} s.")
    results["seconds"] = seconds
    return results
