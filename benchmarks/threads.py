"""Fit times on a busy machine: the estimators' default threads (n_jobs) against forced settings.

Each estimator's default configuration is fitted on data shipped with the package:

* SBTClassifier() on the JapaneseVowels sample (270 series);
* SBTForecaster() on the ETTh1 sample (the first 4,320 hourly rows, windows of 48 rows);
* SBTAnomalyDetector() on the SMAP telemetry channel G-7 (windows of 50 steps);

and the whole demo (``sbt-sklearn demo``) is run, with 0, 1 and 2 busy background processes that
this script starts (each a Python loop that ends by itself after ``--busy-limit`` seconds) and
stops. Settings: the default (``n_jobs="auto"``: the CPUs other processes leave free, counted when
the fit starts and about once a second while it trains; the thread count each fit started with is
recorded), forced ``n_jobs=1``, ``n_jobs=2`` (torch's own default on this machine, what the first
releases ran with) and, for the classifier, ``n_jobs=2`` with ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP
threads sleep instead of spinning while they wait; libgomp reads it when torch loads, so it is set
in the environment of a fresh process). Every fit runs in a fresh process (what a user gets),
settings interleaved within each repeat; medians over ``--repeats``. The busy processes start
one second before the first fit of their load level.

Other knobs (``--knobs``, quiet machine, the classifier's default fit): one inter-op thread
(``torch.set_num_interop_threads(1)`` before any work; torch's default is one per core) and the
jemalloc allocator (``LD_PRELOAD``, Debian's ``libjemalloc2``; skipped with a note when it is not
installed). They are merged into an existing results file.

Run: ``python benchmarks/threads.py [--repeats 3]`` (about 40 minutes on 2 cores), then
``python benchmarks/threads.py --knobs`` (a few minutes). Writes ``docs/benchmarks/threads.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import machine, write_results

ROOT = Path(__file__).resolve().parents[1]
TASKS = ("classifier", "forecaster", "detector")
SETTINGS = {  # name -> (n_jobs, extra environment, tasks)
    "default (n_jobs='auto')": ("auto", {}, TASKS),
    "n_jobs=1": (1, {}, TASKS),
    "n_jobs=2": (2, {}, TASKS),
    "n_jobs=2, OMP_WAIT_POLICY=PASSIVE": (2, {"OMP_WAIT_POLICY": "PASSIVE"}, ("classifier",)),
}

WORKER = r"""
import json, os, sys, time
import numpy as np
import torch
if os.environ.get("SBT_BENCH_INTEROP"):
    torch.set_num_interop_threads(int(os.environ["SBT_BENCH_INTEROP"]))
from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.data import load_sample_etth1, load_sample_japanese_vowels, load_sample_telemetry
from sbt_sklearn.estimators._threads import resolve_n_jobs

n_jobs = json.loads(sys.argv[1])
out = {}
for task in sys.argv[2:]:
    if task == "classifier":
        X, y, _, _ = load_sample_japanese_vowels()
        est = SBTClassifier(random_state=0, n_jobs=n_jobs)
    elif task == "forecaster":
        X, y = sliding_windows(load_sample_etth1().to_numpy(np.float32)[:4320], 48)
        est = SBTForecaster(random_state=0, n_jobs=n_jobs)
    else:
        train, _, _ = load_sample_telemetry("G-7")
        X, y = sliding_windows(train.astype(np.float32), 50, horizon=0)[0], None
        est = SBTAnomalyDetector(random_state=0, n_jobs=n_jobs)
    threads = resolve_n_jobs(n_jobs)  # what the fit starts with ("auto": the CPUs free now)
    wall, cpu = time.perf_counter(), time.process_time()
    est.fit(X, y)
    out[task] = {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "threads_at_start": threads}
