"""Anomaly detection on SMAP and MSL: SBTAnomalyDetector against simple baselines, in one run.

Protocol (docs/user_guide/anomaly_detection.md explains the choices):

* data: the paper's concatenation of the telemanom channels (``load_smap_msl``), the whole
  train file for fitting, the *full* test file for evaluation, window 50;
* every detector gives one anomaly score per test time step (a window's score belongs to its
  last step; the first 49 steps get the score of the first window);
* threshold-free: ROC-AUC and PR-AUC (average precision) over all test steps;
* thresholds are fitted on *training* scores only, never on test scores: the 99 % quantile
  (r = 1 %) and Peaks-Over-Threshold (q, level below) of each detector's training scores;
  precision, recall and F1 are reported with and without point adjustment. Point adjustment
  is shown next to the random-score floor, never on its own.

Detectors: SBT at p=0.75 (paper) and p=0.5, the dense FP32 twin (binary=False, p=0),
IsolationForest on points and on flattened windows, a Ridge one-step prediction-error
detector, and a random score.

With ``--protocol per-channel`` every detector is instead fitted once per telemanom channel
(on that channel's train array, scored on its test array), and the scores of each channel's
detector are mapped to ``sbt_sklearn.anomaly.tail_levels`` of its own training scores before
they are pooled over the concatenated test set (thresholds: on the pooled training levels).

Run (one seed, 2 CPU cores: about 35 minutes; per channel, with another run sharing the cores,
SMAP took 22 minutes for the p=0.75 rows and the baselines and 20 to 30 more per further SBT
network, MSL 25 minutes for every row)::

    SBT_DATA_HOME=/path/to/data python benchmarks/anomaly.py
    SBT_DATA_HOME=/path/to/data python benchmarks/anomaly.py --protocol per-channel

Writes ``docs/benchmarks/anomaly.{json,md}`` (``anomaly_per_channel.{json,md}`` for the
per-channel protocol). Seeds or rows run in separate processes (``--first-seed``, ``--only``,
``--out``) are combined with ``--merge run1.json run2.json ...``; the per-channel results were
made that way.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import Ridge
from sklearn.metrics import average_precision_score, roc_auc_score

import sbt_sklearn
from sbt_sklearn import SBTAnomalyDetector, sliding_windows
from sbt_sklearn.anomaly import pot_threshold, tail_levels
from sbt_sklearn.data import load_smap_msl
from sbt_sklearn.metrics import precision_recall_f1

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 20_000  # windows materialised at a time by the baselines


# -- baselines -------------------------------------------------------------------------------------
def _flat(X, start, stop):
    return np.asarray(X[start:stop], dtype=np.float32).reshape(stop - start, -1)


def _chunked(fn, X):
    return np.concatenate([fn(_flat(X, s, min(s + CHUNK, len(X)))) for s in range(0, len(X), CHUNK)])


class IForestPoints:
    name = "IsolationForest (points)"

    def __init__(self, seed):
        self.model = IsolationForest(random_state=seed)

    def fit(self, train, Xtr):
        self.model.fit(train)
        return -self.model.score_samples(train)

    def score(self, test, Xte):
        return -self.model.score_samples(test)


class IForestWindows:
    name = "IsolationForest (windows)"

    def __init__(self, seed, n_fit=20_000):
        self.model, self.n_fit, self.seed = IsolationForest(random_state=seed), n_fit, seed

    def fit(self, train, Xtr):
        # each tree sees 256 windows; a seeded subset of windows is plenty to draw them from
        idx = np.sort(np.random.default_rng(self.seed).choice(len(Xtr), min(self.n_fit, len(Xtr)), replace=False))
        self.model.fit(np.asarray(Xtr[idx], dtype=np.float32).reshape(len(idx), -1))
        return _chunked(lambda a: -self.model.score_samples(a), Xtr)

    def score(self, test, Xte):
        return _pad(_chunked(lambda a: -self.model.score_samples(a), Xte), test, Xte)


class RidgePredictionError:
    """Ridge regression of the next row on the flattened 49 past rows (standardised);
    the score is the mean over channels of the squared standardised error."""

    name = "Ridge one-step prediction error"

    def __init__(self, seed, n_fit=30_000, alpha=1.0):
        self.seed, self.n_fit, self.alpha = seed, n_fit, alpha

    def _xy(self, a):  # a: (B, C*T) flattened windows
        a = a.reshape(len(a), self.c, -1)
        a = (a - self.mean[None, :, None]) / self.scale[None, :, None]
        return a[:, :, :-1].reshape(len(a), -1), a[:, :, -1]

    def _err(self, a):
        x, y = self._xy(a)
        return ((self.model.predict(x) - y) ** 2).mean(axis=1)

    def fit(self, train, Xtr):
        self.c = train.shape[1]
        self.mean = train.mean(axis=0)
        self.scale = np.where(train.std(axis=0) < 1e-8, 1.0, train.std(axis=0))
        idx = np.sort(np.random.default_rng(self.seed).choice(len(Xtr), min(self.n_fit, len(Xtr)), replace=False))
        x, y = self._xy(np.asarray(Xtr[idx], dtype=np.float32).reshape(len(idx), -1))
        self.model = Ridge(alpha=self.alpha).fit(x, y)
        return _chunked(self._err, Xtr)

    def score(self, test, Xte):
        return _pad(_chunked(self._err, Xte), test, Xte)


class TelemetryZ:
    """How far the telemetry value (column 0) lies from its training mean, in training
    standard deviations: the simplest level-anomaly score."""

    name = "telemetry abs(z) (column 0)"

    def fit(self, train, Xtr):
        self.mean, self.scale = float(train[:, 0].mean()), max(float(train[:, 0].std()), 1e-8)
        return self.score(train, None)[len(train) - len(Xtr):]

    def score(self, test, Xte):
        return np.abs(test[:, 0].astype(np.float64) - self.mean) / self.scale


class RandomScore:
    name = "random score"

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def fit(self, train, Xtr):
        return self.rng.random(len(Xtr))

    def score(self, test, Xte):
        return self.rng.random(len(test))


class SBT:
    def __init__(self, name, seed, **params):
        self.name, self.params = name, params
        self.model = SBTAnomalyDetector(random_state=seed, **params)

    def fit(self, train, Xtr):
        self.model.fit(Xtr)
        self.ref_seconds = time.perf_counter()
        ref = -self.model.score_samples(Xtr)  # the reference scores of the threshold
        self.ref_seconds = time.perf_counter() - self.ref_seconds
        return ref

    def score(self, test, Xte):
        return -self.model.score_series(test, smooth=1)  # window scores, as the reference above

    def info(self):
        m = self.model
        report = m.compression_report().to_dict()
        size = {key: report[key]["size_bits"] for key in ("paper", "honest")}
        # size_kib_paper: the paper's convention (1 bit per binary weight; gains and biases free);
        # size_kib_honest: everything inference needs; dense_size_kib: the dense FP32 twin (honest).
        # Files written before 2026-12 hold "size_kib" instead: 1 bit per binary weight plus 32 per
        # gain, bias and other float value (the retired size_summary rule, neither convention)
        return {"params": {k: v for k, v in self.params.items()}, "n_epochs": m.n_epochs_,
                "kept_fraction": 1.0 - report["model"]["p"], "size_kib_paper": size["paper"]["sbt"] / 8192,
                "size_kib_honest": size["honest"]["sbt"] / 8192, "dense_size_kib": size["honest"]["dense"] / 8192,
                "file_bytes": report["file_bytes"]["sbt"], "threshold_quantile_from_fit": float(m.threshold_)}


class SBTSmoothed:
    """The scores of an already fitted SBT row, smoothed by ``score_series(..., smooth=k)``.

    The published rows were measured when ``smooth=k`` took the lowest score of the last ``k``
    windows; since the multi-scale default (2026-12-04) it is their mean.

    Reference scores (for the thresholds) are the smoothed scores of the training series; its
    fit time is that scoring pass only (the model is the one of the row it wraps).
    """

    def __init__(self, base: SBT, smooth: int):
        self.base, self.smooth = base, smooth
        self.name = f"{base.name}, smooth={smooth}"

    def fit(self, train, Xtr):
        return -self.base.model.score_series(train, smooth=self.smooth)[len(train) - len(Xtr):]

    def score(self, test, Xte):
        return -self.base.model.score_series(test, smooth=self.smooth)

    def info(self):
        return {**self.base.info(), "smooth": self.smooth}


class SBTErrorOnly:
    """An already fitted SBT row (``rarity="marginal"``) scored by its network's error alone.

    That is exactly the detector with ``rarity=None`` (the default when these rows were measured;
    training does not depend on ``rarity``, only the tables fitted after it do). Reference scores:
    the error-only scores of the training windows; its fit time is that scoring pass only.
    """

    def __init__(self, base: SBT, name: str):
        self.base, self.name = base, name

    @property
    def model(self):
        model = copy.copy(self.base.model)  # shares the fitted network; only the score rule differs
        model.rarity = model.rarity_ = None
        return model

    def fit(self, train, Xtr):
        return -self.model.score_samples(Xtr)

    def score(self, test, Xte):
        return -self.model.score_series(test, smooth=1)

    def info(self):
        return {**self.base.info(), "rarity": None}


def _pad(window_scores, test, Xte):
    """One score per test step: the first window's score for the steps before it ends."""
    lead = len(test) - len(window_scores)
    return np.concatenate([np.full(lead, window_scores[0]), window_scores])


