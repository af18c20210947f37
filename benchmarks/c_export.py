"""The generated C on a Cortex-M4 and on the host: flash, RAM, instructions, latency, agreement.

For the SBT paper's Table 6 shapes (fitted one step on random data, norm parameters moved by
seeded noise, as in ``benchmarks/compression.py``), ETTm1 forecasters trained briefly on ETTm1 (the
paper's shape with ``linear_base=None`` and the default), a JapaneseVowels classifier and a SMAP
detector (``rarity=None``: the C export does not cover the rarity tables), each with its dense FP32
twin through the same generator (float weights), the script

* cross-compiles the generated ``.c`` for a Cortex-M4 (``arm-none-eabi-gcc``, the tests' flags,
  ``-O2``, hard float) and reads the object's ``text``, ``data`` and ``bss`` with
  ``arm-none-eabi-size`` (flash = text + data: code and constant tables; RAM = data + bss: the
  static working memory), then runs one inference under ``qemu-system-arm -M mps2-an386`` and
  measures the stack that the call used (the stack below the caller is painted before the call and
  scanned after it) and the instructions it executed (QEMU's instruction-count plugin is not in
  Debian's qemu 7.2 package: the program reads SysTick on its 1 MHz reference clock while QEMU runs
  with ``-icount shift=0``, one instruction per virtual nanosecond, and a loop of 20 million
  instructions calibrates instructions per tick: a resolution of 1,000 instructions);
* compiles it for the host (``-std=c99 -O2``), checks its output against the Python estimator
  (largest relative difference) and times one window per call (median of rounds), next to the
  folded torch module (``export_folded``) and onnxruntime at batch 1, one thread each.

ExecuTorch and emlearn were considered as what embedded users would otherwise pick, and neither is
measured: emlearn converts tree ensembles, naive Bayes and small MLPs but no attention network, and
ExecuTorch (1.5.1 on the package index here; a compiled extension tied to its own torch build) was
not tried yet: exporting the folded dense twin to a ``.pte`` is the next comparison to add.

Results: ``docs/benchmarks/c_export.json`` and ``.md``. Run
``python benchmarks/c_export.py [--data-home DIR] [--quick]`` (needs gcc, gcc-arm-none-eabi,
libnewlib-arm-none-eabi and qemu-system-arm; about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "c_export"))
from _common import machine, write_results  # noqa: E402
from _outputs import main_output  # noqa: E402  (shared with the tests)
from _toolchain import (  # noqa: E402
    ARM_CC,
    ARM_FLAGS,
    ARM_SIZE,
    QEMU,
    QEMU_ARGS,
    arm_toolchain_missing,
    compile_arm,
    compile_host,
    host_compiler_missing,
    parse_numbers,
)
from compression import _fit_row  # noqa: E402

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows  # noqa: E402
from sbt_sklearn.compression import PAPER_TABLE6  # noqa: E402

#: SysTick on the reference clock: under ``-icount shift=0`` one tick is 1000 instructions, and the
#: 24-bit counter wraps after about 16.7 billion (the 25 MHz processor clock would wrap after 671 million)
_ARM_MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include "@NAME@.h"

@DATA@

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define PAINT 0xC0FFEE11u
#define PAINT_BYTES 32768u

static uint32_t ticks_now(void)
{
    return SYST_CVR & 0xFFFFFFu;
}

static uint32_t stack_pointer(void)
{
    uint32_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

static void __attribute__((noinline)) paint(uint32_t *lo, uint32_t *hi)
{
    while (lo < hi) {
        *lo++ = PAINT;
    }
}

static void __attribute__((noinline)) known_loop(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

int main(void)
{
    static float out[@UPPER@_N_OUTPUTS];
    uint32_t sp = stack_pointer(), *lo = (uint32_t *)(uintptr_t)(sp - PAINT_BYTES), *p;
    uint32_t t0, t1, c0, c1;
    int status, k;
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 1u; /* enabled, reference clock (1 MHz on QEMU's mps2), no interrupt: wraps after 2^24 ticks */
    c0 = ticks_now();
    known_loop(10000000u); /* 2 instructions per iteration */
    c1 = ticks_now();
    paint(lo, (uint32_t *)(uintptr_t)(sp - 256u));
    t0 = ticks_now();
    status = @NAME@_predict(window, @STEPS@, 0, @STEPS@, out);
    t1 = ticks_now();
    for (p = lo; *p == PAINT; ++p) {
    }
    printf("status %d\n", status);
    printf("calibration_ticks %lu\n", (unsigned long)((c0 - c1) & 0xFFFFFFu));
    printf("predict_ticks %lu\n", (unsigned long)((t0 - t1) & 0xFFFFFFu));
    printf("stack_bytes %lu\n", (unsigned long)(sp - (uint32_t)(uintptr_t)p));
    for (k = 0; k < @UPPER@_N_OUTPUTS; ++k) {
        printf("%.9g\n", out[k]);
    }
    return status;
}
"""

