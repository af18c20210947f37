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
    from .estimators._threads import auto_threads

    print_fn(f"sbt_sklearn {__version__} | python {platform.python_version()} | {platform.platform()}")
    print_fn(f"torch {torch.__version__} | skorch {skorch.__version__} | scikit-learn {sklearn.__version__} | "
             f"numpy {numpy.__version__}")
    cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print_fn(f"CPU threads: torch default {torch.get_num_threads()}, the estimators' n_jobs='auto' would use "
             f"{auto_threads()} now (the CPUs other processes leave free) | CUDA device: {cuda}")


def _n_jobs(text: str):
    """``--n-jobs``: "auto" or an integer."""
    return text if text == "auto" else int(text)


def demo(print_fn=print, quick: bool = False, n_jobs="auto") -> None:
    """The main job: the versions, then every part of :func:`sbt_sklearn.demo.run_demo`."""
    info(print_fn)
    run_demo(print_fn, quick=quick, n_jobs=n_jobs)


def main(argv=None) -> int:
    """Entry point of the ``sbt-sklearn`` command."""
    parser = argparse.ArgumentParser(prog="sbt-sklearn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="train SBT models on embedded real data and compare with dense twins")
    d.add_argument("--quick", action="store_true", help="fewer epochs (a smoke run)")
    d.add_argument("--n-jobs", type=_n_jobs, default="auto",
                   help="torch threads of every fit (the estimators' n_jobs: 'auto', the default, uses the CPUs "
                        "other processes leave free; or an integer)")
    sub.add_parser("info", help="print versions and devices")
    c = sub.add_parser("export-c", help="write dependency-free C99 inference code (.c and .h) for a model file")
    c.add_argument("model", help="a model file written by the estimators' save()")
    c.add_argument("directory", help="where to write <name>.c and <name>.h (created if missing)")
    c.add_argument("--name", default="sbt_model", help="file name and C identifier prefix (default: sbt_model)")
    c.add_argument("--max-steps", type=int, default=None,
                   help="longest window accepted (default: the fitted window where the code needs a bound)")
    args = parser.parse_args(argv)
    if args.command == "info":
        info()
    elif args.command == "export-c":
        return export_c(args.model, args.directory, name=args.name, max_steps=args.max_steps)
    else:
        demo(quick=args.quick, n_jobs=args.n_jobs)
    return 0


def export_c(model, directory, *, name="sbt_model", max_steps=None, print_fn=print) -> int:
    """``sbt-sklearn export-c``: load a model file of any SBT estimator and write its C code.

    Returns the exit status: 0, or 2 with a one-line message for a file that is not a model
    file, a bad name or an estimator the C export does not cover.
    """
    from .compression import SBTFileError
    from .compression._c_export import UNBOUNDED_STEPS
    from .estimators._base import SBTBase

    try:
        est = SBTBase.load(model)
        info = est.export_c(directory, name=name, max_steps=max_steps)
    except (OSError, SBTFileError, ValueError, NotImplementedError) as exc:
        print_fn(f"sbt-sklearn export-c: error: {exc}")
        return 2
    bound = "any length" if info["max_steps"] == UNBOUNDED_STEPS else f"up to {info['max_steps']} rows"
    print_fn(f"wrote {info['source']} and {info['header']} ({type(est).__name__}; flash {info['flash_bytes']:,} "
             f"bytes of tables, RAM {info['ram_bytes']:,} bytes; windows of {bound})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