# -- evaluation ------------------------------------------------------------------------------------
def _prf(labels, pred):
    out = {}
    for adjusted in (False, True):
        p, r, f = precision_recall_f1(labels, pred, point_adjusted=adjusted)
        key = "pa" if adjusted else "raw"
        out[key] = {"precision": 100 * p, "recall": 100 * r, "f1": 100 * f}
    out["flagged_fraction"] = float(pred.mean())
    return out


def evaluate(ref, test_scores, labels, r, q, level):
    res = {"roc_auc": 100 * roc_auc_score(labels, test_scores),
           "pr_auc": 100 * average_precision_score(labels, test_scores)}
    tau_q = float(np.quantile(ref, 1.0 - r))
    res["quantile"] = {"threshold": tau_q, **_prf(labels, (test_scores > tau_q).astype(np.int8))}
    try:
        tau_p = float(pot_threshold(ref, q=q, level=level))
        res["pot"] = {"threshold": tau_p, **_prf(labels, (test_scores > tau_p).astype(np.int8))}
    except ValueError as exc:  # e.g. constant reference scores
        res["pot"] = {"error": str(exc)}
    return res


def machine_info():
    return {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "numpy": np.__version__, "sbt_sklearn": sbt_sklearn.__version__}


def build(seed, epochs, per_epoch):
    """The detectors of one seed. Each SBT network is fitted once with ``rarity="marginal"``; its
    error-alone row (``rarity=None``, the default when these rows were measured) reuses it."""
    common = dict(max_epochs=epochs, max_windows_per_epoch=per_epoch, rarity="marginal")
    paper = SBT("SBT p=0.75 (paper), rarity='marginal'", seed, p=0.75, **common)
    half = SBT("SBT p=0.5, rarity='marginal'", seed, p=0.5, **common)
    dense = SBT("dense twin (FP32, p=0), rarity='marginal'", seed, p=0.0, binary=False, **common)
    paper_default = SBTErrorOnly(paper, "SBT p=0.75 (paper)")
    return [
        paper,
        paper_default,
        SBTSmoothed(paper_default, 25),
        SBTSmoothed(paper, 25),
        half,
        SBTErrorOnly(half, "SBT p=0.5"),
        dense,
        SBTErrorOnly(dense, "dense twin (FP32, p=0)"),
        IForestPoints(seed),
        IForestWindows(seed),
        RidgePredictionError(seed),
        TelemetryZ(),
        RandomScore(seed),
    ]


