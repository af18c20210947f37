"""Hostile model files: what damaged and crafted files cost the loader before it refuses them.

One estimator of each class is fitted on data shipped with the package with its default
architecture (one epoch: the file's layout is what matters, not its accuracy): SBTClassifier on
the JapaneseVowels sample, SBTForecaster on the ETTh1 sample (windows of 48 rows), SBTAnomalyDetector
on the SMAP telemetry channel G-7 (windows of 50 steps). From each file, the script derives many
damaged and crafted files and loads each with ``<class>.from_bytes``:

* damage: random truncations, byte flips anywhere and in the header, random bytes;
* crafted files with a valid digest (the digest is a checksum, anyone can recompute it):
  network arguments (random values from a pool of types and sizes; half of them with the
  hyperparameters, layer table and tensors made consistent so that the loader gets as far as it
  can; the sizes of the
  issue: ``d=2048, d_ff=8192, n_layers=4``, ``max_len=10**8``, ``n_classes=10**9``; networks
  around the memory budget with a wrong digest: they are built, then refused), decompression
  and JSON bombs (zeros behind the document, a 1.2 GB ``junk`` attribute in a 1.2 MB file, a
  declared 2**40-byte document, huge declared tensors, lists of small objects up to the
  document cap, deep nesting), attributes (names outside the allowlist, methods, private knobs,
  values of random types and shapes), tensor index entries with bad shapes, hyperparameters;
* valid files: the original, and valid files of networks close to the memory budget;
* non-regular files given to ``load``: /dev/zero, a FIFO, a socket, a directory.

Each case runs in a process forked from a warm parent (imports done, one load of each original,
freed heap returned with ``malloc_trim``, objects frozen out of the garbage collector), twice: once
measuring the peak resident memory it adds and the time to the outcome, once measuring the peak of
Python and numpy allocations with ``tracemalloc`` (which torch bypasses). The resident memory is
``VmHWM`` after resetting it through ``/proc/self/clear_refs``, minus the resident memory before; it
includes torch's allocations and the allocator's overhead, but not pages the child shares with its
parent, such as the file bytes. Before it is measured, the child loads the original once and hands
its freed heap back (``malloc_trim``): a forked process does not map the parent's code pages, and
faulting them in again (about 20 MiB of torch and numpy code, shared with every process) would
otherwise be counted as the case's memory. The memory of a case is the larger of the two
measurements, compared with the loader's budget, 64 MiB + 100 x the file size, and with the
loader's own estimate for the files that pass its checks.
Outcomes: a clear ``SBTFileError``; a correct output: the file loaded and predicts exactly as the
original (or, for the valid files built here, as the network they hold), or it validly describes
a different model (say, another prune rate with its masks, or another ``scaler_mean_``) and
predicts finite values, exactly as that model saved and loaded again; other: any other exception,
or a loaded model that fails these checks.

Run: ``python benchmarks/hostile_files.py [--seed 0] [--cases 1.0]`` (about 3 minutes on 2 cores).
Writes ``docs/benchmarks/hostile_files.{json,md}``.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import gc
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import torch
from _common import machine, write_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "compression"))
from _outputs import main_output  # noqa: E402  (shared with the tests)
from _payload import regenerate_everything, set_network_kwarg  # noqa: E402
from safetensors.numpy import save as st_save

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.compression import SBTFileError, read_model_bytes
from sbt_sklearn.compression._dictionary import ZDICT_V3
from sbt_sklearn.compression._format import _doc_cap, encode_json, load_memory_budget, pack_module, parse_model_bytes
from sbt_sklearn.data import load_sample_etth1, load_sample_japanese_vowels, load_sample_telemetry
from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet

ESTIMATORS = (SBTClassifier, SBTForecaster, SBTAnomalyDetector)
OUTCOMES = ("SBTFileError", "correct output", "other")
#: seconds a case may take before its process is stopped (counted as "other")
CASE_TIMEOUT = 60


# ---- the originals --------------------------------------------------------------------------------
def fit_original(cls):
    """A fitted estimator of ``cls`` (default architecture, one epoch) and the windows it predicts."""
    if cls is SBTClassifier:
        X, y, _, _ = load_sample_japanese_vowels()
    elif cls is SBTForecaster:
        X, y = sliding_windows(load_sample_etth1().to_numpy(np.float32)[:2000], 48)
    else:
        train, _, _ = load_sample_telemetry("G-7")
        X, y = sliding_windows(train.astype(np.float32), 50, horizon=0)[0][:2000], None
    est = cls(random_state=0, max_epochs=1).fit(X, y)
    return est, X[:16]


# ---- writing files the way an attacker would ------------------------------------------------------
def deflate(*chunks) -> bytes:
    z = zlib.compressobj(9, zdict=ZDICT_V3)
    return b"".join([z.compress(c) for c in chunks] + [z.flush()])


def container(payload: bytes) -> bytes:
    info = {"format": "sbt-sklearn-model", "format_version": "3", "sha256": hashlib.sha256(payload).hexdigest()}
    return st_save({"sbt": np.frombuffer(payload, np.uint8)}, metadata=info)


def frame(doc: bytes, *data) -> bytes:
    return container(deflate(struct.pack("<Q", len(doc)) + doc, *data))


def write_raw(meta: dict, tensors: dict) -> bytes:
    index = [[name, a.dtype.str, list(a.shape)] for name, a in tensors.items()]
    doc = json.dumps({"meta": meta, "tensors": index}, separators=(",", ":")).encode()
    return frame(doc, b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values()))


def parts_of(blob):
    meta, tensors = read_model_bytes(blob)
    return copy.deepcopy(meta), {k: np.array(v) for k, v in tensors.items()}


def craft(blob, edit) -> bytes:
    meta, tensors = parts_of(blob)
    edit(meta, tensors)
    return write_raw(meta, tensors)




def kwarg_of(meta, name, default=None):
    return next((v for k, v in meta["network"]["kwargs"]["$dict"] if k == name), default)


def make_consistent(meta, tensors):
    """Layer table of prune rate 0 (empty masks) for the network's layer count; no stored state."""
    n_layers = kwarg_of(meta, "n_layers", 2)
    if not isinstance(n_layers, int) or isinstance(n_layers, bool) or not 0 < n_layers <= 256:
        return
    regenerate_everything(meta, tensors, n_layers)


