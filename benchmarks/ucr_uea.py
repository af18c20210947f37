"""Every classification data set sktime ships: SBT defaults against its dense twin, MiniRocket and Rocket.

Protocol: each ``<name>_TRAIN.ts`` / ``<name>_TEST.ts`` pair in the installed sktime's
``datasets/data`` folder whose header says ``@classLabel true`` (the regression sets Covid3Month and
Tecator are left out), train/test as shipped. Seeds 0, 1, 2 for every model. Models:

* ``SBT p=0.5``, ``SBT p=0.75``: :class:`~sbt_sklearn.SBTClassifier` with its defaults (threads,
  ``patch_len="auto"``, ``max_epochs="auto"``, ``early_stopping="auto"``), only ``p`` and
  ``random_state`` set; unequal lengths go in as lists of series.
* ``dense twin``: the same with ``binary=False, p=0``.
* ``MiniRocket``: sktime's ``MiniRocketMultivariate`` transformer (``MiniRocketMultivariateVariable``
  for unequal lengths, which it handles natively), then ``StandardScaler`` and
  ``RidgeClassifierCV(alphas=logspace(-3, 3, 10))``, as the authors do. The transformers are called
  directly: sktime's ``RocketClassifier`` wrapper converts its feature table through pandas, which
  costs seconds per fit under pandas 3.
* ``Rocket``: sktime's ``Rocket`` (10,000 kernels) the same way; unequal series are zero-padded at
  the end to the longest training series (Rocket needs equal lengths).

Measured: test accuracy, fit and predict seconds (wall and process CPU), model bytes (the SBT's
``.sbt`` file; the peers' pickled pipeline). Published MiniRocket accuracies on the original split
(resample 0 of the authors' ``results/accuracy_ucr109_resamples.csv`` in
github.com/angus924/minirocket) are shown beside ours where the set is among the UCR 109.

Run: ``python benchmarks/ucr_uea.py run [--datasets A B ...]`` (one JSON per data set under
docs/benchmarks/ucr_uea/, so two processes can share the data sets), then
``python benchmarks/ucr_uea.py report`` writes docs/benchmarks/ucr_uea.{json,md}. Needs the
``benchmarks`` extra (numba, for the Rocket transformers).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import DOCS, machine, write_results

PARTS = DOCS / "ucr_uea"
SBT_MODELS = {"SBT p=0.5": dict(p=0.5), "SBT p=0.75": dict(p=0.75), "dense twin": dict(p=0.0, binary=False)}
PEERS = ("MiniRocket", "Rocket")
#: MiniRocket on the original train/test split: resample 0 of results/accuracy_ucr109_resamples.csv,
#: github.com/angus924/minirocket (Dempster, Schmidt, Webb, KDD 2021)
PUBLISHED_MINIROCKET = {"ACSF1": 92.0, "ArrowHead": 86.2857, "GunPoint": 99.3333, "ItalyPowerDemand": 96.8902,
                        "OSULeaf": 95.8678}
PUBLISHED_SOURCE = ("github.com/angus924/minirocket, results/accuracy_ucr109_resamples.csv, column 0 "
                    "(the original train/test split)")


def data_folder() -> Path:
    import sktime

    return Path(sktime.__file__).parent / "datasets" / "data"


def classification_sets() -> list[str]:
    """Names of the shipped train/test pairs with class labels."""
    names = []
    for folder in sorted(data_folder().iterdir()):
        train = folder / f"{folder.name}_TRAIN.ts"
        if train.is_file() and (folder / f"{folder.name}_TEST.ts").is_file():
            header = train.read_text(errors="replace")[:20000].lower()
            if "@classlabel true" in header:
                names.append(folder.name)
    return names


def load(name: str, split: str):
    """(list of (C, T_i) float arrays, labels) of one split."""
    from sktime.datasets import load_from_tsfile

    X, y = load_from_tsfile(str(data_folder() / name / f"{name}_{split}.ts"), return_data_type="nested_univ")
    series = [np.stack([np.asarray(X.iloc[i, c], dtype=np.float64) for c in range(X.shape[1])])
              for i in range(len(X))]
    return series, np.asarray(y)


def _pad(series, length):
    out = np.zeros((len(series), series[0].shape[0], length))
    for i, s in enumerate(series):
        out[i, :, : min(length, s.shape[1])] = s[:, :length]
    return out


class _RocketPipeline:
    """Transformer, StandardScaler, RidgeClassifierCV (sklearn 1.9's Pipeline trips over sktime's
    transformers' missing callback context, so the three steps are chained by hand)."""

    def __init__(self, transform):
        from sklearn.linear_model import RidgeClassifierCV
        from sklearn.preprocessing import StandardScaler

        self.transform = transform
        self.scaler = StandardScaler()
        self.ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))

    def fit(self, X, y):
        self.ridge.fit(self.scaler.fit_transform(np.asarray(self.transform.fit_transform(X))), y)
        return self

    def predict(self, X):
        return self.ridge.predict(self.scaler.transform(np.asarray(self.transform.transform(X))))