def _parts(channels, n_train, n_test, protocol):
    """(train slice, test slice) of each series a detector is fitted on: the whole concatenation,
    or one per telemanom channel."""
    if protocol == "concatenated":
        return [(slice(0, n_train), slice(0, n_test))]
    return [(slice(r.train_start, r.train_stop), slice(r.test_start, r.test_stop)) for r in channels.itertuples()]


def run(args):
    results = {"protocol": {"protocol": args.protocol, "window": args.window, "r": args.r, "pot_q": args.q,
                            "pot_level": args.level, "reference_scores": "training windows (never test)",
                            "seeds": args.seeds, "max_epochs": args.epochs,
                            "windows_per_epoch": args.windows_per_epoch, "test_points": "all"},
               "machine": machine_info(), "datasets": {}}
    for name in args.datasets:
        train, test, labels, channels = load_smap_msl(name, args.data_home, return_channels=True)
        train, test = train.astype(np.float32), test.astype(np.float32)
        parts = _parts(channels, len(train), len(test), args.protocol)
        ds = {"n_train": len(train), "n_test": len(test), "n_channels": train.shape[1],
              "n_series": len(parts), "anomalous_fraction": float(labels.mean()), "methods": {}}
        results["datasets"][name] = ds
        per_seed = {}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            pooled = {}
            for k, (tr_rows, te_rows) in enumerate(parts):
                tr, te = train[tr_rows], test[te_rows]
                Xtr, _ = sliding_windows(tr, args.window, horizon=0)
                Xte, _ = sliding_windows(te, args.window, horizon=0)
                for det in build(seed, args.epochs, args.windows_per_epoch):
                    if args.only and not any(o in det.name for o in args.only):
                        continue
                    t0 = time.perf_counter()
                    ref = det.fit(tr, Xtr)
                    fit_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    scores = det.score(te, Xte)
                    score_s = time.perf_counter() - t0
                    assert scores.shape == (len(te),)
                    if len(parts) > 1:  # one model per series: pool their scores on one scale
                        levels = tail_levels(ref, np.concatenate([ref, scores]))  # one fit of the tail
                        ref, scores = levels[:len(ref)], levels[len(ref):]
                    acc = pooled.get(det.name)
                    if acc is None:  # the first series: its model describes the row
                        acc = pooled[det.name] = {"ref": [], "scores": [], "fit_seconds": 0.0, "score_seconds": 0.0,
                                                  "info": getattr(det, "info", dict)()}
                    acc["ref"].append(ref)
                    acc["scores"].append(scores)
                    acc["fit_seconds"] += fit_s
                    acc["score_seconds"] += score_s
                if len(parts) > 1:
                    print(f"{name} seed={seed} series {k + 1}/{len(parts)} ({channels.chan_id.iloc[k]}) done",
                          flush=True)
            for det_name, acc in pooled.items():
                res = evaluate(np.concatenate(acc["ref"]), np.concatenate(acc["scores"]), labels,
                               args.r, args.q, args.level)
                res.update(fit_seconds=acc["fit_seconds"], score_seconds=acc["score_seconds"], seed=seed,
                           **acc["info"])
                per_seed.setdefault(det_name, []).append(res)
                print(f"{name} seed={seed} {det_name:34s} ROC {res['roc_auc']:5.1f} PR {res['pr_auc']:5.1f} "
                      f"F1 q {res['quantile']['raw']['f1']:5.1f}/{res['quantile']['pa']['f1']:5.1f} "
                      f"fit {res['fit_seconds']:6.1f}s score {res['score_seconds']:6.1f}s", flush=True)
            _write(results, args, per_seed, ds)
    return results