# ---- the cases -------------------------------------------------------------------------------------
VALUE_POOL = [0, 1, -1, 2, 3, 7, 8, 16, 64, 512, 2048, 8192, 10**5, 10**8, 10**9, 2**31, 2**63, 2**64, 0.5, 1.5,
              {"$float": "nan"}, {"$float": "inf"}, True, False, None, "x", "full", "learnable", [1, 2],
              {"$dict": []}, {"$array": "<i8", "shape": [2], "data": [1, 2]}]
KWARGS = ["n_channels", "n_classes", "n_outputs", "d", "n_heads", "n_layers", "d_ff", "p", "binary", "attention",
          "norm", "pos_encoding", "max_len", "topk_scope", "seed", "output_gate", "junk"]


def damage_cases(blob, rng, n):
    cases = []
    for _ in range(n):
        cut = int(rng.integers(0, len(blob)))
        cases.append(("truncation", f"cut at {cut}", blob[:cut]))
    for _ in range(n):
        out = bytearray(blob)
        for _ in range(int(rng.integers(1, 9))):
            out[int(rng.integers(0, len(out)))] ^= int(rng.integers(1, 256))
        cases.append(("byte flips", "1-8 random bytes", bytes(out)))
    n_header = struct.unpack("<Q", blob[:8])[0]
    for _ in range(n // 2):
        out = bytearray(blob)
        out[int(rng.integers(0, 8 + n_header))] = int(rng.integers(0, 256))
        cases.append(("header byte", "one byte of the length prefix or header", bytes(out)))
    for _ in range(n // 2):
        cases.append(("random bytes", "random content", rng.bytes(int(rng.integers(0, 4096)))))
    return cases


def kwarg_cases(blob, cls, rng, n):
    cases = []
    issue = [[("d", 2048), ("d_ff", 8192), ("n_layers", 4)], [("max_len", 10**8)], [("n_classes", 10**9)],
             [("n_outputs", 10**9)], [("n_channels", 10**9)]]
    for edits in issue:
        for consistent in (False, True):
            cases.append(("network arguments (issue)", f"{edits}{' consistent' if consistent else ''}",
                          craft(blob, _kwarg_edit(edits, consistent))))
    for _ in range(n):
        edits = [(KWARGS[int(rng.integers(len(KWARGS)))], copy.deepcopy(VALUE_POOL[int(rng.integers(len(VALUE_POOL)))]))
                 for _ in range(int(rng.integers(1, 4)))]
        consistent = bool(rng.integers(2))
        cases.append(("network arguments (random)", f"{edits}{' consistent' if consistent else ''}",
                      craft(blob, _kwarg_edit(edits, consistent))))
    for d, n_layers in ((128, 8), (192, 8), (256, 6), (256, 8), (320, 5), (384, 4), (512, 2), (64, 64)):
        edits = [("d", d), ("d_ff", d), ("n_layers", n_layers), ("n_heads", 1)]
        cases.append(("networks near the budget, wrong digest", f"d=d_ff={d}, n_layers={n_layers}",
                      craft(blob, _kwarg_edit(edits, True))))
    return cases


def _kwarg_edit(edits, consistent):
    def edit(meta, tensors):
        for name, value in edits:
            set_network_kwarg(meta, name, value, param=consistent)
        if consistent:
            make_consistent(meta, tensors)
    return edit


def valid_heavy_cases(est, X):
    """Valid files of untrained networks of growing size (built, packed, framed): they load."""
    cases = []
    meta, tensors = parts_of(est.to_bytes())
    module_cls = SBTClassificationNet if isinstance(est, SBTClassifier) else SBTLastStepNet
    base = {k: v for k, v in est.net_.get_params_for("module").items()}
    for d, n_layers in ((128, 4), (192, 6), (256, 6)):
        kwargs = {**base, "d": d, "d_ff": d, "n_layers": n_layers, "n_heads": 1}
        module, fresh = module_cls(**kwargs), module_cls(**kwargs)
        module.eval()
        net_meta, net_tensors = pack_module(module, fresh)
        new_meta = copy.deepcopy(meta)
        net_meta.update(module=module_cls.__name__, kwargs=encode_json(kwargs),
                        criterion=meta["network"]["criterion"], criterion_kwargs=meta["network"]["criterion_kwargs"])
        new_meta["network"] = net_meta
        new_meta["params"].update(d=d, d_ff=d, n_layers=n_layers, n_heads=1)
        new_tensors = {k: v for k, v in tensors.items() if k.startswith(("attr.", "criterion."))}
        new_tensors.update(net_tensors)
        blob = write_raw(new_meta, new_tensors)
        reference = type(est).from_bytes(est.to_bytes())
        reference.net_.module_ = module
        cases.append(("valid files near the budget", f"d=d_ff={d}, n_layers={n_layers}", blob,
                      main_output(reference, X)))
    return cases


def bomb_cases(blob, cls):
    meta, tensors = parts_of(blob)
    cases = []
    empty = b'{"meta":{},"tensors":[]}'
    cases.append(("decompression bombs", "128 MB of zeros behind a valid document", frame(empty, bytes(128 << 20))))
    junk = dict(tensors)
    index = [[k, a.dtype.str, list(a.shape)] for k, a in junk.items()] + [["attr.junk", "<f8", [150_000_000]]]
    doc = json.dumps({"meta": meta, "tensors": index}, separators=(",", ":")).encode()
    zeros = bytes(1 << 24)
    body = b"".join(np.ascontiguousarray(a).tobytes() for a in junk.values())
    chunks = [body] + [zeros] * (1_200_000_000 // len(zeros)) + [bytes(1_200_000_000 % len(zeros))]
    cases.append(("decompression bombs", "1.2 GB 'junk' attribute (the issue's 1.2 MB file)", frame(doc, *chunks)))
    cases.append(("decompression bombs", "declared 2**40-byte document",
                  container(deflate(struct.pack("<Q", 2**40), bytes(4096)))))
    for shape in ([2**30], [150_000_000], [2**16, 2**16]):
        cases.append(("decompression bombs", f"declared tensor of shape {shape}",
                      frame(json.dumps({"meta": {}, "tensors": [["a", "<f8", shape]]}).encode(), bytes(1 << 20))))
    bomb_meta = {**meta, "attributes": {**meta["attributes"], "x": "BOMB"}}
    index = [[name, a.dtype.str, list(a.shape)] for name, a in tensors.items()]
    head, tail = json.dumps({"meta": bomb_meta, "tensors": index}, separators=(",", ":")).encode().split(b'"BOMB"')
    data = b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values())
    for item in ("[]", '{"$dict":[]}', "[[[]]]", '"ab"', "1.5", '{"$float":"nan"}', '{"$scalar":"<f8","value":0}'):
        n = (_doc_cap(1, 1, load_memory_budget(1)) - len(head) - len(tail) - 2) // (len(item) + 1)
        text = head + b"[" + b",".join([item.encode()] * n) + b"]" + tail
        cases.append(("JSON bombs", f"attribute: list of {item} up to the document cap", frame(text, data)))
        edit_meta = copy.deepcopy(meta)
        edit_meta["attributes"]["n_epochs_"] = json.loads("[" + ",".join([item] * 20000) + "]")
        cases.append(("JSON bombs", f"attribute of 20,000 x {item}", write_raw(edit_meta, tensors)))
    cases.append(("JSON bombs", "document nested 100,000 deep", frame(b"[" * 100_000 + b"]" * 100_000)))
    header = json.dumps({"__metadata__": {"format": "sbt-sklearn-model", "format_version": "3",
                                          "pad": "x" * 10**6}}).encode()
    cases.append(("JSON bombs", "1 MB container header", struct.pack("<Q", len(header)) + header))
    deep = b'{"__metadata__":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    cases.append(("JSON bombs", "container header nested 50,000 deep", struct.pack("<Q", len(deep)) + deep))
    for value in ({"$array": "<U999999", "shape": [1000], "data": ["a"] * 1000},
                  {"$array": "<U0", "shape": [2], "data": ["a" * 10**5, ""]}):
        edit_meta = copy.deepcopy(meta)
        edit_meta["attributes"]["n_epochs_"] = value
        cases.append(("JSON bombs", f"array of dtype {value['$array']}", write_raw(edit_meta, tensors)))
    return cases


ATTRIBUTE_NAMES = ["junk", "predict_proba", "_predict_max_bytes", "net_", "__class__", "fit", "classes_",
                   "scaler_mean_", "scaler_scale_", "n_channels_", "n_features_in_", "threshold_", "offset_",
                   "channel_weights_", "base_coef_", "base_lags_", "_y_1d", "value_bins_", "error_tail_",
                   "pals_history_", "p_", "seed_"]


def attribute_cases(blob, rng, n):
    cases = []
    for _ in range(n):
        name = ATTRIBUTE_NAMES[int(rng.integers(len(ATTRIBUTE_NAMES)))]
        if rng.integers(2):
            shape = [int(s) for s in rng.integers(0, 5, size=int(rng.integers(0, 3)))]
            value, label = np.zeros(shape, [np.float32, np.float64, np.bool_, np.int64][int(rng.integers(4))]), \
                f"tensor {name} of shape {shape}"

            def edit(meta, tensors, name=name, value=value):
                meta["attributes"].pop(name, None)
                tensors[f"attr.{name}"] = value
        else:
            value = copy.deepcopy(VALUE_POOL[int(rng.integers(len(VALUE_POOL)))])
            label = f"{name} = {json.dumps(value)[:40]}"

            def edit(meta, tensors, name=name, value=value):
                tensors.pop(f"attr.{name}", None)
                meta["attributes"][name] = value
        cases.append(("attributes", label, craft(blob, edit)))
    return cases


def shape_cases(blob):
    cases = []
    for shape in ([0, 2**64], [2**31], [1] * 9, [-1], [1.5], [True], [0, 2**62, 2**62]):
        doc = json.dumps({"meta": {}, "tensors": [["a", "<f4", shape]]}).encode()
        cases.append(("tensor shapes", f"shape {shape}", frame(doc, bytes(4))))
    for dtype in ("|O", ">f4", "<c8", "<U4", "V8", "<f16"):
        doc = json.dumps({"meta": {}, "tensors": [["a", dtype, [1]]]}).encode()
        cases.append(("tensor shapes", f"dtype {dtype}", frame(doc, bytes(16))))
    doc = json.dumps({"meta": {}, "tensors": [["a", "|b1", [3]]]}).encode()
    cases.append(("tensor shapes", "boolean tensor holding 2", frame(doc, b"\x00\x01\x02")))
    cases.append(("tensor shapes", "state tensor of another shape",
                  craft(blob, lambda m, t: t.update({k: np.zeros(7, v.dtype) for k, v in t.items()
                                                     if k.startswith("state.")}))))
    return cases


def param_cases(blob, rng, n):
    names = ["p", "d", "max_epochs", "lr", "callbacks", "device", "random_state", "n_jobs", "verbose", "missing",
             "evil"]
    cases = []
    for _ in range(n):
        name = names[int(rng.integers(len(names)))]
        value = copy.deepcopy(VALUE_POOL[int(rng.integers(len(VALUE_POOL)))])
        cases.append(("hyperparameters", f"{name} = {json.dumps(value)[:40]}",
                      craft(blob, lambda m, t, name=name, value=value: m["params"].update({name: value}))))
    return cases


def special_files(tmp):
    fifo = Path(tmp) / "fifo"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(Path(tmp) / "sock"))
    return sock, [("non-regular files", "/dev/zero", "/dev/zero"), ("non-regular files", "a FIFO", str(fifo)),
                  ("non-regular files", "a socket", str(Path(tmp) / "sock")), ("non-regular files", "a directory", tmp)]


# ---- measuring one case in a forked process -------------------------------------------------------------
def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field)


