"""Hostile model files: crafted to allocate, block, crash or smuggle; each is refused promptly.

A model file's SHA-256 is a checksum, not a signature: the files below carry valid digests (they
are written by :func:`craft`, the way an attacker would write them) and valid framing. Each must
raise :class:`SBTFileError` within a second, inside the loader's memory budget (64 MiB + 100 bytes
per byte of file; tracemalloc sees Python and numpy allocations, and a file refused before its
network is built allocates no torch tensor), or load a model that predicts exactly as the original.
One section per class of issue 22:

1. network arguments: validated and sized before anything is built;
2. decompression and JSON bombs, attributes, bytes-like input, non-regular files, tensor shapes;
3. ``save`` never follows a planted link, writes the usual mode, and leaves no temporary file.

Further kinds: container header limits, hyperparameters and criterion tensors, subclasses, and
property-based variations of network arguments, attributes and JSON values.
"""

import copy
import json
import math
import os
import socket
import stat
import struct
import time
import tracemalloc
from functools import cache

import numpy as np
import pytest
import torch
from _outputs import main_output
from _params import INIT_PARAMS
from _payload import deflate, regenerate_everything, set_network_kwarg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save as st_save

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster, sliding_windows
from sbt_sklearn.compression import SBTFileError, read_model_bytes
from sbt_sklearn.compression import _format as fmt
from sbt_sklearn.estimators import _persistence
from sbt_sklearn.estimators._file_attributes import FILE_ATTRIBUTES
from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet

ESTIMATORS = (SBTClassifier, SBTForecaster, SBTAnomalyDetector)


# ---- fitted originals and how to craft files from them ------------------------------------------
@cache
def original(cls):
    """(file bytes, X, outputs) of a tiny fitted estimator of ``cls``."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 3, 10)).astype(np.float32)
    y = {SBTClassifier: np.where(X[:, 0, -1] > 0, "a", "b"), SBTForecaster: rng.normal(size=(32, 3)),
         SBTAnomalyDetector: None}[cls]
    extra = {"rarity": "marginal"} if cls is SBTAnomalyDetector else {}
    est = cls(**{**INIT_PARAMS[cls], **extra}).fit(X, y)
    return est.to_bytes(), X, main_output(est, X)


def container(payload: bytes, **metadata) -> bytes:
    """A format-3 container around a compressed payload, with a valid digest."""
    info = {"format": "sbt-sklearn-model", "format_version": "3", "sha256": __import__("hashlib").sha256(
        payload).hexdigest(), **metadata}
    return st_save({"sbt": np.frombuffer(payload, np.uint8)}, metadata=info)


def frame(doc: bytes, data: bytes = b"") -> bytes:
    """A file whose payload is ``doc`` (the JSON document, any bytes) and ``data``."""
    return container(deflate(struct.pack("<Q", len(doc)) + doc + data))


def write_raw(meta: dict, tensors: dict) -> bytes:
    """Like write_model_bytes, without the writer's own limits: what an attacker can write."""
    index = [[name, a.dtype.str, list(a.shape)] for name, a in tensors.items()]
    doc = json.dumps({"meta": meta, "tensors": index}, separators=(",", ":")).encode()
    return frame(doc, b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values()))


def craft(cls, edit) -> bytes:
    """The original file of ``cls`` with ``edit(meta, tensors)`` applied, rewritten with a valid digest."""
    meta, tensors = read_model_bytes(original(cls)[0])
    meta, tensors = copy.deepcopy(meta), {k: np.array(v) for k, v in tensors.items()}
    edit(meta, tensors)
    return write_raw(meta, tensors)


def kwarg(name, value, param=True):
    """Set a network argument (and, with ``param``, the hyperparameter of that name, which must agree)."""
    def edit(meta, tensors):
        set_network_kwarg(meta, name, value, param)
    return edit