_HOST_MAIN = r"""
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
#include "@NAME@.h"

@DATA@

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    static float out[@UPPER@_N_OUTPUTS];
    double best[@ROUNDS@];
    int i, r, k, calls = 1;
    double t;
    if (@NAME@_predict(window, @STEPS@, 0, @STEPS@, out) != 0) {
        return 1;
    }
    for (k = 0; k < @UPPER@_N_OUTPUTS; ++k) {
        printf("%.9g\n", out[k]);
    }
    do { /* calls per round: at least 20 ms */
        calls *= 2;
        t = seconds();
        for (i = 0; i < calls; ++i) {
            @NAME@_predict(window, @STEPS@, 0, @STEPS@, out);
        }
    } while (seconds() - t < 0.02);
    for (r = 0; r < @ROUNDS@; ++r) {
        t = seconds();
        for (i = 0; i < calls; ++i) {
            @NAME@_predict(window, @STEPS@, 0, @STEPS@, out);
        }
        best[r] = (seconds() - t) / calls;
    }
    for (r = 0; r < @ROUNDS@; ++r) {
        printf("seconds %.9g\n", best[r]);
    }
    return 0;
}
"""


def _fill(template: str, name: str, window: np.ndarray, rounds: int = 7) -> str:
    values = ", ".join(f"{v:.8e}f" for v in np.asarray(window, np.float32).reshape(-1))
    data = f"static const float window[{window.size}] = {{{values}}};"
    return (template.replace("@NAME@", name).replace("@UPPER@", name.upper()).replace("@DATA@", data)
            .replace("@STEPS@", str(window.shape[0])).replace("@ROUNDS@", str(rounds)))