print(json.dumps(out))
"""

BUSY = "import time\nend = time.time() + {limit}\nwhile time.time() < end:\n    pass\n"


def _run(cmd, env, timeout):
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, timeout=timeout, cwd=ROOT,
                          check=True)


def fit_times(n_jobs, env, tasks, timeout):
    res = _run([sys.executable, "-c", WORKER, json.dumps(n_jobs), *tasks], env, timeout)
    return json.loads(res.stdout.strip().splitlines()[-1])


def demo_time(n_jobs, env, timeout):
    cmd = [sys.executable, "-m", "sbt_sklearn.cli", "demo", "--n-jobs", str(n_jobs)]
    start = time.perf_counter()
    _run(cmd, env, timeout)
    return time.perf_counter() - start


JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


def knobs(repeats, timeout) -> dict:
    """Classifier default fit on the quiet machine with other process-level knobs."""
    variants = {"default": {}, "one inter-op thread": {"SBT_BENCH_INTEROP": "1"}}
    if Path(JEMALLOC).exists():
        variants["jemalloc (LD_PRELOAD)"] = {"LD_PRELOAD": JEMALLOC}
    runs = {name: [] for name in variants}
    for _ in range(repeats):
        for name, env in variants.items():
            runs[name].append(fit_times("auto", env, ["classifier"], timeout)["classifier"]["wall_s"])
    out = {"machine": machine(), "task": "classifier", "runs": runs,
           "median_wall_s": {k: _median(v) for k, v in runs.items()}}
    if JEMALLOC not in str(variants):
        out["note"] = f"jemalloc not measured: {JEMALLOC} not installed (apt-get install libjemalloc2)"
    return out


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--loads", type=int, nargs="+", default=[0, 1, 2], help="busy background processes")
    parser.add_argument("--demo-repeats", type=int, default=1)
    parser.add_argument("--busy-limit", type=float, default=3600.0, help="seconds a busy process may live")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds one measured process may take")
    parser.add_argument("--out", default="threads")
    parser.add_argument("--knobs", action="store_true", help="only the other knobs, merged into the results")
    args = parser.parse_args(argv)
    if args.knobs:
        path = ROOT / "docs" / "benchmarks" / f"{args.out}.json"
        results = json.loads(path.read_text())
        results["knobs"] = knobs(args.repeats, args.timeout)
        write_results(args.out, results, markdown(results))
        return
    results = {"machine": machine(), "repeats": args.repeats, "demo_repeats": args.demo_repeats,
               "settings": {k: {"n_jobs": v[0], "env": v[1], "tasks": list(v[2])} for k, v in SETTINGS.items()},
               "loads": {}}
    for load in args.loads:
        busy = [subprocess.Popen([sys.executable, "-c", BUSY.format(limit=args.busy_limit)]) for _ in range(load)]
        try:
            time.sleep(1.0)
            runs = {name: {t: [] for t in tasks} for name, (_, _, tasks) in SETTINGS.items()}
            demo = {name: [] for name in SETTINGS if not SETTINGS[name][1]}
            for rep in range(args.repeats):
                for name, (n_jobs, env, tasks) in SETTINGS.items():
                    for task, t in fit_times(n_jobs, env, tasks, args.timeout).items():
                        runs[name][task].append(t)
                    print(f"load {load} repeat {rep} {name}: done", flush=True)
            for _ in range(args.demo_repeats):
                for name in demo:
                    demo[name].append(demo_time(SETTINGS[name][0], {}, args.timeout))
                    print(f"load {load} demo {name}: {demo[name][-1]:.1f} s", flush=True)
        finally:
            for p in busy:
                p.kill()
                p.wait()
        results["loads"][str(load)] = {
            "fits": {name: {task: {"wall_s": [r["wall_s"] for r in rs], "cpu_s": [r["cpu_s"] for r in rs],
                                   "threads_at_start": [r["threads_at_start"] for r in rs],
                                   "median_wall_s": _median([r["wall_s"] for r in rs])}
                            for task, rs in per.items()} for name, per in runs.items()},
            "demo_s": {name: {"runs": v, "median_s": _median(v)} for name, v in demo.items()},
        }
    write_results(args.out, results, markdown(results))


def markdown(results) -> str:
    m = results["machine"]
    default = next(iter(SETTINGS))
    loads = results["loads"]
    lines = ["# Fit times on a busy machine: default threads against forced settings", "",
             f"Machine: {m['cpu']} ({m['cpu_count']} cores), torch {m['torch']}, load average at start "
             f"{m['load_average_1min_at_start']}. Each fit in a fresh process; wall-clock medians of "
             f"{results['repeats']} repeats (settings interleaved), the demo {results['demo_repeats']} run(s). "
             "Busy processes: Python loops started and stopped by the script. Produced by "
             "`python benchmarks/threads.py`.", "",
             "| task | setting | " + " | ".join(f"{k} busy (s)" for k in loads) + " | "
             + " | ".join(f"{k} busy / quiet" for k in loads if k != "0") + " |",
             "|---|---|" + "---|" * (2 * len(loads) - (1 if "0" in loads else 0))]
    for task in TASKS:
        for name in SETTINGS:
            if task not in SETTINGS[name][2]:
                continue
            med = {k: v["fits"][name][task]["median_wall_s"] for k, v in loads.items()}
            ratios = [f"{med[k] / med['0']:.2f}x" for k in loads if k != "0" and "0" in med]
            lines.append(f"| {task} | {name} | " + " | ".join(f"{v:.1f}" for v in med.values()) + " | "
                         + " | ".join(ratios) + " |")
    for name in loads[next(iter(loads))]["demo_s"]:
        med = {k: v["demo_s"][name]["median_s"] for k, v in loads.items()}
        ratios = [f"{med[k] / med['0']:.2f}x" for k in loads if k != "0" and "0" in med]
        lines.append(f"| demo (`sbt-sklearn demo`) | {name} | " + " | ".join(f"{v:.1f}" for v in med.values())
                     + " | " + " | ".join(ratios) + " |")
    starts = {k: sorted(set(t for task in TASKS for t in v["fits"][default][task].get("threads_at_start", [])))
              for k, v in loads.items()}
    lines += ["", "Threads the default started its fits with, by busy processes: "
              + ", ".join(f"{k} busy: {'/'.join(map(str, v))}" for k, v in starts.items()) + "."]
    if "knobs" in results:
        k = results["knobs"]
        base = k["median_wall_s"]["default"]
        lines += ["", f"Other knobs, quiet machine, classifier default fit (medians of {len(k['runs']['default'])}):",
                  ""] + [f"- {name}: {v:.1f} s ({v / base:.2f}x the default)" for name, v in k["median_wall_s"].items()]
        if "note" in k:
            lines.append(f"- {k['note']}")
    if "0" in loads:
        lines += ["", "Default against the best forced setting on the quiet machine (target: at most 1.10x):", ""]
        for task in TASKS:
            fits = loads["0"]["fits"]
            best = min(fits[n][task]["median_wall_s"] for n in SETTINGS if task in SETTINGS[n][2])
            lines.append(f"- {task}: {fits[default][task]['median_wall_s'] / best:.2f}x")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