def assert_refused(cls, blob, match=None, **kwargs):
    """Load ``blob``: it must raise SBTFileError within 1 s and the loader's memory budget (timed
    without tracemalloc, which slows allocations several-fold; the memory measured in a second load)."""
    start = time.perf_counter()
    with pytest.raises(SBTFileError, match=match) as info:
        cls.from_bytes(blob, **kwargs)
    elapsed = time.perf_counter() - start
    tracemalloc.start()
    try:
        with pytest.raises(SBTFileError, match=match):
            cls.from_bytes(blob, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0, f"refused after {elapsed:.2f} s"
    assert peak <= fmt.load_memory_budget(len(blob)), f"peak {peak} bytes"
    return info.value


@pytest.fixture
def never_built(monkeypatch):
    """Fail the test if a network is built: the file must be refused before."""
    def build(*args, **kwargs):
        raise AssertionError("the network was built")
    monkeypatch.setattr(_persistence.PersistenceMixin, "_build", classmethod(build))


# ---- 1. network arguments: checked and sized before building -----------------------------------
def consistent_tensors(n_layers):
    """A sparse-layer table that fits a network of ``n_layers`` (prune rate 0: empty masks) and no
    stored state (all of it regenerated), as an attacker who wants the network built would write it."""
    def edit(meta, tensors):
        regenerate_everything(meta, tensors, n_layers)
    return edit


@pytest.mark.parametrize("edits, match", [
    ([("d", 2048), ("d_ff", 8192), ("n_layers", 4)], "would take up to"),  # 3.7 GB and 40 s before
    ([("max_len", 10**8)], "would take up to"),
    ([("d", 512), ("n_heads", 1), ("max_len", 10**5)], "would take up to"),  # Q/K/V masks: 153 MB, sorted in int64
    ([("pos_encoding", "learnable"), ("max_len", 10**7)], "would take up to"),
    ([("n_classes", 10**9)], "classes_"),  # would need as many classes in the file
    ([("n_channels", 10**9)], "n_channels_"),
    ([("n_layers", 10**6)], "n_layers"),
    ([("d", 2**40)], "network argument d"),
    ([("n_heads", 3)], "divisible"),
    ([("d", 8.0)], "network argument d"),
    ([("d", True)], "network argument d"),
    ([("d", -8)], "network argument d"),
    ([("d", "8")], "network argument d"),
    ([("p", 1.5)], "prune rate"),
    ([("p", {"$float": "nan"})], "prune rate"),
    ([("binary", 1)], "boolean"),
    ([("attention", "evil")], "attention"),
    ([("norm", None)], "norm"),
    ([("seed", -1)], "seed"),
    ([("seed", 2**64)], "seed"),
    ([("evil", 1)], "unknown network arguments"),
])
def test_network_arguments_are_refused_before_building(edits, match, never_built):
    def edit(meta, tensors):  # a bad argument alone; the sizes with their hyperparameters (as they must agree)
        for name, value in edits:
            kwarg(name, value, param=match == "would take up to")(meta, tensors)
        layers = dict(edits).get("n_layers", 1)
        if isinstance(layers, int) and layers < 10:
            consistent_tensors(layers)(meta, tensors)
    assert_refused(SBTClassifier, craft(SBTClassifier, edit), match)


def test_missing_network_argument_is_refused(never_built):
    def edit(meta, tensors):
        meta["network"]["kwargs"]["$dict"] = [i for i in meta["network"]["kwargs"]["$dict"] if i[0] != "n_classes"]
    assert_refused(SBTClassifier, craft(SBTClassifier, edit), "missing")


@pytest.mark.parametrize("edit, match", [
    (kwarg("d", 16), "mask sizes"),  # layer table count right, mask bytes wrong
    (kwarg("n_layers", 2), "do not match the network"),
    (lambda m, t: m["network"]["sparse_layers"].update(coding="rrrrrrrr", rice_k=[0] * 8, rice_nbytes=[10**6] * 8),
     "longer than the packed bits"),
    (lambda m, t: m["network"]["sparse_layers"].update(keep_override=10**9), "keep count exceeds"),
    (lambda m, t: m["network"].update(module="SBTLastStepNet"), "does not use"),
])
def test_layer_table_and_masks_are_checked_against_the_arguments_before_building(edit, match, never_built):
    assert_refused(SBTClassifier, craft(SBTClassifier, edit), match)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=st.sampled_from([SBTClassificationNet, SBTLastStepNet]), c=st.integers(1, 4), o=st.integers(1, 4),
       heads=st.integers(1, 3), head_dim=st.integers(1, 4), n_layers=st.integers(1, 2), d_ff=st.integers(1, 9),
       max_len=st.integers(1, 9), binary=st.booleans(), p=st.sampled_from([0.0, 0.5]),
       attention=st.sampled_from(["full", "step_t", "qkv_mask"]),
       norm=st.sampled_from(["batch", "layer", "layer_plain", "none"]), pos=st.sampled_from(["fixed", "learnable"]),
       gate=st.booleans())
