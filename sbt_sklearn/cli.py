"""Command line: ``sbt-sklearn demo`` (the main job) and ``sbt-sklearn info``."""

from __future__ import annotations

import argparse
import platform
import sys

from .demo import run_demo

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
    print_fn(f"CPU threads: torch default {torch.get_num_threads()}, the estimators use n_jobs (default 1) | "
             f"CUDA device: {cuda}")


def demo(print_fn=print, quick: bool = False, n_jobs=None) -> None:
    """The main job: the versions, then every part of :func:`sbt_sklearn.demo.run_demo`."""
    info(print_fn)
    run_demo(print_fn, quick=quick, n_jobs=n_jobs)


def main(argv=None) -> int:
    """Entry point of the ``sbt-sklearn`` command."""
    parser = argparse.ArgumentParser(prog="sbt-sklearn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train SBT models on embedded real data and compare with dense twins")
    d.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    d.add_argument("--n-jobs", type=int, default=None,
                   help="torch threads of every fit (the estimators' n_jobs; default: one thread)")
    sub.add_parser("info", help="print versions and devices")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
    else:
        demo(quick=args.quick, n_jobs=args.n_jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