def _median(runs, path):
    vals = []
    for r in runs:
        v = r
        for k in path:
            v = v.get(k) if isinstance(v, dict) else None
        if isinstance(v, (int, float)):
            vals.append(v)
    return float(np.median(vals)) if vals else None


def _write(results, args, per_seed, ds):
    for name, runs in per_seed.items():
        summary = {"runs": runs, "median": {}}
        for path in [("roc_auc",), ("pr_auc",), ("fit_seconds",), ("score_seconds",)] + [
            (t, a, m) for t in ("quantile", "pot") for a in ("raw", "pa") for m in ("precision", "recall", "f1")
        ]:
            summary["median"][".".join(path)] = _median(runs, path)
        ds["methods"][name] = summary
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=float))
    out.with_suffix(".md").write_text(markdown(results))


def merge(paths, args):
    """Write one result from the JSON files of runs made separately (other seeds, other rows)."""
    docs = [json.loads(Path(p).read_text()) for p in paths]
    results = {**docs[0], "datasets": {}}
    per_dataset = {}
    for doc in docs:
        for name, ds in doc["datasets"].items():
            results["datasets"].setdefault(name, ds)
            for method, summary in ds["methods"].items():
                per_dataset.setdefault(name, {}).setdefault(method, []).extend(summary["runs"])
    results["protocol"]["seeds"] = "per data set"
    order = [det.name for det in build(0, 1, 1)]  # rows in the order a single run writes them
    for name, methods in per_dataset.items():
        rows = sorted(methods, key=lambda m: order.index(m) if m in order else len(order))
        results["datasets"][name]["methods"] = {}
        _write(results, args, {m: sorted(methods[m], key=lambda r: r["seed"]) for m in rows},
               results["datasets"][name])