def test_network_plan_equals_the_built_network(net, c, o, heads, head_dim, n_layers, d_ff, max_len, binary, p,
                                                attention, norm, pos, gate):
    """The analytic memory is exactly the parameters and buffers a built network holds."""
    kwargs = dict(n_channels=c, d=heads * head_dim, n_heads=heads, n_layers=n_layers, d_ff=d_ff, p=p,
                  binary=binary, attention=attention, norm=norm, pos_encoding=pos, max_len=max_len)
    kwargs.update(n_classes=o) if net is SBTClassificationNet else kwargs.update(n_outputs=o, output_gate=gate)
    plan = fmt.plan_network(net.__name__, kwargs)
    module = net(**kwargs)
    tensors = list(module.parameters()) + list(module.buffers())
    assert plan.persistent_bytes == sum(t.numel() * t.element_size() for t in tensors)
    assert plan.sparse_numels == tuple(m.weight.numel() for _, m in fmt._sparse_layers(module))
    assert plan.state_shapes == {k: (tuple(v.shape), str(v.numpy().dtype)) for k, v in module.state_dict().items()}
    assert plan.peak_bytes > plan.persistent_bytes


def test_a_network_over_the_budget_loads_only_with_max_memory(monkeypatch):
    blob, X, expected = original(SBTClassifier)
    assert_refused(SBTClassifier, blob, "max_memory", max_memory=1 << 20)
    np.testing.assert_array_equal(main_output(SBTClassifier.from_bytes(blob, max_memory=1 << 30), X), expected)
    with pytest.raises(ValueError, match="max_memory"):
        SBTClassifier.from_bytes(blob, max_memory=-1)
    monkeypatch.setattr(_persistence, "load_memory_budget", lambda n: 1 << 20)
    est = SBTClassifier.from_bytes(blob, max_memory=1 << 30)
    with pytest.warns(UserWarning, match="load it with max_memory="):
        est.to_bytes()  # saving warns that the default budget will not do
    assert_refused(SBTClassifier, blob, "64 MiB \\+ 100 bytes per byte of file")


# ---- 2. bombs: decompression, JSON, attributes --------------------------------------------------
def test_decompression_bomb_inflates_no_further_than_declared():
    doc = b'{"meta":{},"tensors":[]}'
    blob = frame(doc, bytes(128 << 20))  # 128 MB of zeros behind a valid document: a 125 KB file
    assert_refused(SBTClassifier, blob, "no tensor describes")
    assert len(blob) < 150_000


