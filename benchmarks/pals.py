"""PALS against a grid of fixed prune rates, in the same run (issue 6).

For each task, one PALS fit (starting at p=0.5) and fixed fits at p in {0.25, 0.5, 0.75, 0.9}, same
seed and training budget. Reports the final p, the task metric and wall time. Target: PALS within 5 %
of the grid's best metric, at no more than a third of the grid's total time, with final p >= 0.5.
Also the published dense PALS (FP32, magnitude prune / gradient regrow, dense start) against the dense
twin on ETTm1.

Tasks: ``jv`` (JapaneseVowels accuracy, package defaults with d=32), ``ettm1`` (ETTm1 forecasting
MSE on every test row, standardised, window 200, 10 epochs of 4,096 windows), ``smap`` (SMAP anomaly
ROC-AUC, window 50, 5 epochs of 5,000 windows, scored on every 10th test window).

Run: ``SBT_DATA_HOME=... python benchmarks/pals.py --tasks jv ettm1 smap``. Writes
docs/benchmarks/pals.{json,md} (tasks run earlier are kept: each run updates its own tasks).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from _common import DOCS, machine, write_results

GRID = (0.25, 0.5, 0.75, 0.9)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def task_jv(seed):
    from sbt_sklearn import SBTClassifier
    from sbt_sklearn.data import load_japanese_vowels

    X_train, y_train, X_test, y_test = load_japanese_vowels()

    def run(**params):
        clf = SBTClassifier(d=32, random_state=seed, **params).fit(X_train, y_train)
        return clf, float(np.mean(clf.predict(X_test) == y_test))

    return run, "accuracy", True


def task_ettm1(seed, data_home=None):
    from sbt_sklearn import SBTForecaster, sliding_windows
    from sbt_sklearn.data import load_ett

    train, test = load_ett("ETTm1", data_home=data_home)
    mean, std = train.mean().to_numpy(), train.std(ddof=0).to_numpy()
    tr = ((train.to_numpy() - mean) / std).astype(np.float32)
    full = np.concatenate([tr[-200:], ((test.to_numpy() - mean) / std).astype(np.float32)])
    Xtr, ytr = sliding_windows(tr, 200)
    Xte, yte = sliding_windows(full, 200)

    budget = dict(max_epochs=10, max_windows_per_epoch=4096)  # the same bounded budget for every fit

    def run(**params):
        f = SBTForecaster(random_state=seed, **budget, **params).fit(Xtr, ytr)
        return f, float(np.mean((f.predict(Xte) - yte) ** 2))

    return run, "MSE", False


def task_smap(seed, data_home=None):
    from sklearn.metrics import roc_auc_score

    from sbt_sklearn import SBTAnomalyDetector, sliding_windows
    from sbt_sklearn.data import load_smap_msl

    train, test, labels = load_smap_msl("SMAP", data_home=data_home)
    Xtr, _ = sliding_windows(train.astype(np.float32), 50, horizon=0)
    Xte, _ = sliding_windows(test.astype(np.float32), 50, horizon=0)
    # every 10th test window (42,757 of 427,568): scoring all of them 5 times would dominate the run
    Xte, y = Xte[::10], labels[49:][::10]
    budget = dict(max_epochs=5, max_windows_per_epoch=5000)

    def run(**params):
        det = SBTAnomalyDetector(random_state=seed, **budget, **params).fit(Xtr)
        return det, float(roc_auc_score(y, -det.score_samples(Xte)))

    return run, "ROC-AUC", True


TASKS = {"jv": task_jv, "ettm1": task_ettm1, "smap": task_smap}


def bench_task(name, seed, data_home):
    run, metric, higher = TASKS[name](seed) if name == "jv" else TASKS[name](seed, data_home)
    rows = []
    for p in GRID:
        (_, score), secs = _timed(lambda p=p: run(p=p))
        rows.append({"model": f"fixed p={p}", "final_p": p, metric: score, "fit_and_score_s": secs})
        print(name, rows[-1], flush=True)
    (model, score), secs = _timed(lambda: run(p=0.5, pals=True))
    rows.append({"model": "PALS (start p=0.5)", "final_p": model.p_, metric: score, "fit_and_score_s": secs,
                 "n_decisions": len(model.pals_history_),
                 "decisions": {d: sum(h["decision"] == d for h in model.pals_history_)
                               for d in ("shrink", "stable", "expand", "frozen")}})
    print(name, rows[-1], flush=True)
    if name == "ettm1":
        for label, params in (("dense twin", dict(p=0.0, binary=False)),
                              ("dense PALS (published)", dict(p=0.0, binary=False, pals=True))):
            (model, score), secs = _timed(lambda params=params: run(**params))
            rows.append({"model": label, "final_p": getattr(model, "p_", 0.0), metric: score,
                         "fit_and_score_s": secs})
            print(name, rows[-1], flush=True)
    grid = [r for r in rows if r["model"].startswith("fixed")]
    best = (max if higher else min)(r[metric] for r in grid)
    pals = rows[len(GRID)]
    gap = (best - pals[metric]) / abs(best) if higher else (pals[metric] - best) / abs(best)
    summary = {
        "metric": metric, "higher_is_better": higher, "grid_best": best,
        "pals_metric": pals[metric], "pals_relative_gap": gap,
        "pals_time_over_grid_time": pals["fit_and_score_s"] / sum(r["fit_and_score_s"] for r in grid),
        "pals_final_p": pals["final_p"],
        "targets_met": {"within_5pct": gap <= 0.05,
                        "third_of_grid_time": pals["fit_and_score_s"] <= sum(r["fit_and_score_s"] for r in grid) / 3,
                        "final_p_at_least_0.5": pals["final_p"] >= 0.5},
    }
    return {"rows": rows, "summary": summary}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these models)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(args.threads)
    path = DOCS / "pals.json"
    payload = json.loads(path.read_text()) if path.exists() else {"tasks": {}}
    payload["machine"] = machine()
    for name in args.tasks:
        payload["tasks"][name] = {"seed": args.seed, "machine": machine(),
                                  **bench_task(name, args.seed, args.data_home)}
    lines = ["# PALS against a grid of fixed prune rates (same run, same seed and budget)", ""]
    for name, res in payload["tasks"].items():
        s = res["summary"]
        metric = s["metric"]
        lines += [f"## {name} ({metric}, {'higher' if s['higher_is_better'] else 'lower'} is better)", "",
                  f"Machine: {res['machine']['cpu']}, load average at start "
                  f"{res['machine']['load_average_1min_at_start']}.", "",
                  f"| model | final p | {metric} | fit + score s |", "|---|---|---|---|"]
        for r in res["rows"]:
            lines.append(f"| {r['model']} | {r['final_p']:.3f} | {r[metric]:.4f} | {r['fit_and_score_s']:.1f} |")
        lines += ["", f"PALS vs grid best: relative gap {100 * s['pals_relative_gap']:+.1f} % (target <= 5 %), "
                      f"time {s['pals_time_over_grid_time']:.2f} of the grid's total (target <= 0.33), "
                      f"final p {s['pals_final_p']:.3f} (target >= 0.5).", ""]
    write_results("pals", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