def _trim():
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def _case_in_child(cls, source, trace):
    """Run one load; return (outcome kind, message, seconds, memory, loaded estimator or None)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # the peak resident memory starts again from here
    before = _vm("VmRSS")
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    est, kind, message = None, "SBTFileError", ""
    try:
        est = cls.load(source) if isinstance(source, str) else cls.from_bytes(source)
        kind = "loaded"
    except SBTFileError as exc:
        message = str(exc)
    except BaseException as exc:  # noqa: B036 - counted as "other", never hidden
        kind, message = "other", f"{type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - start
    memory = tracemalloc.get_traced_memory()[1] if trace else _vm("VmHWM") - before
    if trace:
        tracemalloc.stop()
    return kind, message[:200], elapsed, memory, est


def loader_estimate(cls, source):
    """The loader's own upper bound of the memory loading ``source`` takes: its bound of parsing, plus
    the network's for files that pass every check (None for files refused while parsing)."""
    if not isinstance(source, bytes):
        return None
    try:
        parts = parse_model_bytes(source)
    except SBTFileError:
        return None
    try:
        return cls._check_file(parts).memory(parts)
    except SBTFileError:
        return parts.parse_memory


def _check_loaded(cls, est, X, expected):
    """(outcome, how it loaded, message) of a file that loaded: as the original, or a different valid model."""
    try:
        got = main_output(est, X)
    except Exception as exc:  # noqa: BLE001 - a loaded model that cannot predict is an "other" outcome
        return "other", None, f"loaded, but predict raised {type(exc).__name__}: {exc}"
    if got.shape == expected.shape and np.array_equal(got, expected):
        return "correct output", "as the original", ""
    again = main_output(cls.from_bytes(est.to_bytes(), max_memory=1 << 40), X)
    if np.isfinite(got).all() and np.array_equal(again, got):
        return "correct output", "a different valid model", ""
    return "other", None, "loaded, but predicts differently from the original and from its own re-save"