@pytest.mark.parametrize("doc, data, match", [
    (b'{"meta":{},"tensors":[["junk","<f8",[134217728]]]}', b"", "inflate to more than"),
    (b'{"meta":{},"tensors":[["a","<f4",[0,18446744073709551616]]]}', b"", "bad tensor index"),
    (b'{"meta":{},"tensors":[["a","<f4",[2147483648]]]}', b"", "bad tensor index"),
    (b'{"meta":{},"tensors":[["a","<f4",[1,1,1,1,1,1,1,1,1]]]}', bytes(4), "bad tensor index"),
    (b'{"meta":{},"tensors":[["' + b"n" * 300 + b'","<f4",[1]]]}', bytes(4), "bad tensor index"),
    (b'{"meta":{},"tensors":[["a","|b1",[3]]]}', b"\x00\x01\x02", "other than 0 and 1"),
    (b"[" * 100_000 + b"]" * 100_000, b"", "nested deeper than"),
    (b'{"meta":{"x":"\\\\\\"' + b"[" * 100 + b'"},"tensors":[]}', b"", "format version"),  # brackets in a string
])
def test_malformed_payloads_are_refused_promptly(doc, data, match):
    assert_refused(SBTClassifier, frame(doc, data), match)


def test_declared_document_length_is_capped_before_inflating():
    blob = container(deflate(struct.pack("<Q", 2**40) + bytes(1000)))
    assert_refused(SBTClassifier, blob, "metadata runs past")
    blob = container(deflate(struct.pack("<Q", 1 << 20) + b" " * (1 << 20)))  # 1 MiB of spaces: a 1 KB file
    assert_refused(SBTClassifier, blob, "metadata runs past")


@pytest.mark.parametrize("item", ["[]", '{"$dict":[]}', '"ab"', "1.5", "[[[]]]", '{"$float":"nan"}'])
def test_json_bomb_at_the_document_cap_stays_inside_the_budget(item):
    """A document of small objects as long as a small file may hold: its Python objects fit the budget."""
    meta, tensors = read_model_bytes(original(SBTClassifier)[0])
    meta = {**meta, "attributes": {**meta["attributes"], "x": "BOMB"}}
    index = [[name, a.dtype.str, list(a.shape)] for name, a in tensors.items()]
    head, tail = json.dumps({"meta": meta, "tensors": index}, separators=(",", ":")).encode().split(b'"BOMB"')
    cap = fmt._doc_cap(1, 1, fmt.load_memory_budget(1))  # the cap of the smallest file: about 380 KiB
    n = (cap - len(head) - len(tail) - 2) // (len(item) + 1)
    doc = head + b"[" + b",".join([item.encode()] * n) + b"]" + tail
    assert len(doc) <= cap
    blob = frame(doc, b"".join(np.ascontiguousarray(a).tobytes() for a in tensors.values()))
    assert_refused(SBTClassifier, blob, "not fitted attributes")  # parsed and decoded, then refused


def test_decode_json_refuses_deep_nesting_and_big_arrays_without_recursion_errors():
    deep = []
    for _ in range(100_000):  # deeper than the interpreter's recursion limit
        deep = [deep]
    with pytest.raises(SBTFileError, match="deeper than 32"):
        fmt.decode_json(deep)
    for value in ({"$array": "<U999999", "shape": [1000], "data": ["a"] * 1000},
                  {"$array": "<U0", "shape": [2], "data": ["a" * 10**5, ""]},
                  {"$array": "<f8", "shape": [0, 2**64], "data": []}):
        with pytest.raises(SBTFileError):
            fmt.decode_json(value)


def test_metadata_beyond_the_default_budget_needs_max_memory_and_save_says_so(monkeypatch):
    est = SBTClassifier.from_bytes(original(SBTClassifier)[0])
    est.pals_history_ = [{"step": i, "p": 0.5 + i * 1e-9, "val_loss": 1.0 / (i + 1), "decision": "keep",
                          "p_after": 0.5} for i in range(8000)]  # a long PALS run: about 1.2 MB of JSON
    with pytest.warns(UserWarning, match="load it with max_memory="):
        blob = est.to_bytes()
    assert_refused(SBTClassifier, blob, "metadata runs past")
    assert SBTClassifier.from_bytes(blob, max_memory=1 << 30).pals_history_ == est.pals_history_
    monkeypatch.setattr(fmt, "_MAX_DOC", 1 << 16)  # beyond the absolute cap, save refuses to write
    with pytest.raises(ValueError, match="JSON metadata takes"):
        est.to_bytes()


