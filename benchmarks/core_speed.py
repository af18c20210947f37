"""Training-step speed of the SBT torch core against its dense twin, and of the step-T fast path.

Forward + backward (+ Adam step) time of one training batch, medians over interleaved repeats:

* SBT (p=0.5, sign-binary) against the dense FP32 twin (binary=False, p=0) with the same attention,
  at the paper's shapes: ETTm1-like forecasting (7 channels, w=200, d=64, step-T attention, layer norm)
  and JapaneseVowels-like classification (12 channels, w=29, d=32, Q/K/V masks, batch norm).
* The step-T fast path (one real query, final layer for the last step only) against the same encoder
  computed with the explicit (w x w) step-T mask at every step, at w=200.

Targets (issue 2): SBT step <= 1.25x the dense twin; fast path >= 2.5x faster than masked full attention.

Run: ``python benchmarks/core_speed.py [--repeats 30] [--threads 2]``.
"""

from __future__ import annotations

import argparse

import torch
from _common import interleaved_medians, machine, write_results

from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet, SparseMultiheadAttention

SHAPES = {
    "ETTm1-like": dict(net=SBTLastStepNet, m=7, w=200, d=64, out=7, batch=128, attention="step_t", norm="layer"),
    "JapaneseVowels-like": dict(net=SBTClassificationNet, m=12, w=29, d=32, out=9, batch=32,
                                attention="qkv_mask", norm="batch"),
}


def _model(shape, **kw):
    return shape["net"](shape["m"], shape["out"], d=shape["d"], attention=shape["attention"], norm=shape["norm"],
                        max_len=shape["w"], seed=0, **kw)


def _step(model, x, target, loss_fn, forward=None):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def run():
        opt.zero_grad(set_to_none=True)
        out = forward(x) if forward else model(x)
        loss_fn(out, target).backward()
        opt.step()

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    results = {"machine": machine(), "repeats": args.repeats, "rows": []}

    for name, s in SHAPES.items():
        x = torch.randn(s["batch"], s["w"], s["m"], generator=g)
        if s["net"] is SBTClassificationNet:
            target, loss_fn = torch.randint(0, s["out"], (s["batch"],), generator=g), torch.nn.functional.cross_entropy
        else:
            target, loss_fn = torch.randn(s["batch"], s["out"], generator=g), torch.nn.functional.mse_loss
        sbt, dense = _model(s, p=0.5), _model(s, p=0.0, binary=False)
        fns = {"sbt": _step(sbt, x, target, loss_fn), "dense": _step(dense, x, target, loss_fn)}
        if s["attention"] == "step_t":
            masked = _model(s, p=0.5)
            for m in masked.modules():
                if isinstance(m, SparseMultiheadAttention):
                    m.fast_step_t = False
            fns["sbt_masked_full"] = _step(masked, x, target, loss_fn,
                                           forward=lambda inp, net=masked: net.decoder(net.encoder(inp)[:, -1]))
        t = interleaved_medians(fns, args.repeats)
        row = {"shape": name, **{k: v for k, v in s.items() if k != "net"}, "times": t,
               "sbt_over_dense": t["sbt"]["median_s"] / t["dense"]["median_s"]}
        if "sbt_masked_full" in t:
            row["fast_path_speedup"] = t["sbt_masked_full"]["median_s"] / t["sbt"]["median_s"]
        results["rows"].append(row)

    lines = [
        "# Core training-step speed: SBT vs dense twin, step-T fast path vs masked full attention",
        "",
        f"Machine: {results['machine']['cpu']} ({results['machine']['cpu_count']} cores), torch "
        f"{results['machine']['torch']}, {args.threads} thread(s), load average at start "
        f"{results['machine']['load_average_1min_at_start']}. Median of {args.repeats} interleaved repeats of one "
        "training step (forward, backward, Adam).",
        "",
        "| shape | batch | SBT p=0.5 (ms) | dense twin (ms) | SBT / dense (target <= 1.25) | masked full step-T (ms) "
        "| fast-path speed-up (target >= 2.5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        t = r["times"]
        masked = f"{1e3 * t['sbt_masked_full']['median_s']:.1f}" if "sbt_masked_full" in t else "-"
        speed = f"{r['fast_path_speedup']:.2f}x" if "fast_path_speedup" in r else "-"
        lines.append(f"| {r['shape']} (m={r['m']}, w={r['w']}, d={r['d']}, {r['attention']}) | {r['batch']} | "
                     f"{1e3 * t['sbt']['median_s']:.1f} | {1e3 * t['dense']['median_s']:.1f} | "
                     f"{r['sbt_over_dense']:.2f}x | {masked} | {speed} |")
    lines.append("")
    write_results(f"core_speed_threads{args.threads}", results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
