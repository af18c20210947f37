"""Real compression, measured: file sizes for the paper's Table 6 shapes, folded step-T throughput.

For every architecture of the SBT paper's Table 6 (Gorbett et al., KDD 2023) the script fits
the corresponding estimator for one optimisation step on random data of that shape (file sizes
depend on training only through the entropy-coded masks, then near their initial i.i.d. state,
and through how well the float tensors compress: the norm parameters are moved by noise so that
they do not look untrained), plus one SBTForecaster of the ETTm1 shape trained on ETTm1 (when
the data folder is found), and records:

* the bytes of our model file (``save``), split into mask bytes and the rest (metadata, norm
  parameters and scalers after compression, and the safetensors header);
* the bytes of the dense twin's float32 ``state_dict`` saved with safetensors;
* the paper's theoretical size (its Table 6 bits / 8).

Then, for the ETTm1 shape (m = 7, d = 64, 2 layers, p = 0.5) at windows 50 and 200 and batch
sizes 1 and 256, the inference throughput (windows per second, median of repeats, all models
timed interleaved in the same run, one CPU thread) of:

* ``folded_sbt``: the folded SBT network (``export_folded``), step-T fast path;
* ``dense_twin``: the dense FP32 twin with full attention, as the package builds it
  (``SBTLastStepNet(binary=False, p=0, attention="full")``);
* ``folded_dense``: the same dense twin folded into the same plain-torch code (full attention),
  so that only the attention and sparsity choices differ;
* ``sbt_module``: the unfolded SBT network (sparse-binary layers, step-T fast path).

Run ``python benchmarks/compression.py`` (about a minute); results go to
``docs/benchmarks/compression.json`` and ``docs/benchmarks/compression.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, __version__, sliding_windows
from sbt_sklearn.compression import PAPER_TABLE6, fold_network, read_model_bytes
from sbt_sklearn.compression._report import dense_twin
from sbt_sklearn.nn import SBTLastStepNet

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"


def _fit_row(row, n: int = 8, **overrides):
    """An estimator of the row's shape, fitted for one optimisation step on random data
    (``overrides``: other hyperparameters, e.g. ``binary=False, p=0.0`` for the dense twin).

    One step leaves the norm parameters at their initial 1s and 0s, which zlib would compress
    to almost nothing; they are then moved by seeded N(0, 0.1) noise so that they cost what the
    parameters of a trained model cost.
    """
    s = row.sbt
    common = dict(d=s.d, n_heads=s.n_heads, n_layers=s.n_layers, d_ff=s.d_ff, p=round(1 - s.keep, 10),
                  max_epochs=1, batch_size=n, random_state=0)
    common.update(overrides)
    rng = np.random.default_rng(0)
    if s.task == "classification":
        X = rng.normal(size=(n, s.n_channels, s.window)).astype(np.float32)
        est = SBTClassifier(**common).fit(X, np.arange(n) % s.n_outputs)
    elif s.task == "anomaly":
        X = rng.normal(size=(n, s.n_channels, s.window)).astype(np.float32)
        # the paper's architecture (and the default): no rarity tables (see the trained SMAP row for them)
        est = SBTAnomalyDetector(**common, max_windows_per_epoch=None, rarity=None).fit(X)
    else:
        X = rng.normal(size=(n, s.n_channels, s.window - 1)).astype(np.float32)  # + the appended row = w
        # the paper's architecture: no linear base (see the trained ETTm1 rows for the default)
        est = SBTForecaster(**common, linear_base=None).fit(X, rng.normal(size=(n, s.n_channels)))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in est.module_.named_parameters():
            if param.requires_grad and not name.endswith("scores"):
                param.add_(0.1 * torch.randn(param.shape, generator=gen))
    return est


def _trained_ettm1(data_home, linear_base, norm="layer"):
    """An SBTForecaster of the ETTm1 shape trained briefly on ETTm1 itself (None without the data)."""
    from sbt_sklearn.data import load_ett

    try:
        train, _ = load_ett("ETTm1", data_home)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"ETTm1 not found ({exc}); skipping the trained row", flush=True)
        return None
    X, y = sliding_windows(train.to_numpy(np.float32), 199)
    return SBTForecaster(p=0.5, d=64, max_epochs=2, max_windows_per_epoch=2048, linear_base=linear_base,
                         norm=norm, random_state=0).fit(X, y)


def _trained_smap(data_home):
    """An SBTAnomalyDetector of the SMAP shape with rarity tables (rarity="marginal"), trained briefly on SMAP."""
    from sbt_sklearn.data import load_smap_msl

    try:
        train, _, _ = load_smap_msl("SMAP", data_home)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"SMAP not found ({exc}); skipping the trained row", flush=True)
        return None
    X, _ = sliding_windows(np.asarray(train, np.float32), 50, horizon=0)
    return SBTAnomalyDetector(p=0.75, d=50, max_epochs=2, max_windows_per_epoch=2048, rarity="marginal",
                              random_state=0).fit(X)


def _file_row(name, row, est) -> dict:
    blob = est.to_bytes()
    n_header = struct.unpack("<Q", blob[:8])[0]
    meta, tensors = read_model_bytes(blob)
    masks = int(tensors["sbt.masks"].nbytes)
    other = sum(int(v.nbytes) for k, v in tensors.items() if k != "sbt.masks")
    kwargs = est.net_.get_params_for("module")
    paper = row.ours()
    report = est.compression_report().to_dict()
    twin_bytes = report["file_bytes"]["dense"]  # the twin's state_dict file (+ a linear base in float32)
    codings = sorted({"b": "bits", "r": "rice"}[c] for c in set(meta["network"]["sparse_layers"]["coding"]))
    n_mask = report["honest"]["mask_bits"]["sbt"]
    out = {
        "dataset": name, "estimator": type(est).__name__, "m": row.sbt.n_channels, "w": row.sbt.window,
        "d": row.sbt.d, "p": round(1 - row.sbt.keep, 10), "norm": kwargs["norm"],
        "file_bytes": len(blob), "container_header_bytes": 8 + n_header, "mask_bytes": masks,
        "rest_bytes": len(blob) - masks, "other_tensor_raw_bytes": other, "mask_coding": codings,
        "mask_bits_per_weight": 8 * masks / n_mask if n_mask else None,
        "dense_float32_file_bytes": twin_bytes,
        "paper_sbt_bytes": paper["sbt_bits"] / 8, "paper_dense_bytes": paper["dense_bits"] / 8,
        "ratio_dense_file_to_ours": twin_bytes / len(blob),
        "ratio_dense_file_to_masks": twin_bytes / masks if masks else None,
        "ours_minus_paper_bytes": len(blob) - paper["sbt_bits"] / 8,
        "honest_size_bits": report["honest"]["size_bits"]["sbt"],
        "honest_flops": report["honest"]["flops"]["sbt"], "honest_dense_flops": report["honest"]["flops"]["dense"],
        "paper_flops": report["paper"]["flops"]["sbt"], "paper_dense_flops": report["paper"]["flops"]["dense"],
    }
    print(f"{name:20s} file {len(blob):>9,d} B  dense {twin_bytes:>10,d} B  x{twin_bytes / len(blob):6.1f}  "
          f"paper {paper['sbt_bits'] / 8:>9,.0f} B", flush=True)
    return out


def file_sizes(data_home=None) -> list[dict]:
    rows = [_file_row(name, row, _fit_row(row)) for name, row in PAPER_TABLE6.items()]
    for label, base, norm in (("ETTm1 (trained, no base)", None, "layer"),
                              ("ETTm1 (trained, no base, norm=layer_plain)", None, "layer_plain"),
                              ("ETTm1 (trained, default: ridge base)", "ridge", "layer")):
        trained = _trained_ettm1(data_home, base, norm)
        if trained is not None:
            rows.append(_file_row(label, PAPER_TABLE6["ETTm1"], trained))
    trained = _trained_smap(data_home)
    if trained is not None:
        rows.append(_file_row("SMAP (trained, rarity='marginal')", PAPER_TABLE6["SMAP"], trained))
    return rows


def _time(fn, x, repeats: int) -> float:
    times = []
    with torch.inference_mode():
        fn(x)  # warm-up
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    return float(np.median(times))


def throughput(windows=(50, 200), batches=(1, 256), rounds: int = 5) -> list[dict]:
    m, d = 7, 64
    results = []
    for w in windows:
        kwargs = dict(d=d, n_heads=2, n_layers=2, d_ff=256, norm="layer", max_len=w, seed=0)
        sbt = SBTLastStepNet(m, m, p=0.5, attention="step_t", **kwargs).eval()
        dense = dense_twin(sbt, dict(kwargs, p=0.5, attention="step_t")).eval()
        models = {"folded_sbt": fold_network(sbt), "dense_twin": dense, "folded_dense": fold_network(dense),
                  "sbt_module": sbt}
        for b in batches:
            x = torch.randn(b, w, m)
            ref = models["sbt_module"](x)
            assert torch.allclose(models["folded_sbt"](x), ref, atol=1e-5)
            repeats = 30 if b == 1 else 3
            samples = {k: [] for k in models}
            for _ in range(rounds):  # interleave the models so that machine load hits all alike
                for name, model in models.items():
                    samples[name].append(_time(model, x, repeats))
            sec = {k: float(np.median(v)) for k, v in samples.items()}
            row = {"window": w, "batch": b, **{f"{k}_windows_per_s": b / v for k, v in sec.items()}}
            row["speedup_vs_dense_twin"] = sec["dense_twin"] / sec["folded_sbt"]
            row["speedup_vs_folded_dense"] = sec["folded_dense"] / sec["folded_sbt"]
            results.append(row)
            print(f"w={w:4d} batch={b:4d}  folded SBT {b / sec['folded_sbt']:10.1f}/s  dense twin "
                  f"{b / sec['dense_twin']:10.1f}/s  x{row['speedup_vs_dense_twin']:.2f}  (folded dense "
                  f"x{row['speedup_vs_folded_dense']:.2f})", flush=True)
    return results


def to_markdown(result: dict) -> str:
    lines = [
        "# Compression, measured",
        "",
        f"Generated by `benchmarks/compression.py` (sbt_sklearn {result['version']}, torch {result['torch']}, "
        f"{result['threads']} CPU thread(s), {result['machine']}; load average at the start "
        f"{', '.join(f'{v:.2f}' for v in result.get('load_average_1_5_15', []))}).",
        "",
        "## Model files for the paper's Table 6 shapes",
        "",
        "Our file (`save`, format version 3): a safetensors container (header: format, version, SHA-256) "
        "around one zlib stream (preset dictionary) holding the JSON metadata, the packed or Rice-coded masks "
        "and the float "
        "tensors (norm parameters, scalers). `rest` = file - masks: everything that is not a mask, after "
        "compression, of which `container` is the safetensors header. Models of the 11 shapes are fitted "
        "for one step on random data (forecasters without the linear base and anomaly detectors without "
        "the rarity tables, as the paper's architecture), "
        "their norm parameters then moved by N(0, 0.1) noise so that they do not compress better than "
        "trained ones; the `ETTm1 (trained ...)` rows are trained on ETTm1 itself, without and with the "
        "default linear base (199 lags x 7 x 7 float16 coefficients, charged to the dense twin's file too), and "
        "once with `norm='layer_plain'` (layer norm without gain and bias: no float norm parameters); the "
        "`SMAP (trained ...)` row is a detector trained briefly on SMAP with `rarity='marginal'` tables (float16 "
        "histogram edges of its one continuous channel, float32 tail knots; charged to the dense file too). "
        "Dense: the FP32 twin's `state_dict` saved with safetensors. Paper: the paper's theoretical SBT size "
        "(Table 6 bits / 8). `dense / masks` is the ratio a file holding nothing but the masks would "
        "reach: 32 x the dense twin's extra bytes at p = 0.5, the bound for any file of this model. "
        "Forecasting models here normalise over d (LayerNorm(d), FP32 gains and biases, stored), the "
        "paper's over the window (a pruned FP32 gain, charged 1 bit per element).",
        "",
        "| dataset | m | w | d | p | our file (B) | masks (B) | bits/weight | rest (B) | container (B) | "
        "dense float32 file (B) | dense / ours | dense / masks | paper SBT (B) | ours - paper (B) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["files"]:
        lines.append(
            f"| {r['dataset']} | {r['m']} | {r['w']} | {r['d']} | {r['p']} | {r['file_bytes']:,} | "
            f"{r['mask_bytes']:,} | {r['mask_bits_per_weight']:.3f} | {r['rest_bytes']:,} | "
            f"{r['container_header_bytes']:,} | {r['dense_float32_file_bytes']:,} | "
            f"{r['ratio_dense_file_to_ours']:.1f} | {r['ratio_dense_file_to_masks']:.1f} | "
            f"{r['paper_sbt_bytes']:,.0f} | {r['ours_minus_paper_bytes']:+,.0f} |"
        )
    lines += [
        "",
        "## Inference throughput, ETTm1 shape (m=7, d=64, 2 layers, d_ff=256, p=0.5)",
        "",
        "Windows per second, median over interleaved rounds in the same run. `folded SBT`: step-T fast path, "
        "folded weights. `dense twin`: FP32, full attention, as the package builds it. `folded dense`: the "
        "dense twin through the same plain-torch code (full attention). `SBT module`: unfolded, step-T.",
        "",
        "| window | batch | folded SBT | dense twin | folded dense | SBT module | folded SBT / dense twin | "
        "folded SBT / folded dense |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["throughput"]:
        lines.append(
            f"| {r['window']} | {r['batch']} | {r['folded_sbt_windows_per_s']:,.0f} | "
            f"{r['dense_twin_windows_per_s']:,.0f} | {r['folded_dense_windows_per_s']:,.0f} | "
            f"{r['sbt_module_windows_per_s']:,.0f} | {r['speedup_vs_dense_twin']:.2f}x | "
            f"{r['speedup_vs_folded_dense']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--data-home", default=None, help="data folder (default: $SBT_DATA_HOME)")
    parser.add_argument("--files-only", action="store_true", help="skip the throughput measurement")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    result = {
        "version": __version__, "torch": torch.__version__, "numpy": np.__version__, "threads": args.threads,
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}",
        "load_average_1_5_15": list(os.getloadavg()),
        "files": file_sizes(args.data_home), "throughput": [] if args.files_only else throughput(),
    }
    previous = args.out / "compression.json"
    if args.files_only and previous.exists():  # keep the last throughput measurement (and its load)
        old = json.loads(previous.read_text())
        result["throughput"] = old.get("throughput", [])
        result["load_average_1_5_15"] = old.get("load_average_1_5_15", result["load_average_1_5_15"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compression.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "compression.md").write_text(to_markdown(result))
    return result


if __name__ == "__main__":
    main()