def _attr(name, value):
    def edit(meta, tensors):
        tensors.pop(f"attr.{name}", None)
        meta["attributes"][name] = value
    return edit


def _attr_tensor(name, array):
    def edit(meta, tensors):
        meta["attributes"].pop(name, None)
        tensors[f"attr.{name}"] = array
    return edit


F = {"$float": "nan"}


@pytest.mark.parametrize("cls, edit, match", [
    (SBTClassifier, _attr_tensor("junk", np.zeros(150_000)), "not fitted attributes"),  # 1.2 GB before, as 1.2 MB
    (SBTClassifier, _attr("predict_proba", 1), "not fitted attributes"),
    (SBTClassifier, _attr("_predict_max_bytes", 10**12), "not fitted attributes"),
    (SBTClassifier, _attr("net_", 1), "not fitted attributes"),
    (SBTClassifier, _attr("classes_", {"$array": "<U1", "shape": [1], "data": ["a"]}), "classes_"),
    (SBTClassifier, _attr("classes_", {"$array": "|O", "shape": [2], "data": [[1], [2]]}), "hashable"),
    (SBTClassifier, _attr_tensor("scaler_mean_", np.zeros(5, np.float32)), "scaler_mean_"),
    (SBTClassifier, _attr_tensor("scaler_scale_", np.zeros(3, np.float32)), "positive"),
    (SBTClassifier, _attr_tensor("scaler_scale_", np.full(3, np.nan, np.float32)), "NaN"),
    (SBTClassifier, _attr("n_channels_", 4), "input channels"),
    (SBTClassifier, _attr("n_features_in_", 7), "n_features_in_"),
    (SBTClassifier, _attr("p_", 2.0), "p_"),
    (SBTClassifier, _attr("pals_history_", [[1]]), "records"),
    (SBTClassifier, _attr("patch_len_", 3), "patch_len_"),  # the network's tokens hold 1 step
    # a pruning buffer of dense PALS in a sign-binary network's file
    (SBTClassifier, lambda m, t: t.update({"state.encoder.embed.prune_mask": np.ones((8, 2), bool)}),
     "does not belong"),
    (SBTClassifier, lambda m, t: m["attributes"].pop("n_channels_"), "lacks"),
    (SBTClassifier, lambda m, t: m["attributes"].update(scaler_mean_=1.0), "stored twice"),
    (SBTForecaster, _attr("_y_1d", True), "_y_1d"),
    (SBTForecaster, _attr_tensor("base_coef_", np.zeros((3, 3), np.float16)), "base_coef_"),
    (SBTForecaster, _attr("base_lags_", 0), "linear base"),
    (SBTForecaster, _attr("base_lags_", 99), "base_lags_"),
    (SBTForecaster, lambda m, t: m["attributes"].pop("base_alpha_"), "all be present"),
    (SBTAnomalyDetector, _attr("threshold_", F), "threshold_"),
    (SBTAnomalyDetector, _attr("offset_", 0.0), "minus threshold_"),
    (SBTAnomalyDetector, _attr_tensor("channel_weights_", -np.ones(3)), "non-negative"),
    (SBTAnomalyDetector, _attr_tensor("error_tail_", np.zeros((2, 4), np.float32)), "increasing"),
    (SBTAnomalyDetector, _attr_tensor("value_bins_", -np.ones((2, 5), np.float16).cumsum(1)), "value_bins_"),
    (SBTAnomalyDetector, _attr("rarity_tail_", None), "partly unset"),
    (SBTAnomalyDetector, _attr("rarity_", None), "rarity_ rule"),
    (SBTAnomalyDetector, _attr("rarity_", "joint"), "rarity_"),
    (SBTAnomalyDetector, _attr("smooth_", 0), "smooth_"),
    (SBTAnomalyDetector, _attr("smooth_", "weekly"), "smooth_"),
    (SBTAnomalyDetector, _attr("score_selection_", [1, 2]), "score_selection_"),
])
def test_attributes_are_allowlisted_typed_and_consistent(cls, edit, match, never_built):
    assert_refused(cls, craft(cls, edit), match)


