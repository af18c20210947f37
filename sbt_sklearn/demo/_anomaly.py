"""Anomaly part of the demo: SBTAnomalyDetector on a vendored NASA telemetry channel.

Called by the command line demo (``sbt-sklearn demo``); runs in well under a minute on two
CPU cores and needs no data download.
"""

from __future__ import annotations

import time

import numpy as np

from ._progress import progress
from ._sizes import model_size, size_line

__all__ = ["demo_anomaly"]


def demo_anomaly(print_fn=print, *, channel="M-7", window=50, random_state=0, n_jobs="auto"):
    """Fit an SBT anomaly detector on a shipped telemetry channel and compare it with IsolationForest.

    The channel's anomaly-free train part is cut into windows of ``window`` steps (a zero-copy
    view), the detector is fitted on them, and every step of the test part is scored (the
    default multi-scale series score, and the unsmoothed window score for comparison).
    Threshold-free ROC-AUC and PR-AUC are printed next to those of an IsolationForest on the
    same time steps and of a random score, together with the flagged fraction at the fitted
    series threshold (1 % of the training series' steps), the kept fraction of the sparse-binary weights
    and the model size (under the SBT paper's convention, under the honest one, and the bytes of
    the saved model file, each against the dense FP32 twin).

    Parameters
    ----------
    print_fn : callable, default=print
        Receives each output line.
    channel : {"G-7", "M-7", "T-8"}, default="M-7"
        Shipped channel (see :func:`sbt_sklearn.data.load_sample_telemetry`). M-7 is the default
        because its test part lets the comparison carry information: G-7's test part has only 16
        distinct rows at 4 levels of the scored column, so the SBT and IsolationForest scores
        rank it identically and any monotone score ties them; on T-8 every unsmoothed score is
        near chance (the three channels' numbers are in :doc:`/user_guide/anomaly_detection`).
    window : int, default=50
        Window length.
    random_state : int, default=0
        Seed of the detector and of IsolationForest.
    n_jobs : "auto", int or None, default="auto"
        Threads of the detector (the estimator's ``n_jobs``).

    Returns
    -------
    results : dict
        ``roc_auc`` and ``pr_auc`` per detector, ``fit_seconds``, ``flagged_fraction`` and
        the keys of the model's size: ``kept_fraction``, ``size_bits_paper``,
        ``size_bits_honest``, ``dense_size_bits``, ``file_bytes`` and ``dense_file_bytes``.

    Examples
    --------
    >>> from sbt_sklearn.demo import demo_anomaly
    >>> res = demo_anomaly(print_fn=lambda line: None)  # doctest: +SKIP
    >>> res["roc_auc"]["SBT"] > res["roc_auc"]["random"]  # doctest: +SKIP
    True
    """
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import average_precision_score, roc_auc_score

    from ..data import load_sample_telemetry, sliding_windows
    from ..estimators import SBTAnomalyDetector

    train, test, labels = load_sample_telemetry(channel)
    train, test = train.astype(np.float32), test.astype(np.float32)
    X, _ = sliding_windows(train, window, horizon=0)
    print_fn(f"Anomaly detection: NASA telemetry channel {channel} ({train.shape[1]} channels), "
             f"{len(X)} training windows of {window} steps, {len(test)} test steps "
             f"({100 * labels.mean():.1f} % anomalous)")
    det = SBTAnomalyDetector(d=32, d_ff=64, max_epochs=10, max_windows_per_epoch=None, random_state=random_state,
                             n_jobs=n_jobs, callbacks=progress("SBT p=0.5", print_fn))
    print_fn(f"  fitting SBTAnomalyDetector ({det.max_epochs} epochs)")
    t0 = time.perf_counter()
    det.fit(X)
    fit_s = time.perf_counter() - t0
    anomaly = -det.score_series(test)
    flagged = float(np.mean(anomaly > det.series_threshold_))

    iforest = IsolationForest(random_state=random_state).fit(train)
    scores = {"SBT": anomaly, "SBT, unsmoothed": -det.score_series(test, smooth=1),
              "IsolationForest": -iforest.score_samples(test),
              "random": np.random.default_rng(random_state).random(len(test))}
    roc = {k: 100 * roc_auc_score(labels, v) for k, v in scores.items()}
    pr = {k: 100 * average_precision_score(labels, v) for k, v in scores.items()}
    size = model_size(det)
    print_fn(f"  {'detector':16s} {'ROC-AUC':>8s} {'PR-AUC':>8s}")
    for k in scores:
        print_fn(f"  {k:16s} {roc[k]:8.1f} {pr[k]:8.1f}")
    print_fn(f"  SBT fit {fit_s:.1f} s; flags {100 * flagged:.1f} % of test steps at the threshold "
             f"(1 % of the training series' steps); kept weights {100 * size['kept_fraction']:.0f} % (p={det.p})")
    print_fn(f"  {size_line(size)}")
    return {"roc_auc": roc, "pr_auc": pr, "fit_seconds": fit_s, "flagged_fraction": flagged, **size}
