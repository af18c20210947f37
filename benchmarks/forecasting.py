"""Single-step forecasting accuracy on ETTm1 and Weather (SBT paper, Table 4), side by side.

In one run, on the same machine, for each dataset: SBT p=0.5, SBT p=0.75, the dense FP32 twin
(same structure, ``binary=False, p=0``), persistence (the last observed value) and Ridge on the
flattened last L lags (L and alpha chosen on a validation tail of train). Protocol (see
``../shared/data/README.md``): the paper's date splits, every column standardised with train
statistics, windows of 200 rows of which the last one is predicted (199 observed rows of
context), every test row predicted, MSE and MAE on the standardised scale.

Writes ``docs/benchmarks/forecasting.json`` and ``docs/benchmarks/forecasting.md``.

Usage::

    SBT_DATA_HOME=/path/to/data python benchmarks/forecasting.py            # full run
    SBT_DATA_HOME=/path/to/data python benchmarks/forecasting.py --quick    # smoke run

The data folder comes from ``--data-home`` or the environment variable ``SBT_DATA_HOME``.
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
import torch

from sbt_sklearn import SBTForecaster, sliding_windows
from sbt_sklearn.data import load_ett, load_weather

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 200  # rows per window, the last one is predicted (paper's w)
CONTEXT = WINDOW - 1
PAPER = {  # Table 4 (MSE, MAE)
    "ETTm1": {"dense (paper)": (0.070, 0.201), "SBT p=0.5 (paper)": (0.059, 0.171)},
    "Weather": {"dense (paper)": (0.173, 0.225), "SBT p=0.5 (paper)": (0.166, 0.216)},
}
RIDGE_LAGS = (1, 2, 4, 8, 12, 24, 48, 96, 144, CONTEXT)
RIDGE_ALPHAS = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4)


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": np.__version__,
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def load(name: str, data_home):
    train, test = load_ett("ETTm1", data_home) if name == "ETTm1" else load_weather(data_home)
    mean, std = train.mean().to_numpy(), train.std(ddof=0).to_numpy()
    std = np.where(std > 0, std, 1.0)
    tr = ((train.to_numpy() - mean) / std).astype(np.float32)
    te = ((test.to_numpy() - mean) / std).astype(np.float32)
    # every test row is a target; its context may reach back into train (the boundary row is
    # in both parts, as in the paper's row counts, so it is taken once)
    te_series = np.concatenate([tr[-(CONTEXT + 1):-1], te])
    return tr, te_series


def metrics(y, pred) -> dict:
    err = np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return {"mse": float(np.mean(err**2)), "mae": float(np.mean(np.abs(err)))}


# -- baselines ---------------------------------------------------------------------------------
def lag_features(series: np.ndarray, n_lags: int, start: int, stop: int) -> np.ndarray:
    """Rows [x_{t-1}, ..., x_{t-n_lags}] (most recent first) for targets t in [start, stop)."""
    return np.concatenate([series[start - k : stop - k] for k in range(1, n_lags + 1)], axis=1)


def _gram(series, n_lags, start, stop, chunk=4096):
    """Sums for ridge with an intercept: n, sum of x, X^T X, sum of y, X^T y (float64)."""
    c = series.shape[1]
    p = n_lags * c
    xtx, xty = np.zeros((p, p)), np.zeros((p, c))
    sx, sy, n = np.zeros(p), np.zeros(c), 0
    for a in range(start, stop, chunk):
        b = min(stop, a + chunk)
        x = lag_features(series, n_lags, a, b).astype(np.float64)
        yv = series[a:b].astype(np.float64)
        xtx += x.T @ x
        xty += x.T @ yv
        sx += x.sum(0)
        sy += yv.sum(0)
        n += b - a
    return n, sx, xtx, sy, xty


def _solve(stats, n_lags, c, alpha):
    n, sx, xtx, sy, xty = stats
    p = n_lags * c
    mx, my = sx[:p] / n, sy / n
    cov = xtx[:p, :p] - n * np.outer(mx, mx)
    cxy = xty[:p] - n * np.outer(mx, my)
    coef = np.linalg.solve(cov + alpha * np.eye(p), cxy)
    return coef, my - mx @ coef


def _ridge_predict(series, n_lags, start, stop, coef, intercept):
    return lag_features(series, n_lags, start, stop) @ coef + intercept


def ridge(train: np.ndarray, test_series: np.ndarray) -> dict:
    """Ridge on the last L lags; L and alpha chosen on the last 10 % of the train windows."""
    c = train.shape[1]
    n_win = len(train) - CONTEXT
    n_val = int(0.1 * n_win)
    # training targets in [CONTEXT, val_start - CONTEXT): no training window overlaps validation
    val_start = len(train) - n_val
    t0 = time.perf_counter()
    stats = _gram(train, CONTEXT, CONTEXT, val_start - CONTEXT)
    best = None
    for n_lags in RIDGE_LAGS:
        for alpha in RIDGE_ALPHAS:
            coef, icpt = _solve(stats, n_lags, c, alpha)
            m = metrics(train[val_start:], _ridge_predict(train, n_lags, val_start, len(train), coef, icpt))
            if best is None or m["mse"] < best[0]:
                best = (m["mse"], n_lags, alpha)
    _, n_lags, alpha = best
    coef, icpt = _solve(_gram(train, n_lags, CONTEXT, len(train)), n_lags, c, alpha)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = _ridge_predict(test_series, n_lags, CONTEXT, len(test_series), coef, icpt)
    pred_s = time.perf_counter() - t0
    return {**metrics(test_series[CONTEXT:], pred), "fit_s": fit_s, "predict_s": pred_s,
            "lags": n_lags, "alpha": alpha, "valid_mse": best[0]}


def persistence(test_series: np.ndarray) -> dict:
    t0 = time.perf_counter()
    pred = test_series[CONTEXT - 1 : -1]
    return {**metrics(test_series[CONTEXT:], pred), "fit_s": 0.0, "predict_s": time.perf_counter() - t0}


# -- SBT ---------------------------------------------------------------------------------------
def neural(train, test_series, params: dict, seed: int) -> dict:
    X, y = sliding_windows(train, CONTEXT)
    Xt, yt = sliding_windows(test_series, CONTEXT)
    model = SBTForecaster(**params, random_state=seed)
    t0 = time.perf_counter()
    model.fit(X, y)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(Xt)
    pred_s = time.perf_counter() - t0
    out = {**metrics(yt, pred), "fit_s": fit_s, "predict_s": pred_s, "epochs": model.n_epochs_,
           "train_loss": float(model.history_[-1, "train_loss"]), "base_lags": model.base_lags_,
           "base_alpha": model.base_alpha_}
    if model.base_lags_:  # the linear base alone (the network output left out), to see what the SBT adds
        std = (np.asarray(Xt, dtype=np.float32).transpose(0, 2, 1) - model.scaler_mean_) / model.scaler_scale_
        std = torch.from_numpy(np.ascontiguousarray(std, dtype=np.float32))
        base = model._base_forecast(std).numpy() + (std[:, -1].numpy() if model.target != "value" else 0)
        out["base_only"] = metrics(yt, base * model.scaler_scale_ + model.scaler_mean_)
    if "valid_loss" in model.history_[-1]:
        out["valid_loss_best"] = float(min(h["valid_loss"] for h in model.history_))
    return out


def model_grid(common: dict) -> dict:
    return {
        "SBT p=0.5": dict(common, p=0.5),
        "SBT p=0.75": dict(common, p=0.75),
        "dense twin": dict(common, p=0.0, binary=False),
    }


def to_markdown(result: dict) -> str:
    info = result["machine"]
    lines = [
        "# Single-step forecasting: SBT vs dense twin, persistence and Ridge",
        "",
        f"Machine: {info['platform']}, {info['cpu_count']} CPUs, torch {info['torch']} "
        f"({info['torch_threads']} threads). Protocol: paper date splits, window {WINDOW} "
        f"({CONTEXT} observed rows + the predicted row), every test row predicted, metrics on the "
        f"standardised scale. Neural models: median (min-max) over the seeds run "
        f"(ETTm1 and Weather may differ: see the JSON), {result['seeds']}; "
        f"settings `{result['sbt_params']}`."
        + (f" Load average at the start (1, 5, 15 min): {info['load_average_1_5_15']}: the 2 cores "
           f"were shared with other jobs, so times are upper bounds." if info.get("load_average_1_5_15") else ""),
        "",
        "| dataset | model | MSE | MAE | fit s | predict s | notes |",
        "|---|---|---|---|---|---|---|",
    ]
    for ds, rows in result["datasets"].items():
        for name, r in rows.items():
            if "runs" in r:
                seeds_note = f"{len(r['runs'])} seed(s), "

                def cell(key, fmt, r=r):
                    vals = [run[key] for run in r["runs"]]
                    return f"{fmt.format(np.median(vals))} ({fmt.format(min(vals))}-{fmt.format(max(vals))})"
                base = r["runs"][0].get("base_lags")
                base_note = f", linear base L={base}" if base else ""
                lines.append(f"| {ds} | {name} | {cell('mse', '{:.4f}')} | {cell('mae', '{:.4f}')} | "
                             f"{np.median([x['fit_s'] for x in r['runs']]):.0f} | "
                             f"{np.median([x['predict_s'] for x in r['runs']]):.1f} | "
                             f"{seeds_note}epochs {r['runs'][0]['epochs']}{base_note} |")
                if name == "SBT p=0.5" and "base_only" in r["runs"][0]:  # what the SBT adds to its base
                    only = [x["base_only"] for x in r["runs"]]
                    lines.append(f"| {ds} | its linear base alone | {np.median([o['mse'] for o in only]):.4f} | "
                                 f"{np.median([o['mae'] for o in only]):.4f} | | | the SBT p=0.5 models' ridge "
                                 f"(L={base}, alpha={r['runs'][0]['base_alpha']:g}), network output left out |")
            elif "paper" in r:
                lines.append(f"| {ds} | {name} | {r['mse']:.3f} | {r['mae']:.3f} | | | paper Table 4 |")
            else:
                note = f"L={r['lags']}, alpha={r['alpha']:g}" if "lags" in r else ""
                lines.append(f"| {ds} | {name} | {r['mse']:.4f} | {r['mae']:.4f} | {r['fit_s']:.1f} | "
                             f"{r['predict_s']:.2f} | {note} |")
    if info.get("note"):
        lines += ["", f"Note: {info['note']}"]
    if result.get("note"):
        lines += ["", f"Note: {result['note']}"]
    lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--datasets", nargs="+", default=["ETTm1", "Weather"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=None, help="subset of the neural models")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--params", default="{}", help="JSON overrides of SBTForecaster parameters")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, results not written")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "forecasting"))
    parser.add_argument("--render", action="store_true", help="only rewrite the markdown from the JSON")
    parser.add_argument("--merge", action="store_true",
                        help="add this run's seeds to the neural models' runs already in the JSON")
    args = parser.parse_args(argv)
    if args.render:
        out = Path(args.out)
        out.with_suffix(".md").write_text(to_markdown(json.loads(out.with_suffix(".json").read_text())))
        return
    torch.set_num_threads(args.threads)

    common = dict(d=64, d_ff=256, max_epochs=10, max_windows_per_epoch=8192)
    common.update(json.loads(args.params))
    if args.quick:
        common.update(max_epochs=1, max_windows_per_epoch=256, d=16, d_ff=32)
        args.seeds = args.seeds[:1]
    grid = model_grid(common)
    if args.models:
        grid = {k: v for k, v in grid.items() if k in args.models}

    result = {"machine": machine_info(), "seeds": args.seeds, "sbt_params": common, "window": WINDOW,
              "datasets": {}}
    for name in args.datasets:
        train, test_series = load(name, args.data_home)
        rows = {}
        rows["persistence"] = persistence(test_series)
        rows["Ridge"] = ridge(train, test_series)
        print(name, "persistence", rows["persistence"], "\n", name, "Ridge", rows["Ridge"], flush=True)
        for model, params in grid.items():
            runs = []
            for seed in args.seeds:
                runs.append(neural(train, test_series, params, seed))
                print(name, model, seed, runs[-1], flush=True)
            rows[model] = {"runs": runs, "mse_median": float(np.median([r["mse"] for r in runs])),
                           "mae_median": float(np.median([r["mae"] for r in runs]))}
        for label, (mse, mae) in PAPER[name].items():
            rows[label] = {"mse": mse, "mae": mae, "paper": True}
        result["datasets"][name] = rows
        previous = Path(args.out).with_suffix(".json")
        if args.merge and previous.exists():
            old = json.loads(previous.read_text())
            for model, r in rows.items():
                before = old["datasets"].get(name, {}).get(model, {})
                if "runs" in r and "runs" in before:
                    r["runs"] = before["runs"] + r["runs"]
                    r["mse_median"] = float(np.median([x["mse"] for x in r["runs"]]))
                    r["mae_median"] = float(np.median([x["mae"] for x in r["runs"]]))
            before_rows = old["datasets"].get(name, {})
            merged = {m: rows.get(m, r) for m, r in before_rows.items()}  # keep models not rerun
            merged.update({m: r for m, r in rows.items() if m not in merged})
            rows.clear()
            rows.update(merged)
            for other, other_rows in old["datasets"].items():
                result["datasets"].setdefault(other, other_rows)
            result["seeds"] = sorted(set(old["seeds"]) | set(args.seeds))
            result["merged_runs"] = old.get("merged_runs", [old["machine"]]) + [result["machine"]]
        if not args.quick:  # write after every dataset so a long run leaves partial results
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".json").write_text(json.dumps(result, indent=2))
            out.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
