"""The anomaly detector's default (``rarity="max"``, ``smooth="auto"``) on series nobody tuned for.

Every labelled series at hand, each scored as a new user would: ``SBTAnomalyDetector()`` with
its defaults, window 50, ``fit_series(train, 50)`` then ``score_series(test)``:

* the three shipped telemanom channels (``load_sample_telemetry``: G-7 of SMAP, M-7 and T-8 of
  MSL; train and test arrays as shipped);
* the labelled anomaly series sktime ships (``mitdb``: an ECG record; ``yahoo``: a Yahoo S5
  series); they have no anomaly-free part, so the detector is fitted on the whole series and
  scores it, as an unsupervised user would;
* SMAP and MSL as one concatenated series each (``load_smap_msl``, the paper's protocol; needs
  ``SBT_DATA_HOME``), unless ``--sets`` leaves them out.

In the same run, on the same windows: the same network scored by the two previous defaults (the
error alone, multi-scale and unsmoothed) and fitted with ``rarity="auto"`` (the rule chosen on
synthetic anomalies; the same seed trains the same network), IsolationForest on points and on
windows, a Ridge one-step error, the telemetry channel's abs(z), PyOD's ECOD on points (from
PyOD itself), and a random score.
ROC-AUC and PR-AUC (average precision) over every test step; medians over the seeds.

Run::

    SBT_DATA_HOME=/path/to/data python benchmarks/anomaly_default.py --seeds 0 1 2

Writes ``docs/benchmarks/anomaly_default.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from anomaly import IForestPoints, IForestWindows, RandomScore, RidgePredictionError, TelemetryZ  # noqa: E402

import sbt_sklearn  # noqa: E402
from sbt_sklearn import SBTAnomalyDetector, sliding_windows  # noqa: E402
from sbt_sklearn.data import load_sample_telemetry, load_smap_msl  # noqa: E402
from sbt_sklearn.estimators._threads import resolve_n_jobs  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
WINDOW = 50
SHIPPED = ("G-7", "M-7", "T-8")
SKTIME = ("mitdb", "yahoo")
DEFAULT_ROW = "SBT default (larger of error and rarity levels, multi-scale)"
AUTO_ROW = "SBT rarity='auto' (chosen on synthetic anomalies)"
PREV_ROW = "same SBT network, error alone, multi-scale (previous default)"
OLD_ROW = "same SBT network, error alone, unsmoothed (default before that)"


def load(name: str, data_home=None):
    """(train, test, labels) of a named series."""
    if name in SHIPPED:
        train, test, labels = load_sample_telemetry(name)
    elif name in SKTIME:
        import sktime

        path = Path(sktime.__file__).parent / "datasets" / "data" / name / f"{name}.csv"
        frame = pd.read_csv(path)
        train = test = frame["data"].to_numpy(np.float32)[:, None]
        labels = frame["label"].to_numpy()
    else:
        train, test, labels = load_smap_msl(name, data_home)
    return np.asarray(train, np.float32), np.asarray(test, np.float32), np.asarray(labels).astype(bool)


class ECODPoints:
    """PyOD's ECOD (empirical-copula outlier scores) on the rows of the series."""

    name = "PyOD ECOD (points)"

    def fit(self, train, Xtr):
        from pyod.models.ecod import ECOD

        self.model = ECOD().fit(train)
        return self.model.decision_scores_

    def score(self, test, Xte):
        return self.model.decision_function(test)


def _metrics(labels, scores) -> dict:
    return {"roc_auc": 100 * float(roc_auc_score(labels, scores)),
            "pr_auc": 100 * float(average_precision_score(labels, scores))}


def error_alone(det, train, test):
    """The network's weighted error on the test windows, (multi-scale, unsmoothed), the way the
    previous defaults scored it (``rarity=None``): the same trained network, no second fit."""
    from sbt_sklearn.anomaly._multiscale import fit_scale_tails, multiscale_levels

    errors = []
    for series in (train, test):
        X, _ = det._check_X(sliding_windows(series, WINDOW, horizon=0)[0], reset=False)
        errors.append(det._score_terms(X)[0])
    multiscale = multiscale_levels(errors[1], fit_scale_tails(errors[0]))
    fill = lambda a: np.concatenate([np.full(WINDOW - 1, a[0]), a])  # as score_series pads  # noqa: E731
    return fill(multiscale), fill(errors[1]), errors[0]