def _peer(kind: str, seed: int, equal: bool):
    from sktime.transformations.panel.rocket import MiniRocketMultivariate, MiniRocketMultivariateVariable, Rocket

    if kind == "MiniRocket":
        transform = MiniRocketMultivariate(random_state=seed) if equal else \
            MiniRocketMultivariateVariable(random_state=seed, pad_value_short_series=0.0)
    else:
        transform = Rocket(num_kernels=10_000, random_state=seed)
    return _RocketPipeline(transform)


def _peer_input(kind, series, equal, length):
    if equal or kind == "Rocket":
        return _pad(series, length)
    import pandas as pd

    return pd.DataFrame({f"c{c}": [pd.Series(s[c]) for s in series] for c in range(series[0].shape[0])})


def _timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def run_dataset(name: str, seeds, models) -> dict:
    from sbt_sklearn import SBTClassifier

    train, y_train = load(name, "TRAIN")
    test, y_test = load(name, "TEST")
    lengths = [s.shape[1] for s in train + test]
    equal = len(set(lengths)) == 1
    t_max = max(s.shape[1] for s in train)
    info = {"dataset": name, "n_train": len(train), "n_test": len(test), "n_channels": int(train[0].shape[0]),
            "length_min": int(min(lengths)), "length_max": int(max(lengths)), "n_classes": len(set(y_train))}
    runs = []
    for seed in seeds:
        for model, params in SBT_MODELS.items():
            if model not in models:
                continue
            clf = SBTClassifier(random_state=seed, **params)
            _, fit_s, fit_cpu = _timed(clf.fit, train, y_train)
            pred, pred_s, _ = _timed(clf.predict, test)
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "model.sbt")
                clf.save(path)
                size = os.path.getsize(path)
            runs.append({"model": model, "seed": seed, "accuracy": float(np.mean(pred == y_test) * 100),
                         "fit_s": fit_s, "fit_cpu_s": fit_cpu, "predict_s": pred_s, "bytes": size,
                         "patch_len": clf.patch_len_, "epochs": clf.n_epochs_})
            print(name, runs[-1], flush=True)
        for kind in PEERS:
            if kind not in models:
                continue
            pipe = _peer(kind, seed, equal)
            Xtr, Xte = (_peer_input(kind, s, equal, t_max) for s in (train, test))
            _, fit_s, fit_cpu = _timed(pipe.fit, Xtr, y_train)
            pred, pred_s, _ = _timed(pipe.predict, Xte)
            buf = io.BytesIO()
            pickle.dump(pipe, buf)
            runs.append({"model": kind, "seed": seed, "accuracy": float(np.mean(pred == y_test) * 100),
                         "fit_s": fit_s, "fit_cpu_s": fit_cpu, "predict_s": pred_s, "bytes": len(buf.getvalue())})
            print(name, runs[-1], flush=True)
    return {"info": info, "runs": runs, "machine": machine()}


def _summary(parts: list[dict]) -> dict:
    table = {}
    for part in parts:
        name = part["info"]["dataset"]
        rows = {}
        for model in list(SBT_MODELS) + list(PEERS):
            runs = [r for r in part["runs"] if r["model"] == model]
            if not runs:
                continue
            acc = [r["accuracy"] for r in runs]
            rows[model] = {"accuracy_mean": statistics.mean(acc), "accuracy_std": statistics.pstdev(acc),
                           "fit_s_median": statistics.median(r["fit_s"] for r in runs),
                           "fit_s_max": max(r["fit_s"] for r in runs),
                           "predict_s_median": statistics.median(r["predict_s"] for r in runs),
                           "bytes": statistics.median(r["bytes"] for r in runs), "n_runs": len(runs)}
            if "patch_len" in runs[0]:
                rows[model]["patch_len"], rows[model]["epochs"] = runs[0]["patch_len"], runs[0]["epochs"]
        table[name] = {"info": part["info"], "models": rows, "published_minirocket": PUBLISHED_MINIROCKET.get(name)}
    return table