def _seeds(n):
    return f"{n} seed" + ("" if n == 1 else "s")


def markdown(results):
    p = results["protocol"]
    m = results["machine"]
    if p.get("protocol", "concatenated") == "concatenated":
        title, stem = "Anomaly detection on SMAP and MSL", "anomaly"
        setup = (f"Protocol: the paper's concatenated series, window {p['window']}, fit on the train file, scored "
                 "on every step of the full test file.")
    else:
        title, stem = "Anomaly detection on SMAP and MSL, one detector per channel", "anomaly_per_channel"
        setup = (f"Protocol: telemanom's, one detector per channel, window {p['window']}: each detector is fitted "
                 "on its channel's train array and scored on every step of its test array. The scores of every "
                 "channel's detector (test and training) are mapped to their -log upper-tail probability among "
                 "that detector's training scores (`sbt_sklearn.anomaly.tail_levels`), so that they share one "
                 "scale, and pooled over the concatenated test set; the metrics and thresholds below use the "
                 "pooled levels. Fit and score seconds are summed over the channels.")
    lines = [
        f"# {title}",
        "",
        f"Generated by `benchmarks/anomaly.py --protocol {p.get('protocol', 'concatenated')}`; the same numbers "
        f"are in `{stem}.json`.",
        "",
        f"{setup} Thresholds come from each detector's scores on its **training** "
        f"windows only: the {100 * (1 - p['r']):g} % quantile (r = {100 * p['r']:g} %) and POT "
        f"(q = {p['pot_q']:g}, level = {p['pot_level']:g}). PA = point-adjusted. SBT: {p['max_epochs']} epochs "
        f"of {p['windows_per_epoch']} windows each (drawn afresh every epoch). Values are medians over the "
        "seeds (0, 1, ...) named in each heading; a row run on fewer seeds says so.",
        "",
        f"Machine: {m['cpu_count']} CPU cores ({m['processor'] or m['platform']}), torch {m['torch']} with "
        f"{m['torch_threads']} thread(s), python {m['python']}.",
        "",
        "Point adjustment marks a whole true segment as detected when one of its steps is flagged, which "
        "flatters every detector: compare PA-F1 only with the random-score row of the same table.",
    ]
    for name, ds in results["datasets"].items():
        series = f", {ds['n_series']} series" if ds.get("n_series", 1) > 1 else ""
        n_seeds = max((len(s["runs"]) for s in ds["methods"].values()), default=0)
        lines += ["", f"## {name} ({ds['n_train']:,} train / {ds['n_test']:,} test steps, {ds['n_channels']} channels"
                  f"{series}, {100 * ds['anomalous_fraction']:.2f} % anomalous; {_seeds(n_seeds)})", "",
                  "| detector | ROC-AUC | PR-AUC | F1 (q) | PA-F1 (q) | P / R (q) | F1 (POT) | PA-F1 (POT) | "
                  "fit s | score s |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for mname, s in ds["methods"].items():
            md = s["median"]

            def f(key, md=md):
                v = md.get(key)
                return "-" if v is None else f"{v:.1f}"

            fewer = f" ({_seeds(len(s['runs']))})" if len(s["runs"]) < n_seeds else ""
            lines.append(
                f"| {mname}{fewer} | {f('roc_auc')} | {f('pr_auc')} | {f('quantile.raw.f1')} | {f('quantile.pa.f1')} | "
                f"{f('quantile.raw.precision')} / {f('quantile.raw.recall')} | {f('pot.raw.f1')} | {f('pot.pa.f1')} | "
                f"{f('fit_seconds')} | {f('score_seconds')} |")
        sbt = {k: v["runs"][0] for k, v in ds["methods"].items() if "kept_fraction" in v["runs"][0]}
        if sbt:
            first = " (the first channel's model; every channel's has the same shape)" if series else ""
            lines += ["", f"SBT models{first}:", "",
                      "| SBT model | kept weights | size (paper convention) | dense FP32 size | epochs |",
                      "|---|---|---|---|---|"]
            old_rule = any("size_kib_paper" not in r for r in sbt.values())
            for mname, r in sbt.items():
                size = f"{r['size_kib_paper']:.1f} KiB" if "size_kib_paper" in r else f"{r['size_kib']:.1f} KiB *"
                lines.append(f"| {mname} | {100 * r['kept_fraction']:.0f} % | {size} | "
                             f"{r['dense_size_kib']:.1f} KiB | {r['n_epochs']} |")
            if old_rule:
                lines += ["", "\\* measured before 2026-12 with 1 bit per binary weight plus 32 bits per gain, bias "
                          "and other float value (neither the paper's convention nor the honest one); a re-run "
                          "reports the paper's convention."]
    lines += ["", "F1 (q): at the quantile threshold; PA: point-adjusted; P / R: unadjusted precision and recall "
              "at the quantile threshold; for SBT, fit s includes the detector's own scoring pass over the "
              "training windows (which sets its threshold) and a second one that the benchmark makes to get the "
              "reference scores for POT; score s is the scoring of every test step. The `smooth=25` row is the "
              "p=0.75 model scored with `score_series(..., smooth=25)` (each step: the lowest score of the 25 "
              "windows ending at it); its reference scores are the smoothed scores of the training series and "
              "its fit s is that scoring pass only. Every SBT network is fitted once, with rarity='marginal' "
              "(score = max(0, T_e + log 0.05) + T_v: the error's and the last row's value rarity's -log "
              "upper-tail probabilities among the training windows); the rows without `rarity='marginal'` are "
              "the same network with the default rarity=None (the error alone, identical to a fit with "
              "rarity=None), and their fit s is their scoring pass only. All SBT rows use the default "
              "error_weighting='continuous' (on/off channels left out of the error). 1 torch thread, on a machine "
              "shared with other jobs, so timings are only indicative. See docs/user_guide/anomaly_detection.md "
              "for the discussion.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["SMAP", "MSL"])
    parser.add_argument("--data-home", default=None, help="folder with SMAP_MSL/ (default: $SBT_DATA_HOME)")
    parser.add_argument("--window", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=20, help="SBT max_epochs (the estimator's default)")
    parser.add_argument("--windows-per-epoch", type=int, default=10_000,
                        help="SBT max_windows_per_epoch (the estimator's default)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run: first-seed, first-seed + 1, ...")
    parser.add_argument("--r", type=float, default=0.01, help="quantile threshold: flagged fraction of train")
    parser.add_argument("--q", type=float, default=1e-3, help="POT risk")
    parser.add_argument("--level", type=float, default=0.98, help="POT initial level")
    parser.add_argument("--only", nargs="*", default=None, help="run only detectors whose name contains one of these")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--protocol", choices=["concatenated", "per-channel"], default="concatenated",
                        help="one detector on the paper's concatenated series, or one per telemanom channel")
    parser.add_argument("--out", default=None,
                        help="output stem (default docs/benchmarks/anomaly or anomaly_per_channel)")
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown from the JSON")
    parser.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                        help="only merge the results of separate runs (seeds, rows) into --out")
    args = parser.parse_args(argv)
    if args.out is None:
        stem = "anomaly" if args.protocol == "concatenated" else "anomaly_per_channel"
        args.out = str(ROOT / "docs" / "benchmarks" / stem)
    if args.merge:
        merge(args.merge, args)
        return
    if args.render:
        out = Path(args.out)
        out.with_suffix(".md").write_text(markdown(json.loads(out.with_suffix(".json").read_text())))
        return
    torch.set_num_threads(args.threads)
    run(args)


if __name__ == "__main__":
    main()
