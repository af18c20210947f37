"""Forecasting part of the demo: SBTForecaster on the vendored ETTh1 sample, against persistence."""

from __future__ import annotations

import time

import numpy as np

from ._progress import progress
from ._sizes import model_size, size_line

__all__ = ["demo_forecasting"]

WINDOW = 48  # two days of hourly rows as context


def demo_forecasting(print_fn=print, *, random_state=0, n_jobs="auto") -> dict:
    """Fit a small SBTForecaster on ETTh1 (shipped with the package) and report its test error.

    Uses the usual ETTh1 split (train = the first 12 months, test = months 17-20), standardises
    every column with train statistics, trains on windows of 48 hourly rows for a short schedule
    (about 20-30 s on two CPU cores) and predicts every test row one step ahead. Prints the MSE
    and MAE of the model and of persistence (repeat the last value) on the standardised scale,
    the kept fraction of the weights and the model size (under the SBT paper's convention, under
    the honest one, and the bytes of the saved model file, each against the dense FP32 twin).

    Parameters
    ----------
    print_fn : callable, default=print
        Where the report lines go.
    random_state : int, default=0
        Seed of the fit.
    n_jobs : "auto", int or None, default="auto"
        Threads of the fit (the estimator's ``n_jobs``).

    Returns
    -------
    summary : dict
        ``mse``, ``mae``, ``persistence_mse``, ``persistence_mae``, ``n_parameters``,
        ``fit_seconds`` and the keys of the model's size: ``kept_fraction``,
        ``size_bits_paper``, ``size_bits_honest``, ``dense_size_bits``, ``file_bytes`` and
        ``dense_file_bytes``.

    Examples
    --------
    >>> from sbt_sklearn.demo import demo_forecasting
    >>> summary = demo_forecasting(print_fn=lambda *a: None)  # doctest: +SKIP
    >>> summary["mse"] < summary["persistence_mse"]  # doctest: +SKIP
    True
    """
    from ..data import load_sample_etth1, sliding_windows
    from ..estimators import SBTForecaster

    frame = load_sample_etth1()
    train = frame.iloc[:8640]  # test period: rows 11520-14400
    mean, std = train.mean().to_numpy(), train.std(ddof=0).to_numpy()
    tr = ((train.to_numpy() - mean) / std).astype(np.float32)
    # the context of the first test rows comes from the rows just before the test period
    ctx = ((frame.iloc[11520 - WINDOW : 14400].to_numpy() - mean) / std).astype(np.float32)
    X, y = sliding_windows(tr, WINDOW)
    Xt, yt = sliding_windows(ctx, WINDOW)

    print_fn(f"Forecasting: ETTh1 (vendored sample), 7 channels, window {WINDOW}, "
             f"{len(X):,} training windows, {len(Xt):,} test rows predicted one step ahead")
    model = SBTForecaster(p=0.5, d=32, d_ff=64, max_epochs=4, max_windows_per_epoch=4096,
                          random_state=random_state, n_jobs=n_jobs, callbacks=progress("SBT p=0.5", print_fn))
    print_fn(f"  fitting SBTForecaster on {len(X):,} windows ({model.max_epochs} epochs of "
             f"{model.max_windows_per_epoch:,} windows)")
    t0 = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - t0
    pred = model.predict(Xt)
    persist = Xt[:, :, -1]
    out = {
        "mse": float(np.mean((pred - yt) ** 2)),
        "mae": float(np.mean(np.abs(pred - yt))),
        "persistence_mse": float(np.mean((persist - yt) ** 2)),
        "persistence_mae": float(np.mean(np.abs(persist - yt))),
        "fit_seconds": fit_s,
        "n_parameters": int(sum(p.numel() for p in model.module_.parameters())),
    }
    out.update(model_size(model))

    print_fn(f"  SBTForecaster(p={model.p}, d={model.d}) fit in {fit_s:.1f} s "
             f"({model.n_epochs_} epochs of {model.max_windows_per_epoch:,} windows)")
    print_fn(f"  test MSE {out['mse']:.4f}  MAE {out['mae']:.4f}   (standardised scale)")
    print_fn(f"  persistence MSE {out['persistence_mse']:.4f}  MAE {out['persistence_mae']:.4f}")
    print_fn(f"  kept fraction of weights {out['kept_fraction']:.2f}")
    print_fn(f"  {size_line(out)}")
    return out