def _markdown(table: dict, parts: list[dict]) -> str:
    models = list(SBT_MODELS) + list(PEERS)
    lines = ["# Classification on every labelled data set sktime ships", "",
             "Generated by `benchmarks/ucr_uea.py` (protocol in its docstring). Accuracy in %, mean +- std over "
             f"seeds {sorted({r['seed'] for p in parts for r in p['runs']})}; fit = median wall seconds of a fit; "
             "bytes = model file (SBT `.sbt`) or pickled pipeline (peers). SBT rows use the estimator's defaults "
             "(threads included).", "",
             "| data set | C | T | train | " + " | ".join(models) + " | MiniRocket published |",
             "|---|---|---|---|" + "---|" * len(models) + "---|"]
    for name, row in table.items():
        info = row["info"]
        t = str(info["length_max"]) if info["length_min"] == info["length_max"] else \
            f"{info['length_min']}-{info['length_max']}"
        cells = []
        for m in models:
            r = row["models"].get(m)
            cells.append("-" if r is None else f"{r['accuracy_mean']:.1f} +- {r['accuracy_std']:.1f}")
        pub = row["published_minirocket"]
        lines.append(f"| {name} | {info['n_channels']} | {t} | {info['n_train']} | " + " | ".join(cells)
                     + f" | {'-' if pub is None else f'{pub:.1f}'} |")
    lines += ["", "Fit seconds (median wall; worst seed in brackets) and model bytes:", "",
              "| data set | " + " | ".join(f"{m} fit" for m in models) + " | SBT p=0.5 patch, epochs | "
              + " | ".join(f"{m} bytes" for m in models) + " |",
              "|---|" + "---|" * (2 * len(models) + 1)]
    for name, row in table.items():
        fits = []
        for m in models:
            r = row["models"].get(m)
            fits.append("-" if r is None else f"{r['fit_s_median']:.1f} ({r['fit_s_max']:.1f})")
        sizes = ["-" if row["models"].get(m) is None else f"{row['models'][m]['bytes']:,.0f}" for m in models]
        sbt = row["models"].get("SBT p=0.5", {})
        lines.append(f"| {name} | " + " | ".join(fits) + f" | {sbt.get('patch_len', '-')}, {sbt.get('epochs', '-')} | "
                     + " | ".join(sizes) + " |")
    means = {m: statistics.mean(row["models"][m]["accuracy_mean"] for row in table.values())
             for m in models if all(m in row["models"] for row in table.values())}
    lines += ["", "Mean accuracy over the data sets: " + ", ".join(f"{m} {v:.1f}" for m, v in means.items()) + ".",
              "", f"Published MiniRocket: {PUBLISHED_SOURCE}.", ""]
    if "SBT p=0.5" in means and "MiniRocket" in means:
        gaps = {name: row["models"]["MiniRocket"]["accuracy_mean"] - row["models"]["SBT p=0.5"]["accuracy_mean"]
                for name, row in table.items()}
        worst = max(gaps, key=gaps.get)
        lines += [f"SBT p=0.5 against MiniRocket: mean gap {means['MiniRocket'] - means['SBT p=0.5']:.1f} points; "
                  f"largest gap {gaps[worst]:.1f} points ({worst}).", ""]
    ms = {(p["machine"]["cpu"], p["machine"]["cpu_count"]) for p in parts}
    loads = [p["machine"]["load_average_1min_at_start"] for p in parts]
    lines += [f"Machine: {', '.join(f'{c} ({n} cores)' for c, n in ms)}; 1-minute load at the start of each data "
              f"set {min(loads):.2f}-{max(loads):.2f} (two data sets ran at a time, one process each).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=list(SBT_MODELS) + list(PEERS),
                        help="models to (re)run; the part file keeps the other models' runs")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    if args.command == "run":
        PARTS.mkdir(parents=True, exist_ok=True)
        from sbt_sklearn import SBTClassifier

        # warm-up: torch's lazy imports and numba's compilation are not charged to the first data set
        rng = np.random.default_rng(0)
        tiny = [rng.normal(size=(1, 12)) for _ in range(8)]
        SBTClassifier(d=8, d_ff=8, n_layers=1, max_epochs=1).fit(tiny, [0, 1] * 4)
        for kind in PEERS:
            for equal in (True, False):
                _peer(kind, 0, equal).fit(_peer_input(kind, tiny, equal, 12), [0, 1] * 4)
        for name in args.datasets or classification_sets():
            result = run_dataset(name, args.seeds, args.models)
            part = PARTS / f"{name}.json"
            if part.exists():  # keep the runs of the models not rerun
                old = json.loads(part.read_text())
                result["runs"] = [r for r in old["runs"] if r["model"] not in args.models] + result["runs"]
                result["machines"] = old.get("machines", [old.get("machine")]) + [result["machine"]]
            part.write_text(json.dumps(result, indent=1, default=float) + "\n")
        return
    parts = [json.loads(f.read_text()) for f in sorted(PARTS.glob("*.json"))]
    table = _summary(parts)
    write_results("ucr_uea", {"protocol": __doc__, "published_minirocket_source": PUBLISHED_SOURCE,
                              "summary": table, "runs": parts}, _markdown(table, parts))


if __name__ == "__main__":
    main()