def run_one(name: str, seed: int, data_home=None) -> dict:
    train, test, labels = load(name, data_home)
    Xtr, _ = sliding_windows(train, WINDOW, horizon=0)
    Xte, _ = sliding_windows(test, WINDOW, horizon=0)
    rows = {}
    threads = resolve_n_jobs("auto")  # what the default n_jobs="auto" gives the fit below
    start = time.perf_counter()
    det = SBTAnomalyDetector(random_state=seed).fit_series(train, WINDOW)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = -det.score_series(test)
    rows[DEFAULT_ROW] = {**_metrics(labels, scores), "fit_s": fit_s, "score_s": time.perf_counter() - start,
                         "rarity_": det.rarity_, "smooth_": det.smooth_, "threads": threads}
    multiscale, unsmoothed, _ = error_alone(det, train, test)
    rows[PREV_ROW] = _metrics(labels, multiscale)
    rows[OLD_ROW] = _metrics(labels, unsmoothed)
    start = time.perf_counter()
    auto = SBTAnomalyDetector(random_state=seed, rarity="auto").fit_series(train, WINDOW)  # the same network
    rows[AUTO_ROW] = {**_metrics(labels, -auto.score_series(test)), "fit_s": time.perf_counter() - start,
                      "rarity_": auto.rarity_, "smooth_": auto.smooth_, "selection": auto.score_selection_}
    for base in (IForestPoints(seed), IForestWindows(seed), RidgePredictionError(seed), TelemetryZ(), ECODPoints(),
                 RandomScore(seed)):
        start = time.perf_counter()
        base.fit(train, Xtr)
        fit_s = time.perf_counter() - start
        test_scores = base.score(test, Xte)
        rows[base.name] = {**_metrics(labels, test_scores), "fit_s": fit_s}
    return {"n_train": len(train), "n_test": len(test), "n_channels": int(train.shape[1]),
            "anomalous_fraction": float(labels.mean()), "rows": rows}


def run_per_channel(name: str, seed: int, data_home=None) -> dict:
    """telemanom's protocol: a detector per channel, scores pooled over the concatenated test set.

    SBT: ``fit_detectors`` (one training run for every channel); its multi-scale series scores
    are already levels in each detector's own training tail, so they are pooled as they are.
    The previous default (the same networks, window error alone) and every baseline are fitted
    per channel and mapped to ``tail_levels`` of their own training scores before pooling.
    """
    from sbt_sklearn import fit_detectors
    from sbt_sklearn.anomaly import tail_levels

    train, test, labels, channels = load_smap_msl(name, data_home, return_channels=True)
    parts = [(np.asarray(train[r.train_start:r.train_stop], np.float32),
              np.asarray(test[r.test_start:r.test_stop], np.float32)) for r in channels.itertuples()]
    labels = np.asarray(labels).astype(bool)
    rows = {}
    threads = resolve_n_jobs("auto")  # what the default n_jobs="auto" gives the fit below
    start = time.perf_counter()
    dets = fit_detectors(SBTAnomalyDetector(random_state=seed), [tr for tr, _ in parts], WINDOW)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    pooled = np.concatenate([-d.score_series(te) for d, (_, te) in zip(dets, parts)])
    rows[DEFAULT_ROW + ", fit_detectors"] = {**_metrics(labels, pooled), "fit_s": fit_s,
                                              "score_s": time.perf_counter() - start, "threads": threads}
    prev, old = [], []
    for d, (tr, te) in zip(dets, parts):
        multiscale, unsmoothed, reference = error_alone(d, tr, te)
        prev.append(multiscale)  # levels in the series' own training tail already
        old.append(tail_levels(reference, unsmoothed))
    rows[PREV_ROW + ", fit_detectors"] = _metrics(labels, np.concatenate(prev))
    rows[OLD_ROW + ", tail_levels"] = _metrics(labels, np.concatenate(old))
    for make in (lambda: IForestPoints(seed), lambda: IForestWindows(seed), lambda: RidgePredictionError(seed),
                 TelemetryZ, ECODPoints, lambda: RandomScore(seed)):
        levels, fit_s = [], 0.0
        for tr, te in parts:
            base = make()
            t0 = time.perf_counter()
            reference = base.fit(tr, sliding_windows(tr, WINDOW, horizon=0)[0])
            fit_s += time.perf_counter() - t0
            levels.append(tail_levels(reference, base.score(te, sliding_windows(te, WINDOW, horizon=0)[0])))
        rows[base.name + ", tail_levels"] = {**_metrics(labels, np.concatenate(levels)), "fit_s": fit_s}
    return {"n_train": len(train), "n_test": len(test), "n_channels": int(train.shape[1]),
            "n_series": len(parts), "anomalous_fraction": float(labels.mean()), "rows": rows}