def test_unchanged_files_of_every_estimator_load_identically():
    for cls in ESTIMATORS:
        blob, X, expected = original(cls)
        np.testing.assert_array_equal(main_output(cls.from_bytes(blob), X), expected)
        for kind in (bytearray, memoryview, lambda b: np.frombuffer(b, np.uint8)):
            np.testing.assert_array_equal(main_output(cls.from_bytes(kind(blob)), X), expected)


def test_a_subclass_uses_its_base_class_allowlist(tmp_path):
    class MyClassifier(SBTClassifier):
        pass

    blob, X, expected = original(SBTClassifier)
    est = MyClassifier.from_bytes(craft(SBTClassifier, lambda m, t: m.update(estimator="MyClassifier")))
    est.extra_ = np.ones(3)
    with pytest.warns(UserWarning, match="'extra_' is not stored"):
        est.save(tmp_path / "m.sbt")
    back = MyClassifier.load(tmp_path / "m.sbt")
    assert type(back) is MyClassifier and not hasattr(back, "extra_")
    np.testing.assert_array_equal(back.predict_proba(X), expected)


def test_only_bytes_like_objects_are_accepted():
    start = time.perf_counter()
    for value in (2**34, "text", None, [1, 2], 3.5):
        with pytest.raises(TypeError, match="bytes-like"):
            SBTClassifier.from_bytes(value)
        with pytest.raises(TypeError, match="bytes-like"):
            read_model_bytes(value)
    assert time.perf_counter() - start < 1.0


def test_non_regular_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for path, match in [("/dev/zero", "not a regular file"), (fifo, "not a regular file"),
                            (sock_path, "not a regular file"), (tmp_path, "directory")]:
            start = time.perf_counter()
            with pytest.raises(SBTFileError, match=match):
                SBTClassifier.load(path)
            assert time.perf_counter() - start < 1.0
    finally:
        sock.close()
    big = tmp_path / "big.sbt"
    big.write_bytes(original(SBTClassifier)[0])
    with pytest.raises(SBTFileError, match="more than the 100 a model"):
        fmt.read_file_bytes(big, max_bytes=100)
    with open(big, "r+b") as fh:  # a sparse file larger than any model file: refused before reading
        fh.truncate(fmt.MAX_FILE_BYTES + 1)
    with pytest.raises(SBTFileError, match="more than the"):
        SBTClassifier.load(big)


@pytest.mark.parametrize("header, match", [
    ({"__metadata__": {"format": "sbt-sklearn-model", "format_version": "\u00b3"}}, "unsupported"),
    ({"__metadata__": {"format": "sbt-sklearn-model", "format_version": "3"}, "sbt": {"dtype": "F32", "shape": [1],
                                                                                       "data_offsets": [0, 1]}},
     "flat uint8"),
    ({"__metadata__": {"format": "sbt-sklearn-model", "format_version": "3", "pad": "x" * 70_000}}, "header takes"),
    ({"__metadata__": {"format": "sbt-sklearn-model", "format_version": "3"}}, "exactly one tensor"),
])
def test_container_header_is_bounded_and_exact(header, match):
    text = json.dumps(header).encode()
    blob = struct.pack("<Q", len(text)) + text + b"\x00"
    assert_refused(SBTClassifier, blob, match)


def test_deeply_nested_header_is_refused():
    text = b'{"__metadata__":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert_refused(SBTClassifier, struct.pack("<Q", len(text)) + text, "nested deeper")


