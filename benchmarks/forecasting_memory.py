"""Peak memory of SBTForecaster on a long series whose windows would not fit in memory.

A synthetic random-walk series of 700,000 steps x 38 channels (float32, 106 MB) is cut into
windows of 200 steps with :func:`sbt_sklearn.sliding_windows` (zero-copy views; the windows
would take about 21 GB if materialised). The forecaster fits one epoch on a random subsample
of windows and then predicts every window. Peak memory is measured two ways:

* ``tracemalloc``: the peak of Python and numpy allocations during fit and during predict
  (torch's own allocator is not traced);
* ``ru_maxrss``: the peak resident set size of the whole process (Python, torch, the series
  and everything else), read after fit and after predict.

Writes ``docs/benchmarks/forecasting_memory.json`` and ``.md``.

Usage::

    python benchmarks/forecasting_memory.py                      # full size
    python benchmarks/forecasting_memory.py --steps 50000        # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

from sbt_sklearn import SBTForecaster, sliding_windows

ROOT = Path(__file__).resolve().parents[1]
GB = 1024**3


def rss_peak_bytes() -> int:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def traced(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        out = fn()
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, seconds, peak


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=700_000)
    parser.add_argument("--channels", type=int, default=38)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--subsample", type=int, default=20_000, help="windows visited in the one epoch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", default='{"d": 16, "d_ff": 32}', help="JSON SBTForecaster parameters")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "forecasting_memory"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    # warm-up: the first fit in a process pays several seconds of one-off torch initialisation
    warm = np.random.default_rng(1).normal(size=(300, args.channels)).astype(np.float32)
    SBTForecaster(**json.loads(args.params), max_epochs=1, random_state=0).fit(*sliding_windows(warm, 20))

    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=(args.steps, args.channels)).astype(np.float32), axis=0)
    X, y = sliding_windows(series, args.window)
    rss_before = rss_peak_bytes()
    params = dict(max_epochs=1, max_windows_per_epoch=args.subsample, random_state=0, **json.loads(args.params))
    model = SBTForecaster(**params)

    _, fit_s, fit_traced = traced(lambda: model.fit(X, y))
    rss_after_fit = rss_peak_bytes()
    pred, predict_s, predict_traced = traced(lambda: model.predict(X))
    rss_after_predict = rss_peak_bytes()
    n_params = sum(p.numel() for p in model.module_.parameters())

    result = {
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads(), "numpy": np.__version__},
        "series_shape": list(series.shape),
        "series_bytes": int(series.nbytes),
        "window": args.window,
        "n_windows": int(X.shape[0]),
        "materialised_windows_bytes_float32": int(X.shape[0] * X.shape[1] * X.shape[2] * 4),
        "params": params,
        "model_parameters": int(n_params),
        "fit_seconds": fit_s,
        "predict_seconds": predict_s,
        "predict_windows_per_second": X.shape[0] / predict_s,
        "fit_tracemalloc_peak_bytes": int(fit_traced),
        "predict_tracemalloc_peak_bytes": int(predict_traced),
        "rss_peak_before_fit_bytes": rss_before,
        "rss_peak_after_fit_bytes": rss_after_fit,
        "rss_peak_after_predict_bytes": rss_after_predict,
        "predictions_shape": list(pred.shape),
        "target_peak_bytes": 3 * GB,
        "under_target": bool(rss_after_predict < 3 * GB),
        "repeats": 1,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    m = result["machine"]
    md = [
        "# SBTForecaster memory on a long series",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']} ({m['torch_threads']} threads). "
        f"One run (a full-size run takes minutes, so no repeats), after a warm-up fit; times include "
        f"tracemalloc's overhead.",
        "",
        f"Series: {args.steps:,} steps x {args.channels} channels, float32 ({series.nbytes / GB:.2f} GB); "
        f"window {args.window}: {X.shape[0]:,} windows, "
        f"{result['materialised_windows_bytes_float32'] / GB:.1f} GB if materialised. "
        f"Model `{params}` ({n_params:,} parameters).",
        "",
        "| phase | seconds | tracemalloc peak | process peak RSS (ru_maxrss) |",
        "|---|---|---|---|",
        f"| before fit (series + imports) | | | {rss_before / GB:.2f} GB |",
        f"| fit: 1 epoch on {args.subsample:,} windows | {fit_s:.1f} | {fit_traced / GB:.3f} GB | "
        f"{rss_after_fit / GB:.2f} GB |",
        f"| predict every window ({X.shape[0]:,}) | {predict_s:.1f} | {predict_traced / GB:.3f} GB | "
        f"{rss_after_predict / GB:.2f} GB |",
        "",
        f"Target: peak under 3 GB: **{'met' if result['under_target'] else 'NOT met'}** "
        f"({rss_after_predict / GB:.2f} GB). Predict throughput {result['predict_windows_per_second']:,.0f} "
        f"windows/s.",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