def _object_size(c_file: Path, out_dir: Path) -> dict:
    obj = out_dir / "model.o"
    subprocess.run([ARM_CC, *ARM_FLAGS, "-I", str(c_file.parent), "-c", str(c_file), "-o", str(obj)], check=True,
                   capture_output=True, timeout=600)
    line = subprocess.run([ARM_SIZE, "-B", "-d", str(obj)], check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip().splitlines()[1]
    text, data, bss = (int(v) for v in line.split()[:3])
    return {"text": text, "data": data, "bss": bss, "flash": text + data, "ram_static": data + bss}


def _run_arm(elf: Path, timeout: float = 900) -> dict:
    cmd = [QEMU, *QEMU_ARGS, "-icount", "shift=0", "-kernel", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, start_new_session=True)
    fields = dict(re.findall(r"^(status|calibration_ticks|predict_ticks|stack_bytes) (\d+)$", proc.stdout, re.M))
    if fields.get("status") != "0":
        raise RuntimeError(f"QEMU run failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    numbers = parse_numbers("\n".join(line for line in proc.stdout.splitlines() if " " not in line))
    per_tick = 20_000_000 / max(1, int(fields["calibration_ticks"]))
    return {"instructions": int(round(int(fields["predict_ticks"]) * per_tick)),
            "instructions_per_tick": per_tick, "stack_bytes": int(fields["stack_bytes"]), "outputs": numbers}


def _host(c_file: Path, name: str, window: np.ndarray, out_dir: Path) -> tuple[np.ndarray, float]:
    main = out_dir / "bench_main.c"
    main.write_text(_fill(_HOST_MAIN, name, window))
    exe = compile_host([main, c_file], out_dir, include_dirs=[c_file.parent])
    text = subprocess.run([str(exe)], check=True, capture_output=True, text=True, timeout=600).stdout
    times = [float(v) for v in re.findall(r"^seconds (\S+)$", text, re.M)]
    outputs = parse_numbers("\n".join(line for line in text.splitlines() if not line.startswith("seconds")))
    return outputs, statistics.median(times)


def _median_call(fn, x, seconds: float = 0.3) -> float:
    for _ in range(3):
        fn(x)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 20:
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _torch_and_onnx(est, window: np.ndarray, work: Path) -> dict:
    folded = est.export_folded()
    x = torch.from_numpy(np.ascontiguousarray(window.T[None], dtype=np.float32))
    with torch.no_grad():
        out = {"folded_torch_s": _median_call(folded, x)}
    try:
        import onnxruntime as ort

        path = est.export_onnx(work / "model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        feed = {"x": x.numpy()}
        out["onnxruntime_s"] = _median_call(lambda _: session.run(None, feed), None)
        out["onnx_bytes"] = os.path.getsize(path)
    except ImportError:
        out["onnxruntime_s"] = None
    return out


def measure(label: str, est, window: np.ndarray, work: Path, arm: bool) -> dict:
    """Everything about one fitted estimator's C export; ``window`` (T, C) is the input."""
    work.mkdir(parents=True, exist_ok=True)
    name = "model"
    info = est.export_c(work, name=name, max_steps=window.shape[0] if not _streamed(est) else None)
    c_file = Path(info["source"])
    row = {"model": label, "estimator": type(est).__name__, "binary": bool(est.binary), "p": float(est.p),
           "window": int(window.shape[0]), "channels": int(window.shape[1]), "streamed": info["streamed"],
           "tables_bytes": info["flash_bytes"], "work_bytes": info["ram_bytes"]}
    expected = np.asarray(main_output(est, window.T[None]), dtype=np.float64).reshape(-1)  # (1, C, T)
    host_out, host_s = _host(c_file, name, window, work)
    row["max_rel_diff_host"] = float(np.max(np.abs(host_out - expected) / np.maximum(np.abs(expected), 1e-6)))
    row["max_diff_over_scale_host"] = float(np.max(np.abs(host_out - expected)) / max(np.max(np.abs(expected)), 1e-12))
    row["host_c_s"] = host_s
    row.update(_torch_and_onnx(est, window, work))
    if arm:
        row.update({f"arm_{k}": v for k, v in _object_size(c_file, work).items()})
        main = work / "arm_main.c"
        main.write_text(_fill(_ARM_MAIN, name, window))
        try:
            elf = compile_arm([main, c_file], work / "arm", include_dirs=[work])
        except AssertionError as exc:  # the board's code memory is 4 MiB: a large dense twin does not fit
            row["arm_error"] = "does not fit the 4 MiB code memory" if "overflowed" in str(exc) else str(exc)[:300]
            print({"model": label, "arm_error": row["arm_error"]}, flush=True)
            return row
        run = _run_arm(elf)
        row.update(arm_instructions=run["instructions"], arm_instructions_per_tick=run["instructions_per_tick"],
                   arm_stack_bytes=run["stack_bytes"],
                   arm_ram_bytes=row["arm_ram_static"] + run["stack_bytes"],
                   max_rel_diff_arm_vs_host=float(np.max(np.abs(run["outputs"] - host_out)
                                                         / np.maximum(np.abs(host_out), 1e-6))))
    print({k: row[k] for k in ("model", "binary", "max_rel_diff_host")}, flush=True)
    return row


def _streamed(est) -> bool:
    from sbt_sklearn.compression._c_export import needs_max_steps

    return not needs_max_steps(est.module_)


def _window(est, rng) -> np.ndarray:
    t = int(est.n_timesteps_)
    return rng.normal(size=(t, int(est.n_channels_))).astype(np.float32)


def _pairs(data_home, quick: bool):
    """(label, binary estimator, dense twin, window (T, C)) for every model measured."""
    rng = np.random.default_rng(0)
    rows = list(PAPER_TABLE6.items())[: 3 if quick else None]
    for label, row in rows:
        sbt, dense = _fit_row(row), _fit_row(row, binary=False, p=0.0)
        yield f"Table 6: {label}", sbt, dense, _window(sbt, rng)
    yield from _trained(data_home, quick)


def _trained(data_home, quick: bool):
    from sbt_sklearn.data import load_ett, load_sample_japanese_vowels, load_smap_msl

    epochs = 1 if quick else 3
    X_tr, y_tr, X_te, _ = load_sample_japanese_vowels()
    jv = dict(max_epochs=epochs * 5, random_state=0)
    longest = max(x.shape[1] for x in X_tr)  # the longest test series the fitted window covers
    sample = max((x for x in X_te if x.shape[1] <= longest), key=lambda x: x.shape[1]).T.astype(np.float32)
    yield ("JapaneseVowels classifier (default)", SBTClassifier(**jv).fit(X_tr, y_tr),
           SBTClassifier(**jv, binary=False, p=0.0).fit(X_tr, y_tr), sample)
    try:
        train, test = load_ett("ETTm1", data_home)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"ETTm1 not found ({exc}): skipping the ETTm1 rows", flush=True)
    else:
        X, y = sliding_windows(train.to_numpy(np.float32), 199)
        window = test.to_numpy(np.float32)[:199]
        common = dict(p=0.5, d=64, max_epochs=epochs, max_windows_per_epoch=2048, random_state=0)
        for label, extra in (("ETTm1 forecaster, paper shape (linear_base=None)", dict(linear_base=None)),
                             ("ETTm1 forecaster (default linear base)", {})):
            yield (label, SBTForecaster(**common, **extra).fit(X, y),
                   SBTForecaster(**{**common, "p": 0.0}, **extra, binary=False).fit(X, y), window)
    try:
        train, test, _ = load_smap_msl("SMAP", data_home)
    except (FileNotFoundError, OSError, ValueError) as exc:
        print(f"SMAP not found ({exc}): skipping the SMAP row", flush=True)
    else:
        X, _ = sliding_windows(np.asarray(train, np.float32), 50, horizon=0)
        common = dict(d=50, max_epochs=epochs, max_windows_per_epoch=2048, rarity=None, random_state=0)
        yield ("SMAP detector (p=0.75, rarity=None)", SBTAnomalyDetector(p=0.75, **common).fit(X),
               SBTAnomalyDetector(p=0.0, binary=False, **common).fit(X), np.asarray(test, np.float32)[:50])


def _kib(n) -> str:
    return "-" if n is None else f"{n / 1024:.1f}"


def _count(n) -> str:
    return "-" if n is None else f"{n:,}"


def _us(s) -> str:
    return "-" if s is None else f"{s * 1e6:.1f}"


def to_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# C export: flash, RAM, instructions and latency",
        "",
        f"Produced by `benchmarks/c_export.py` on {m['cpu']} ({m['cpu_count']} cores, load "
        f"{m['load_average_1min_at_start']} at start), {m['date']}; gcc {result['gcc']}, {result['arm_gcc']}, "
        f"{result['qemu']}. Random windows for the Table 6 shapes, real test windows for the trained models; "
        "one inference per model under QEMU.",
        "",
        "Flash = text + data of the generated `.c` compiled for a Cortex-M4 (`-O2`, hard float): code and "
        "constant tables. RAM = data + bss of that object (static working memory) plus the stack the call used "
        "(measured); the input window is the caller's and not counted. Instructions: SysTick under "
        "`qemu -icount shift=0`, calibrated by a loop of known length. Host: one window per call, median; "
        "folded torch and onnxruntime at batch 1, one thread. Differences: the larger of the SBT model and "
        "its dense twin; `max rel diff` is element-wise (host against Python, ARM against host), the last "
        "column the largest difference over the largest output.",
        "",
        "| model | SBT flash KiB | dense flash KiB | dense / SBT | SBT RAM KiB | dense RAM KiB | SBT instructions "
        "| dense instructions | host C us | folded torch us | onnxruntime us | max rel diff (host, ARM) "
        "| max diff / largest output |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pair in result["models"]:
        s, d = pair["sbt"], pair["dense"]
        ratio = (d.get("arm_flash") or 0) / s["arm_flash"] if s.get("arm_flash") else None
        lines.append(
            f"| {s['model']} | {_kib(s.get('arm_flash'))} | {_kib(d.get('arm_flash'))} | "
            f"{'-' if ratio is None else f'{ratio:.1f}x'} | {_kib(s.get('arm_ram_bytes'))} | "
            f"{_kib(d.get('arm_ram_bytes'))} | {_count(s.get('arm_instructions'))} | "
            f"{_count(d.get('arm_instructions'))} | "
            f"{_us(s['host_c_s'])} | {_us(s['folded_torch_s'])} | {_us(s.get('onnxruntime_s'))} | "
            f"{max(s['max_rel_diff_host'], d['max_rel_diff_host']):.1e}, "
            f"{max(s.get('max_rel_diff_arm_vs_host', 0), d.get('max_rel_diff_arm_vs_host', 0)):.1e} | "
            f"{max(s['max_diff_over_scale_host'], d['max_diff_over_scale_host']):.1e} |")
    unfit = [p["dense"]["model"] for p in result["models"] if "arm_error" in p["dense"]]
    if unfit:
        lines += ["", "Dense twins too large for the emulated board's 4 MiB code memory (flash from the object "
                  "file; no QEMU run): " + ", ".join(unfit) + "."]
    lines += ["", "Dense twins through the same generator (float weights): host C "
              + ", ".join(f"{p['dense']['model'].split(':')[-1].strip()} {_us(p['dense']['host_c_s'])} us"
                          for p in result["models"]) + ".", ""]
    return "\n".join(lines)


def _version(cmd) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unavailable"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=None, help="data folder (default: $SBT_DATA_HOME)")
    parser.add_argument("--quick", action="store_true", help="three Table 6 rows, one epoch: a smoke run")
    args = parser.parse_args(argv)
    if host_compiler_missing():
        raise SystemExit(host_compiler_missing())
    arm = arm_toolchain_missing() is None
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    result = {"machine": machine(), "gcc": _version(["gcc", "--version"]), "arm_gcc": _version([ARM_CC, "--version"]),
              "qemu": _version([QEMU, "--version"]), "arm_measured": arm, "models": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, sbt, dense, window) in enumerate(_pairs(args.data_home, args.quick)):
            result["models"].append({
                "sbt": measure(label, sbt, window, Path(tmp) / f"{i}-sbt", arm),
                "dense": measure(f"{label} (dense twin)", dense, window, Path(tmp) / f"{i}-dense", arm),
            })
    if not args.quick:
        write_results("c_export", result, to_markdown(result))
    else:
        print(to_markdown(result))
    return result


if __name__ == "__main__":
    main()