@pytest.mark.parametrize("edit, match", [
    (lambda m, t: m["params"].update(p=7), "bad hyperparameters"),
    (lambda m, t: m["params"].update(d=16), "differ from the network's arguments"),  # sizes inference batches
    (lambda m, t: m["params"].update(callbacks=[1]), "callbacks"),
    (lambda m, t: m["params"].update(n_jobs=True), "n_jobs"),  # loaded, then every predict raised
    (lambda m, t: m["params"].update(max_epochs="x"), "bad hyperparameters"),
    (lambda m, t: t.update({"criterion.weight": np.ones(50, np.float32)}), "one float per output"),
    (lambda m, t: t.update({"evil": np.ones(1, np.float32)}), "unexpected tensors"),
])
def test_hyperparameters_and_other_tensors_are_checked(edit, match, never_built):
    assert_refused(SBTClassifier, craft(SBTClassifier, edit), match)


# ---- 3. save: exclusive temporary file, usual mode, nothing left behind --------------------------
def _clf():
    return SBTClassifier.from_bytes(original(SBTClassifier)[0])


def test_save_never_follows_a_link_planted_at_a_temporary_name(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "model.sbt"
    for name in (f"model.sbt.tmp-{os.getpid()}", ".model.sbt.tmp"):  # the old name, a guess at the new one
        os.symlink(victim, tmp_path / name)
    n_bytes = _clf().save(path)
    assert victim.read_text() == "precious"
    assert stat.S_ISREG(os.lstat(path).st_mode) and path.stat().st_size == n_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".model.sbt.tmp", "model.sbt", f"model.sbt.tmp-{os.getpid()}", "victim.txt"])


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_file_has_the_usual_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        _clf().save(tmp_path / "m.sbt")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.sbt").st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_save_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch, error):
    path = tmp_path / "m.sbt"
    path.write_bytes(b"old")

    def fail(fd):
        raise error("interrupted")
    monkeypatch.setattr(fmt.os, "fsync", fail)
    with pytest.raises(error):
        _clf().save(path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.sbt"]


def test_saving_onto_a_directory_fails_and_leaves_nothing(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError):
        _clf().save(tmp_path / "d")
    assert [p.name for p in tmp_path.iterdir()] == ["d"] and not list((tmp_path / "d").iterdir())


# ---- property-based: arguments, attributes, JSON values -----------------------------------------
_VALUES = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=6)
           | st.lists(st.integers(-3, 3), max_size=4)
           | st.fixed_dictionaries({"$float": st.sampled_from(["nan", "inf", "x"])})
           | st.fixed_dictionaries({"$array": st.sampled_from(["<f4", "<f8", "<i8", "|b1", "<U3", "|O", "V2"]),
                                    "shape": st.lists(st.integers(0, 4), max_size=2),
                                    "data": st.lists(st.integers(0, 2) | st.floats(), max_size=5)}))
_KWARGS = ["n_channels", "n_classes", "d", "n_heads", "n_layers", "d_ff", "p", "binary", "attention", "norm",
           "pos_encoding", "max_len", "topk_scope", "seed", "output_gate", "junk"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(_KWARGS), _VALUES | st.integers(0, 10**12)), min_size=1, max_size=3))
def test_any_network_arguments_are_refused_promptly_or_load_identically(edits):
    def edit(meta, tensors):
        for name, value in edits:
            kwarg(name, value)(meta, tensors)
    blob, X, expected = original(SBTClassifier)
    crafted = craft(SBTClassifier, edit)
    try:
        loaded = SBTClassifier.from_bytes(crafted)
    except SBTFileError:
        assert_refused(SBTClassifier, crafted)  # and promptly, within the budget
        return
    np.testing.assert_array_equal(main_output(loaded, X), expected)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cls=st.sampled_from(ESTIMATORS), name=st.sampled_from(sorted({n for a in FILE_ATTRIBUTES.values() for n in a}
                                                                    | {"fit", "__class__", "_y", "x_"})),
       value=_VALUES, as_tensor=st.booleans(), shape=st.lists(st.integers(0, 4), max_size=2))
