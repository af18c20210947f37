"""Command line: ``sbt-sklearn demo`` (the main job) and ``sbt-sklearn info``."""

from __future__ import annotations

import argparse
import platform
import sys
import time

__all__ = ["main"]


def info(print_fn=print) -> None:
    """Print the versions and devices the package sees."""
    import numpy
    import sklearn
    import skorch
    import torch

    from . import __version__

    print_fn(f"sbt_sklearn {__version__} | python {platform.python_version()} | {platform.platform()}")
    print_fn(f"torch {torch.__version__} | skorch {skorch.__version__} | scikit-learn {sklearn.__version__} | "
             f"numpy {numpy.__version__}")
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print_fn(f"CPU threads: {torch.get_num_threads()} | CUDA device: {cuda}")


def demo_classification(print_fn=print, max_epochs: int = 100) -> dict:
    """Fit SBTClassifier (p=0.5) and its dense twin on JapaneseVowels and compare them."""
    from .compression import size_summary
    from .data import load_sample_japanese_vowels
    from .estimators import SBTClassifier

    X_train, y_train, X_test, y_test = load_sample_japanese_vowels()
    print_fn(f"JapaneseVowels: {len(X_train)} train / {len(X_test)} test series, 12 channels, "
             f"lengths {min(s.shape[1] for s in X_train)}-{max(s.shape[1] for s in X_test)} (padded with a mask)")
    # one tiny fit first, so the timings below do not include torch's one-time lazy imports
    SBTClassifier(d=8, d_ff=8, n_layers=1, max_epochs=1).fit(X_train[::10], y_train[::10])
    rows = {}
    for name, params in (("SBT p=0.5", dict(p=0.5)), ("dense twin", dict(p=0.0, binary=False))):
        start = time.perf_counter()
        clf = SBTClassifier(d=32, max_epochs=max_epochs, random_state=0, **params).fit(X_train, y_train)
        fit_s = time.perf_counter() - start
        size = size_summary(clf.module_)
        rows[name] = dict(accuracy=clf.score(X_test, y_test), fit_s=fit_s, **size)
    sbt, dense = rows["SBT p=0.5"], rows["dense twin"]
    print_fn(f"{'model':<12}{'accuracy':>10}{'fit s':>8}{'kept':>7}{'size (kbit)':>13}")
    for name, r in rows.items():
        print_fn(f"{name:<12}{100 * r['accuracy']:>9.1f}%{r['fit_s']:>8.1f}{r['kept_fraction']:>7.2f}"
                 f"{r['bits_paper'] / 1e3 if r['binary_weights'] else r['bits_dense'] / 1e3:>13.1f}")
    print_fn(f"SBT model is {dense['bits_dense'] / sbt['bits_paper']:.1f}x smaller than its dense twin "
             f"(1 bit per binary weight, 32 per float value) at {100 * (sbt['accuracy'] - dense['accuracy']):+.1f} "
             f"accuracy points")
    return rows


def demo(print_fn=print, quick: bool = False) -> None:
    """The main job: train SBT models on small real samples shipped with the package."""
    info(print_fn)
    print_fn("\n== Classification (SBTClassifier) ==")
    demo_classification(print_fn, max_epochs=20 if quick else 100)
    for title, module, func in (
        ("Forecasting (SBTForecaster)", "._demo_forecasting", "demo_forecasting"),
        ("Anomaly detection (SBTAnomalyDetector)", "._demo_anomaly", "demo_anomaly"),
    ):
        try:
            from importlib import import_module

            part = getattr(import_module(module, __package__), func)
        except (ImportError, AttributeError):
            continue  # that part of the demo is not available in this version
        print_fn(f"\n== {title} ==")
        part(print_fn)


def main(argv=None) -> int:
    """Entry point of the ``sbt-sklearn`` command."""
    parser = argparse.ArgumentParser(prog="sbt-sklearn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train SBT models on embedded real data and compare with dense twins")
    d.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    sub.add_parser("info", help="print versions and devices")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
    else:
        demo(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
