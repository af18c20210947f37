"""The estimators on a GPU: default fits on CUDA against the same machine's CPU, and GPU->CPU loading.

Each estimator's default configuration (as in ``benchmarks/threads.py``: SBTClassifier on the
JapaneseVowels sample, SBTForecaster on the first 4,320 rows of the ETTh1 sample with windows of
48 rows, SBTAnomalyDetector on the SMAP channel G-7 with windows of 50 steps) is fitted with
``device="cpu"`` (the default one thread, and ``n_jobs=-1``: every core) and ``device="cuda"``,
settings interleaved, medians over ``--repeats``. The first CUDA fit of the process (context
start-up, kernel loading) is timed apart and not counted. For each CUDA fit the model's file is
loaded on the CPU and its predictions compared with the GPU's; the held-out score (classifier
accuracy on the JapaneseVowels test split, forecaster MSE on the rows after the training rows,
detector ROC-AUC on G-7's labelled test part) is reported for every setting.

Run on a machine with a CUDA device: ``python benchmarks/gpu.py [--repeats 2]`` (a few minutes).
Writes ``docs/benchmarks/gpu.{json,md}``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import machine, write_results
from sklearn.metrics import roc_auc_score

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.data import load_sample_etth1, load_sample_japanese_vowels, load_sample_telemetry

SETTINGS = {
    "cpu, default (1 thread)": dict(device="cpu", n_jobs=None),
    "cpu, n_jobs=-1": dict(device="cpu", n_jobs=-1),
    "cuda": dict(device="cuda"),
}


def _tasks():
    Xtr, ytr, Xte, yte = load_sample_japanese_vowels()
    rows = load_sample_etth1().to_numpy(np.float32)
    Xf, yf = sliding_windows(rows[:4320], 48)
    Xft, yft = sliding_windows(rows[4320 - 48:5760], 48)
    train, test, labels = load_sample_telemetry("G-7")
    Xd = sliding_windows(train.astype(np.float32), 50, horizon=0)[0]
    test = test.astype(np.float32)

    def classifier(est):
        return float(np.mean(est.predict(Xte) == yte)), est.predict_proba(Xte)

    def forecaster(est):
        pred = est.predict(Xft)
        return float(np.mean((pred - yft) ** 2)), pred

    def detector(est):
        scores = est.score_series(test)
        return float(roc_auc_score(labels, -scores)), scores

    return {
        "classifier": (SBTClassifier, (Xtr, ytr), classifier, "accuracy"),
        "forecaster": (SBTForecaster, (Xf, yf), forecaster, "MSE"),
        "detector": (SBTAnomalyDetector, (Xd, None), detector, "ROC-AUC"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this benchmark needs one")
    tasks = _tasks()
    start = time.perf_counter()
    SBTClassifier(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=1, device="cuda").fit(*tasks["classifier"][1])
    warmup_s = time.perf_counter() - start
    results = {task: {s: {"wall_s": [], "score": []} for s in SETTINGS} for task in tasks}
    for _ in range(args.repeats):
        for task, (cls, data, judge, _) in tasks.items():
            for name, kw in SETTINGS.items():
                est = cls(random_state=0, **kw)
                if kw["device"] == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                est.fit(*data)
                if kw["device"] == "cuda":
                    torch.cuda.synchronize()
                results[task][name]["wall_s"].append(time.perf_counter() - t0)
                score, out = judge(est)
                results[task][name]["score"].append(score)
                if kw["device"] == "cuda":
                    on_cpu = cls.from_bytes(est.to_bytes(), device="cpu")
                    diff = float(np.max(np.abs(judge(on_cpu)[1] - out)))
                    results[task][name].setdefault("max_abs_diff_gpu_vs_loaded_on_cpu", []).append(diff)
    for task in results.values():
        for r in task.values():
            r["median_wall_s"] = statistics.median(r["wall_s"])
    payload = {"machine": {**machine(), "gpu": torch.cuda.get_device_name(0)}, "repeats": args.repeats,
               "first_cuda_fit_s": warmup_s, "settings": {k: {kk: str(vv) for kk, vv in v.items()}
                                                        for k, v in SETTINGS.items()}, "results": results}
    lines = ["# Default fits on a GPU", "",
             f"Machine: {payload['machine']['cpu']}, {payload['machine']['cpu_count']} cores, "
             f"{payload['machine']['gpu']}, torch {payload['machine']['torch']}; medians of {args.repeats}; "
             f"first CUDA fit of the process (not counted) {warmup_s:.1f} s.", "",
             "| estimator | setting | fit s (median) | vs cpu default | held-out score | GPU vs loaded on CPU |",
             "|---|---|---|---|---|---|"]
    for task, (_, _, _, measure) in tasks.items():
        base = results[task]["cpu, default (1 thread)"]["median_wall_s"]
        for name, r in results[task].items():
            diff = r.get("max_abs_diff_gpu_vs_loaded_on_cpu")
            shown = f"max abs diff {max(diff):.1e}" if diff else "-"
            lines.append(f"| {task} | {name} | {r['median_wall_s']:.1f} | {r['median_wall_s'] / base:.2f}x | "
                         f"{measure} {statistics.median(r['score']):.4f} | "
                         f"{shown} |")
    write_results("gpu", payload, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