def test_any_attribute_value_is_refused_or_loads_as_the_original_with_it(cls, name, value, as_tensor, shape):
    """A file that sets an attribute either is refused or loads the original with that attribute set."""
    array = np.linspace(0.5, 1.5, math.prod(shape), dtype=np.float32).reshape(shape)
    edit = _attr_tensor(name, array) if as_tensor else _attr(name, value)
    blob, X, _ = original(cls)
    try:
        loaded = cls.from_bytes(craft(cls, edit))
    except SBTFileError:
        return
    reference = cls.from_bytes(blob)
    setattr(reference, name, array if as_tensor else fmt.decode_json(value))
    np.testing.assert_array_equal(main_output(loaded, X), main_output(reference, X))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=4)
    | st.sampled_from(["$float", "$tuple", "$dict", "$array", "$scalar", "value", "shape", "data", "<f4", "|O", "<U9"]),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(
        st.sampled_from(["$float", "$tuple", "$dict", "$array", "$scalar", "value", "shape", "data"]), kids,
        max_size=3),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(data=_JSON)
def test_decode_json_returns_or_raises_the_clear_error(data):
    try:
        fmt.decode_json(data)
    except SBTFileError:
        pass


def test_budget_accounting_covers_the_parse_of_a_real_file():
    blob = original(SBTAnomalyDetector)[0]
    parts = fmt.parse_model_bytes(blob)
    assert parts.file_bytes == len(blob) and parts.doc_bytes < parts.raw_bytes
    assert parts.parse_memory < fmt.load_memory_budget(len(blob)) and math.isfinite(parts.parse_memory)
    assert torch.get_num_threads() >= 1


def test_a_detector_file_from_before_the_score_rule_attributes_loads_with_its_rarity():
    """Files written before rarity_/smooth_ existed: the rule was the rarity hyperparameter, unsmoothed."""
    def drop(meta, tensors):
        for name in ("rarity_", "smooth_", "scale_tails_", "score_selection_", "series_threshold_"):
            meta["attributes"].pop(name, None)
            tensors.pop(f"attr.{name}", None)

    blob, X, expected = original(SBTAnomalyDetector)
    det = SBTAnomalyDetector.from_bytes(craft(SBTAnomalyDetector, drop))
    assert (det.rarity_, det.smooth_, det.scale_tails_, det.score_selection_) == ("marginal", 1, None, None)
    assert det.series_threshold_ == det.threshold_
    np.testing.assert_array_equal(main_output(det, X), expected)


def test_a_max_rule_file_must_hold_the_error_and_rarity_tails_of_every_scale():
    """rarity_="max" with the multi-scale rule keeps two sets of tails, (2, scales, quantiles)."""
    series = np.cumsum(np.random.default_rng(3).normal(size=(120, 3)), axis=0).astype(np.float32)
    det = SBTAnomalyDetector(**INIT_PARAMS[SBTAnomalyDetector]).fit(sliding_windows(series, 10, horizon=0)[0])
    assert (det.rarity_, det.smooth_, det.scale_tails_.shape) == ("max", "multiscale", (2, 5, 65))
    meta, tensors = read_model_bytes(det.to_bytes())

    def edited(edit):
        m, t = copy.deepcopy(meta), {k: np.array(v) for k, v in tensors.items()}
        edit(m, t)
        return write_raw(m, t)

    np.testing.assert_array_equal(SBTAnomalyDetector.from_bytes(edited(lambda m, t: None)).score_series(series),
                                  det.score_series(series))
    assert_refused(SBTAnomalyDetector, edited(_attr_tensor("scale_tails_", det.scale_tails_[0])), "scale_tails_")
    assert_refused(SBTAnomalyDetector, edited(_attr("rarity_", "marginal")), "scale_tails_")
    backwards = det.scale_tails_[:, :, ::-1].copy()
    assert_refused(SBTAnomalyDetector, edited(_attr_tensor("scale_tails_", backwards)), "non-decreasing")