def _median(values):
    return float(np.median(values)) if values else float("nan")


def _threads_seen(results: dict) -> str:
    """The threads the SBT fits resolved ``n_jobs="auto"`` to, where the rows record them."""
    seen = sorted({row["threads"] for runs in results["sets"].values() for run in runs
                   for row in run["rows"].values() if "threads" in row})
    return f" ({', '.join(map(str, seen))} in this run)" if seen else " (not recorded in this run)"


def report(results: dict, stem: str = "anomaly_default") -> str:
    per_channel = results.get("protocol") == "per-channel"
    title = "one detector per channel" if per_channel else "series nobody tuned for"
    command = "`benchmarks/anomaly_default.py" + (" --protocol per-channel`" if per_channel else "`")
    lines = [f"# The anomaly detector's default: {title}", "",
             f"Generated by {command}; the same numbers are in `{stem}.json`.", "",
             f"Machine: {results['machine']}. Load average at the start: {results['load_at_start']}. "
             f"Seeds: {results['seeds']}; values are medians over them (ROC-AUC and PR-AUC in %, over every "
             "test step). Every detector sees the same windows of 50 steps; SBT with its defaults "
             "(`SBTAnomalyDetector(random_state=seed).fit_series(train, 50)`, scored by `score_series`), "
             "threads included: `n_jobs=\"auto\"` takes the CPUs free at each call"
             f"{_threads_seen(results)}; the process's one torch thread applies to the baselines.", ""]
    if results.get("protocol") == "per-channel":
        lines += ["Protocol: telemanom's, a detector per channel; SBT through `fit_detectors` (one training "
                  "run, a detector per channel), its multi-scale series scores pooled as they are; the other "
                  "rows fit one model per channel and pool `tail_levels` of their own training scores.", ""]
    for name, per_seed in results["sets"].items():
        first = per_seed[0]
        series = f", {first['n_series']} series" if "n_series" in first else ""
        lines += [f"## {name}{series} ({first['n_train']:,} train / {first['n_test']:,} test steps, "
                  f"{first['n_channels']} channel(s), {100 * first['anomalous_fraction']:.2f} % anomalous)", "",
                  "| detector | ROC-AUC | PR-AUC | fit s |", "|---|---|---|---|"]
        for row in first["rows"]:
            vals = [r["rows"][row] for r in per_seed]
            fit = _median([v["fit_s"] for v in vals if "fit_s" in v])
            lines.append(f"| {row} | {_median([v['roc_auc'] for v in vals]):.1f} | "
                         f"{_median([v['pr_auc'] for v in vals]):.1f} | "
                         f"{'' if np.isnan(fit) else f'{fit:.1f}'} |")
        if AUTO_ROW in first["rows"]:
            chosen = [str(r["rows"][AUTO_ROW]["rarity_"]) for r in per_seed]
            lines += ["", f"rarity='auto' chose, per seed: {', '.join(chosen)}."]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=[*SHIPPED, *SKTIME, "SMAP", "MSL"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--protocol", choices=["series", "per-channel"], default="series",
                        help="per-channel: SMAP and MSL with a detector per telemanom channel")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    per_channel = args.protocol == "per-channel"
    if per_channel and args.sets == parser.get_default("sets"):
        args.sets = ["SMAP", "MSL"]
    args.out = args.out or str(DOCS / ("anomaly_default_per_channel" if per_channel else "anomaly_default"))
    torch.set_num_threads(1)
    results = {"machine": f"{os.cpu_count()} CPU cores ({platform.platform()}), torch {torch.__version__} with 1 "
                          f"thread, python {platform.python_version()}, sbt_sklearn {sbt_sklearn.__version__}",
               "load_at_start": [round(v, 2) for v in os.getloadavg()], "seeds": args.seeds,
               "protocol": args.protocol, "sets": {}}
    for name in args.sets:
        results["sets"][name] = []
        for seed in args.seeds:
            print(f"{name} seed {seed} ...", flush=True)
            run = run_per_channel if per_channel else run_one
            results["sets"][name].append(run(name, seed, args.data_home))
        Path(args.out + ".json").write_text(json.dumps(results, indent=1))
    results["load_at_end"] = [round(v, 2) for v in os.getloadavg()]
    Path(args.out + ".json").write_text(json.dumps(results, indent=1))
    Path(args.out + ".md").write_text(report(results, Path(args.out).name))


if __name__ == "__main__":
    main()
