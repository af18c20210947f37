"""Helpers shared by the benchmark scripts: machine description, interleaved timing, output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def machine() -> dict:
    """Where a benchmark ran."""
    import numpy
    import torch

    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "load_average_1min_at_start": load,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "commit": _commit(),
    }


def _commit() -> str | None:
    """The checked-out commit a result was measured with (None outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def interleaved_medians(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Median seconds of each callable, run in turn (A, B, C, A, B, C, ...) so load hits all alike."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            start = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - start)
    return {k: {"median_s": statistics.median(v), "min_s": min(v), "repeats": len(v)} for k, v in times.items()}


def write_results(name: str, payload: dict, markdown: str) -> None:
    """Write ``docs/benchmarks/<name>.json`` and ``<name>.md``."""
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / f"{name}.json").write_text(json.dumps(payload, indent=2, default=float) + "\n")
    (DOCS / f"{name}.md").write_text(markdown)
    print(markdown)
