"""Peer forecasters (neuralforecast's DLinear and PatchTST) on the long-horizon ETT protocol.

Runs each peer from its own package under exactly the protocol of ``_long_horizon_data``
(look-back 336, horizons 96/192/336/720, standardised scale, every column a channel) and
writes ``docs/benchmarks/long_horizon/peers_<dataset>.json`` after each fit (partial results survive).

Both peers are channel-independent: each of the 7 columns is its own univariate series in
neuralforecast.  Training uses the protocol's training rows (neuralforecast's own window
sampler over them); early stopping, where used, monitors the protocol's validation windows
(neuralforecast's ``val_size`` = the validation block, whose windows take their look-back from
the training rows, like ``windows(data, "val", ...)``).  The scaler is ``identity`` (the
package default for both models), so the data stays on the protocol's scale; PatchTST's RevIN
lives inside its network.  Test forecasts come from calling the fitted network directly on
batches of the protocol's test windows (each channel a univariate window); a few windows are
checked against ``NeuralForecast.predict`` on the series cut at the window's end.

This script needs its own environment (neuralforecast + a CPU torch), not the project's:

    python3 -m venv /work/peers-venv
    /work/peers-venv/bin/pip install torch==2.13.0
    /work/peers-venv/bin/pip install neuralforecast -c <(echo torch==2.13.0)
    /work/peers-venv/bin/pip install -e /work/main --no-deps
    SBT_DATA_HOME=/work/shared/data /work/peers-venv/bin/python benchmarks/long_horizon_peers.py

Options: ``--datasets ETTh1 ETTh2 ETTm1``, ``--horizons 96 192 336 720``, ``--models DLinear
PatchTST``, ``--out DIR``, ``--time-one`` (time one short fit of each model and exit),
``--stride K`` or ``--stride ETTm1=4`` (evaluate every K-th test window, starting at window 0;
default 1 = all).  The recorded run did ETTh1 (all datasets requested, stopped after ETTh1), then
``--datasets ETTh2 ETTm1 --stride ETTm1=8`` (on 2 shared cores, all ETTm1 test windows did not
fit the time box).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

LOOKBACK = 336
SEED = 0
THREADS = 1

#: training budget per model.  One training step = one batch of ``windows_batch_size``
#: univariate windows sampled from the 7 channels' training windows (neuralforecast's sampler).
BUDGET = {
    "DLinear": dict(
        max_steps=1500,
        windows_batch_size=1024,
        val_check_steps=100,
        early_stop_patience_steps=3,
        learning_rate=1e-4,
    ),
    "PatchTST": dict(
        max_steps=160,
        windows_batch_size=256,
        val_check_steps=100,
        early_stop_patience_steps=-1,
        learning_rate=1e-4,
    ),
}


NOTES = [
    "Training: NeuralForecast.fit with the package's own Lightning loop, sampler, loss and Adam "
    "(lr 1e-4, no decay); each step samples windows_batch_size univariate windows from the 7 "
    "channels' training windows. Only _create_windows(step='train') is replaced by a lazy "
    "equivalent that draws bit-identical batches (checked: identical weights after 20 DLinear / 3 "
    "PatchTST steps) without re-materialising every window each step.",
    "As in the package, training windows include those whose targets run past the training rows "
    "(zero-padded, masked out of the loss); no validation or test row is ever used for training.",
    "Loss MSE (the papers' training loss) instead of the package default MAE; architectures are "
    "the package defaults (PatchTST: 3 layers, 16 heads, hidden 128, ff 256, patch 16, stride 8, "
    "RevIN; DLinear: moving average 25), scaler_type identity (package default).",
    "DLinear: early stopping on the protocol's validation windows, but the weights used are the "
    "last step's (neuralforecast does not restore the best checkpoint). PatchTST: fixed step "
    "budget, no validation (a validation pass over all val windows costs ~30 s on ETTh, ~2 min on "
    "ETTm1 with 1 thread).",
    "Test: the fitted network called directly on every test window (stride 1) of "
    "_long_horizon_data.windows(data, 'test', 336, H), each channel as its own univariate window; "
    "checked against NeuralForecast.predict on the first and last test windows "
    "(direct_vs_predict_max_abs_diff).",
]


def _quiet():
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _frame(series: np.ndarray, columns, rows: int):
    """Long DataFrame (unique_id, ds, y) of the first ``rows`` rows, one series per column."""
    import pandas as pd

    n, c = series[:rows].shape
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(columns, dtype=object), n),
            "ds": np.tile(np.arange(n, dtype=np.int64), c),
            "y": series[:rows].T.reshape(-1).astype(np.float64),
        }
    )


class _LazyTrainWindows:
    """The training windows of neuralforecast's ``_create_windows(step="train")``, gathered on demand.

    neuralforecast materialises every training window of every series at every step (a
    permute + flatten copy of n_series x n_windows x (L + h) x C values, then sums over it for
    the availability filter) and only then samples ``windows_batch_size`` of them: measured
    0.28 s of a 0.43 s DLinear step on ETTh1 (H=720), about 4 times more on ETTm1.  This view
    indexes the same flattened order ``[series, window start]`` lazily, so the package's own
    sampler (``torch.randperm`` over the same number of valid windows) draws exactly the same
    batches; the rest of the training step (normalisation, loss, mask, optimiser) is the package's.
    """

    def __init__(self, unfolded):
        self.unfolded = unfolded  # view [n_series, C, Ws, L + h]
        self.device = unfolded.device
        self.n_windows = unfolded.shape[2]

    def __getitem__(self, flat_idx):
        s, t = flat_idx // self.n_windows, flat_idx % self.n_windows
        w = self.unfolded[s, :, t, :]  # [k, C, L + h]
        return w.permute(0, 2, 1).unsqueeze(-1).contiguous()  # [k, L + h, C, 1]


def _fast_train_windows(self, batch, step):
    import torch

    if step != "train" or self.MULTIVARIATE or "sample_weight" in batch["temporal_cols"]:
        return super(type(self), self)._create_windows(batch, step)
    temporal_cols = batch["temporal_cols"]
    temporal = batch["temporal"]
    if self.val_size + self.test_size > 0:
        temporal = temporal[:, :, : -self.val_size - self.test_size]
    temporal = self.padder_train(temporal)
    window_size = self.input_size + self.h
    if temporal.shape[-1] < window_size:
        raise Exception("Time series is too short for training")
    unfolded = temporal.unfold(dimension=-1, size=window_size, step=self.step_size)
    # the package's availability filter, from cumulative sums of the available mask
    avail = temporal[:, temporal_cols.get_loc("available_mask"), :].to(torch.float64)
    cs = torch.nn.functional.pad(avail.cumsum(-1), (1, 0))
    starts = torch.arange(unfolded.shape[2]) * self.step_size
    ins = cs[:, starts + self.input_size] - cs[:, starts]
    outs = cs[:, starts + window_size] - cs[:, starts + self.input_size]
    min_in = max(1, int(self.input_size * self.min_insample_fraction * self.n_series))
    min_out = max(1, int(self.h * self.min_outsample_fraction * self.n_series))
    ok = (ins >= min_in) & (outs >= min_out) if self.h > 0 else ins >= min_in
    final_condition = torch.nonzero(ok.reshape(-1)).squeeze(-1)
    if batch.get("static", None) is not None:
        raise NotImplementedError("static features are not used here")
    return _LazyTrainWindows(unfolded), None, None, final_condition, None, temporal_cols


def _make_model(name: str, horizon: int, budget: dict, fast_windows: bool = True):
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import DLinear, PatchTST

    base = {"DLinear": DLinear, "PatchTST": PatchTST}[name]
    cls = type(name, (base,), {"_create_windows": _fast_train_windows}) if fast_windows else base
    return cls(
        h=horizon,
        input_size=LOOKBACK,
        loss=MSE(),
        valid_loss=MSE(),
        scaler_type="identity",
        random_seed=SEED,
        batch_size=32,  # series per batch: all 7 channels in every step
        inference_windows_batch_size=1024,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **budget,
    )


def _direct_predict(model, X: np.ndarray, batch: int = 512) -> np.ndarray:
    """Forecasts (n, C, H) of the fitted network on windows X (n, C, L), channel by channel."""
    import torch

    net = model
    net.eval()
    n, c, L = X.shape
    out = np.empty((n, c, model.h), dtype=np.float32)
    with torch.no_grad():
        for s in range(0, n, batch):
            xb = np.ascontiguousarray(X[s : s + batch], dtype=np.float32)
            b = len(xb)
            x = torch.from_numpy(xb.reshape(b * c, L, 1))
            wb = dict(insample_y=x, insample_mask=torch.ones_like(x), futr_exog=None, hist_exog=None, stat_exog=None)
            y = net.loss.domain_map(net(wb))  # (b*c, H, 1); identity scaler: nothing to invert
            out[s : s + b] = y.reshape(b, c, model.h).numpy()
    return out


def _check_against_predict(nf, data, columns, pairs) -> float:
    """Max |direct - NeuralForecast.predict| over (test window i, direct forecast (C, H)) pairs;
    test window i ends at row b2 + i, so predict gets the series cut there."""
    b2 = data["borders"][1]
    worst = 0.0
    for i, direct in pairs:
        fc = nf.predict(df=_frame(data["series"], columns, b2 + i))
        name = [col for col in fc.columns if col not in ("unique_id", "ds")][0]
        ref = np.stack([fc.loc[fc["unique_id"] == col, name].to_numpy() for col in columns])
        worst = max(worst, float(np.abs(ref - direct).max()))
    return worst


def run_one(name, data, columns, horizon, stride, dname):
    import neuralforecast
    import pytorch_lightning
    import torch
    from _long_horizon_data import scores, windows
    from neuralforecast import NeuralForecast

    budget = dict(BUDGET[name])
    b1, b2, _ = data["borders"]
    use_val = budget["early_stop_patience_steps"] > 0
    if use_val:
        df, val_size = _frame(data["series"], columns, b2), b2 - b1
    else:
        df, val_size = _frame(data["series"], columns, b1), 0
    model = _make_model(name, horizon, budget)
    nf = NeuralForecast(models=[model], freq=1)
    t0 = time.perf_counter()
    nf.fit(df=df, val_size=val_size)
    fit_s = time.perf_counter() - t0
    fitted = nf.models[0]
    steps_done = len(fitted.train_trajectories)
    stopped_early = steps_done < budget["max_steps"]
    val_curve = [(int(s), float(v)) for s, v in fitted.valid_trajectories]
    best_val = min(val_curve, key=lambda sv: sv[1]) if val_curve else None

    X, y = windows(data, "test", LOOKBACK, horizon)
    Xs, ys = X[::stride], y[::stride]
    t0 = time.perf_counter()
    pred = _direct_predict(fitted, Xs)
    predict_s = time.perf_counter() - t0
    mse, mae = scores(pred, ys)

    # direct network calls == the package's own predict, on the first and last evaluated windows
    n = len(Xs)
    check = _check_against_predict(nf, data, columns, [(0, pred[0]), ((n - 1) * stride, pred[n - 1])])

    return {
        "model": name,
        "package": "neuralforecast",
        "package_version": neuralforecast.__version__,
        "torch_version": torch.__version__,
        "pytorch_lightning_version": pytorch_lightning.__version__,
        "dataset": dname,
        "lookback": LOOKBACK,
        "horizon": horizon,
        "mse": mse,
        "mae": mae,
        "fit_s": round(fit_s, 2),
        "predict_s": round(predict_s, 2),
        "n_test_windows": int(n),
        "test_start": 0,
        "test_stride": stride,
        "n_test_windows_total": int(len(X)),
        "budget": {
            **budget,
            "series_batch_size": 32,
            "loss": "MSE",
            "scaler_type": "identity",
            "early_stopping": use_val,
            "early_stopping_monitor": "ptl/val_loss (MSE on the protocol's val windows)" if use_val else None,
            "steps_done": steps_done,
            "stopped_early": bool(stopped_early) if use_val else False,
            "val_curve": val_curve,
            "best_val_step_mse": best_val,
            "weights_used": "last step (neuralforecast does not restore the best validation checkpoint)",
        },
        "direct_vs_predict_max_abs_diff": check,
        "threads": torch.get_num_threads(),
        "seed": SEED,
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["ETTh1", "ETTh2", "ETTm1"])
    p.add_argument("--horizons", nargs="+", type=int, default=[96, 192, 336, 720])
    p.add_argument("--models", nargs="+", default=["DLinear", "PatchTST"])
    p.add_argument(
        "--stride",
        nargs="+",
        default=["1"],
        help="evaluate every K-th test window from window 0: K for all datasets, or NAME=K per dataset",
    )
    p.add_argument("--out", default=str(HERE.parent / "docs" / "benchmarks" / "long_horizon"))
    p.add_argument("--time-one", action="store_true", help="time 20 steps of each model on ETTh1 H=720 and exit")
    args = p.parse_args(argv)

    os.environ.setdefault("SBT_DATA_HOME", "/work/shared/data")
    import torch

    torch.set_num_threads(THREADS)
    _quiet()
    from _long_horizon_data import load_splits

    if args.time_one:
        data = load_splits("ETTh1")
        for name in args.models:
            BUDGET[name] = dict(BUDGET[name], max_steps=20, early_stop_patience_steps=-1)
            row = run_one(name, data, data["columns"], 720, 1, "ETTh1")
            print(json.dumps(row, indent=1), flush=True)
        return

    strides = {}
    for item in args.stride:
        name, _, k = item.rpartition("=")
        strides[name or "*"] = int(k)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for dname in args.datasets:
        data = load_splits(dname)
        load = os.getloadavg()
        rows = []
        # model by model (cheap DLinear first), so a cut-short run still has whole model rows
        for name in args.models:
            for horizon in args.horizons:
                load_at_start = [round(v, 2) for v in os.getloadavg()]
                t0 = time.time()
                stride = strides.get(dname, strides.get("*", 1))
                row = run_one(name, data, data["columns"], horizon, stride, dname)
                row["loadavg_at_start"] = load_at_start
                row["started_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0))
                rows.append(row)
                print(
                    f"{dname} H={horizon} {name}: mse={row['mse']:.4f} mae={row['mae']:.4f} "
                    f"fit={row['fit_s']}s predict={row['predict_s']}s steps={row['budget']['steps_done']} "
                    f"check={row['direct_vs_predict_max_abs_diff']}",
                    flush=True,
                )
                doc = {
                    "dataset": dname,
                    "protocol": "benchmarks/_long_horizon_data.py (look-back 336, standardised); test windows: "
                    "windows(data, 'test', 336, H)[start::stride], see each row's test_start / test_stride",
                    "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                "loadavg_at_dataset_start": list(load)},
                    "budget": BUDGET,
                    "notes": NOTES,
                    "rows": rows,
                }
                (out / f"peers_{dname}.json").write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