def measure(cls, source, expected, X, trace, warm):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one load, its numbers through the pipe
        os.close(read)
        signal.alarm(CASE_TIMEOUT)
        try:
            if not trace:  # fault in the code pages a load runs (fork does not map them), then hand back the heap
                cls.from_bytes(warm)
                gc.collect()
                _trim()
            kind, message, elapsed, memory, est = _case_in_child(cls, source, trace)
            loaded_as = None
            if kind == "loaded":
                kind, loaded_as, message = _check_loaded(cls, est, X, expected)
            out = json.dumps({"kind": kind, "message": message, "seconds": elapsed, "memory": memory,
                              "loaded_as": loaded_as})
        except BaseException as exc:  # noqa: B036
            out = json.dumps({"kind": "other", "message": f"{type(exc).__name__}: {exc}"[:200], "seconds": None,
                              "memory": 0})
        os.write(write, out.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return {"kind": "other", "message": f"process ended with status {status}", "seconds": None, "memory": 0}
    return json.loads(data)


def run_class(cls, est, X, rng, scale):
    blob = est.to_bytes()
    expected = main_output(cls.from_bytes(blob), X)
    n = max(4, int(round(40 * scale)))
    crafted = (damage_cases(blob, rng, n) + kwarg_cases(blob, cls, rng, n) + bomb_cases(blob, cls)
               + attribute_cases(blob, rng, n) + shape_cases(blob) + param_cases(blob, rng, n // 2))
    cases = [("valid files", "the original", blob, expected)] + [(k, lab, b, expected) for k, lab, b in crafted]
    cases += valid_heavy_cases(est, X)
    tmp = tempfile.mkdtemp()
    sock, specials = special_files(tmp)
    cases += [(k, label, path, expected) for k, label, path in specials]
    gc.collect()
    _trim()
    gc.freeze()  # forked children then leave the parent's objects alone (no copy-on-write by the collector)
    rows = []
    for kind, label, source, want in cases:
        first = measure(cls, source, want, X, trace=False, warm=blob)
        traced = measure(cls, source, want, X, trace=True, warm=blob)
        size = len(source) if isinstance(source, bytes) else 0
        memory = max(first["memory"], traced["memory"])
        estimate = loader_estimate(cls, source)
        outcome = first["kind"] if first["kind"] in OUTCOMES else "other"
        rows.append({"kind": kind, "case": label[:120], "file_bytes": size, "outcome": outcome,
                     "loaded_as": first.get("loaded_as"),
                     "message": first["message"][:160], "seconds": first["seconds"], "rss_bytes": first["memory"],
                     "traced_bytes": traced["memory"], "memory_bytes": memory,
                     "budget_ratio": memory / load_memory_budget(size), "estimate_bytes": estimate,
                     "estimate_ratio": None if not estimate else memory / estimate})
    sock.close()
    gc.unfreeze()
    return rows


#: kinds of random damage: in the data file by kind only (their rows would triple its size)
DAMAGE_KINDS = ("truncation", "byte flips", "header byte", "random bytes")


def compact(row: dict) -> dict:
    """A row for the data file: rounded numbers, a short message."""
    out = {k: v for k, v in row.items() if v is not None and k not in ("rss_bytes", "traced_bytes")}
    out["message"] = row["message"][:90]
    out["seconds"] = round(row["seconds"], 4) if row["seconds"] is not None else None
    out["memory_mib"] = round(out.pop("memory_bytes") / 2**20, 2)
    out["rss_mib"], out["traced_mib"] = round(row["rss_bytes"] / 2**20, 2), round(row["traced_bytes"] / 2**20, 2)
    for key in ("budget_ratio", "estimate_ratio"):
        if key in out:
            out[key] = round(out[key], 4)
    return out


def summarise(rows) -> dict:
    refused = [r for r in rows if r["outcome"] == "SBTFileError"]
    worst = max(rows, key=lambda r: r["memory_bytes"])
    ratio = max(rows, key=lambda r: r["budget_ratio"])
    slow = max(refused, key=lambda r: r["seconds"]) if refused else None
    return {
        "cases": len(rows),
        "outcomes": {o: sum(r["outcome"] == o for r in rows) for o in OUTCOMES},
        "different_valid_models": sum(r["loaded_as"] == "a different valid model" for r in rows),
        "max_memory_mib": worst["memory_bytes"] / 2**20, "max_memory_case": f"{worst['kind']}: {worst['case']}",
        "max_budget_ratio": ratio["budget_ratio"], "max_ratio_case": f"{ratio['kind']}: {ratio['case']}",
        "slowest_rejection_s": slow["seconds"] if slow else None,
        "max_memory_over_estimate": max((r["estimate_ratio"] for r in rows if r["estimate_ratio"]), default=None),
        "slowest_case": f"{slow['kind']}: {slow['case']}" if slow else None,
        "others": [f"{r['kind']}: {r['case']}: {r['message']}" for r in rows if r["outcome"] == "other"],
    }


def by_kind(rows) -> list[dict]:
    out = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        sel = [r for r in rows if r["kind"] == kind]
        refused = [r["seconds"] for r in sel if r["outcome"] == "SBTFileError"]
        out.append({"kind": kind, "cases": len(sel), **{o: sum(r["outcome"] == o for r in sel) for o in OUTCOMES},
                    "different_valid_models": sum(r["loaded_as"] == "a different valid model" for r in sel),
                    "max_memory_mib": max(r["memory_bytes"] for r in sel) / 2**20,
                    "max_budget_ratio": max(r["budget_ratio"] for r in sel),
                    "slowest_rejection_s": max(refused) if refused else None})
    return out


def merged_kinds(results) -> list[dict]:
    """The per-kind rows of every class, added up."""
    merged = {}
    for c in results["classes"].values():
        for row in c["by_kind"]:
            if row["kind"] not in merged:
                merged[row["kind"]] = dict(row)
                continue
            m = merged[row["kind"]]
            for key in ("cases", *OUTCOMES, "different_valid_models"):
                m[key] += row[key]
            for key in ("max_memory_mib", "max_budget_ratio"):
                m[key] = max(m[key], row[key])
            times = [t for t in (m["slowest_rejection_s"], row["slowest_rejection_s"]) if t is not None]
            m["slowest_rejection_s"] = max(times) if times else None
    return list(merged.values())


def markdown(results) -> str:
    m = results["machine"]
    lines = ["# Hostile model files: outcome, memory and time of every damaged or crafted file", "",
             f"Machine: {m['cpu']} ({m['cpu_count']} cores), torch {m['torch']}, numpy {m['numpy']}, load average "
             f"at start {m['load_average_1min_at_start']}, {m['date']}. Seed {results['seed']}. Originals: each "
             "class's default architecture fitted one epoch on data shipped with the package ("
             + ", ".join(f"{k} {v['original_file_bytes']:,} bytes" for k, v in results["classes"].items())
             + "). Each case loaded with `<class>.from_bytes` (non-regular files with `load`) in a process forked "
             "from a warm parent, twice: peak resident memory added (VmHWM, torch included; the child first loads "
             "the original once and trims its heap, so that code pages a fork does not map are not counted) and "
             "time, then peak Python/numpy allocations (tracemalloc); memory is the larger of the two, against "
             "the budget 64 MiB + 100 x file size and the loader's own estimate. A correct output: the file loads "
             "and predicts exactly as the original, or (in brackets) validly describes a different model, whose "
             "predictions are finite and equal to those of its own save and reload. Produced by "
             "`python benchmarks/hostile_files.py`.", "",
             "| class | cases | SBTFileError | correct output (different valid model) | other | max memory (MiB) "
             "| max memory / budget | slowest rejection (s) |", "|---|---|---|---|---|---|---|---|"]
    for name, c in results["classes"].items():
        s = c["summary"]
        lines.append(f"| {name} | {s['cases']} | {s['outcomes']['SBTFileError']} | {s['outcomes']['correct output']} "
                     f"({s['different_valid_models']}) | {s['outcomes']['other']} | {s['max_memory_mib']:.1f} "
                     f"| {s['max_budget_ratio']:.3f} | {s['slowest_rejection_s']:.3f} |")
    lines += [""]
    for name, c in results["classes"].items():
        s = c["summary"]
        lines += [f"{name}: largest memory in *{s['max_memory_case']}*; largest share of the budget in "
                  f"*{s['max_ratio_case']}*; slowest rejection *{s['slowest_case']}*; measured memory at most "
                  f"{s['max_memory_over_estimate']:.2f} times the loader's own estimate (files it parsed)."
                  + (f" Other outcomes: {s['others']}." if s["others"] else ""), ""]
    lines += ["## Per kind of case (all classes)", "",
              "| kind | cases | SBTFileError | correct output (different valid model) | other | max memory (MiB) "
              "| max memory / budget | slowest rejection (s) |", "|---|---|---|---|---|---|---|---|"]
    for row in merged_kinds(results):
        slow = "–" if row["slowest_rejection_s"] is None else f"{row['slowest_rejection_s']:.3f}"
        lines.append(f"| {row['kind']} | {row['cases']} | {row['SBTFileError']} | {row['correct output']} "
                     f"({row['different_valid_models']}) | {row['other']} | {row['max_memory_mib']:.1f} "
                     f"| {row['max_budget_ratio']:.3f} | {slow} |")
    lines += ["", "The data file lists every case but those of random damage (truncations, byte flips, header "
              "bytes, random bytes), which it summarises per kind."]
    api = results["non_bytes_input"]
    lines += ["", f"Non-bytes input (`from_bytes(2**34)`, a str, None): {api['outcome']} in at most "
              f"{api['max_seconds'] * 1000:.1f} ms (16 GiB were allocated before).", ""]
    return "\n".join(lines) + "\n"


def non_bytes_input() -> dict:
    times, outcomes = [], set()
    for value in (2**34, "text", None):
        start = time.perf_counter()
        try:
            SBTClassifier.from_bytes(value)
            outcomes.add("accepted")
        except TypeError:
            outcomes.add("TypeError")
        times.append(time.perf_counter() - start)
    return {"outcome": " / ".join(sorted(outcomes)), "max_seconds": max(times)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=float, default=1.0, help="scale of the number of random cases")
    parser.add_argument("--out", default="hostile_files")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # no OpenMP pool in the parent: forked children stay safe
    results = {"machine": machine(), "seed": args.seed, "cases_scale": args.cases,
               "budget": "64 MiB + 100 x file size", "classes": {}}
    fitted = {}
    for cls in ESTIMATORS:
        fitted[cls] = fit_original(cls)
        print(f"fitted {cls.__name__}: file of {len(fitted[cls][0].to_bytes())} bytes", flush=True)
    results["non_bytes_input"] = non_bytes_input()
    for i, cls in enumerate(ESTIMATORS):
        est, X = fitted[cls]
        rng = np.random.default_rng([args.seed, i])
        start = time.perf_counter()
        rows = run_class(cls, est, X, rng, args.cases)
        results["classes"][cls.__name__] = {
            "original_file_bytes": len(est.to_bytes()), "summary": summarise(rows), "by_kind": by_kind(rows),
            "rows": [compact(r) for r in rows if r["kind"] not in DAMAGE_KINDS]}
        print(f"{cls.__name__}: {len(rows)} cases in {time.perf_counter() - start:.0f} s", flush=True)
    write_results(args.out, results, markdown(results))


if __name__ == "__main__":
    main()
