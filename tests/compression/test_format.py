"""Model files: round trips of every estimator, what is stored, and clear errors."""

import hashlib
import json
import struct
import warnings
import zlib
from functools import cache

import numpy as np
import pytest
import torch
from _payload import deflate, inflate
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from sbt_sklearn.compression import SBTFileError, read_model_bytes
from sbt_sklearn.compression._format import decode_json, decode_mask, encode_json, encode_mask, write_model_bytes

TINY = dict(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=1, random_state=0)


@cache
def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 3, 10)).astype(np.float32)
    return X


@cache
def fitted(kind: str, **extra):
    X = _data()
    if kind == "classifier":
        return SBTClassifier(**TINY, **extra).fit(X, np.where(X[:, 0, -1] > 0, "up", "down"))
    if kind == "classifier_int":
        return SBTClassifier(**TINY, **extra).fit(X, (X[:, 1, 0] > 0).astype(np.int64) + 3)
    if kind == "forecaster":
        return SBTForecaster(**TINY, **extra).fit(X, X[:, :, -1] * 0.5 + 1.0)
    if kind == "forecaster_1d":
        return SBTForecaster(**TINY, **extra).fit(X[:, 0], X[:, 0, -1])
    return SBTAnomalyDetector(**TINY, **extra).fit(X)


def outputs(est, X):
    if isinstance(est, SBTClassifier):
        return est.predict_proba(X)
    if isinstance(est, SBTForecaster):
        return est.predict(X if est.n_channels_ > 1 else X[:, 0])
    return est.score_samples(X)


CASES = [
    ("classifier", {}),
    ("classifier_int", {"attention": "full", "norm": "layer", "p": 0.75}),
    ("classifier", {"topk_scope": "global", "pos_encoding": "learnable"}),
    ("forecaster", {}),
    ("forecaster_1d", {"p": 0.9}),
    ("forecaster", {"binary": False, "p": 0.0}),
    ("forecaster", {"binary": False, "p": 0.5, "target": "relative"}),
    ("anomaly", {}),
    ("anomaly", {"norm": "batch", "target": "reconstruct", "threshold": "pot"}),
]


@pytest.mark.filterwarnings("ignore:POT calibration")
@pytest.mark.parametrize("kind, extra", CASES)
def test_round_trip_predicts_identically(kind, extra, tmp_path):
    est = fitted(kind, **extra)
    path = tmp_path / "model.sbt"
    n_bytes = est.save(path)
    assert n_bytes == path.stat().st_size
    loaded = type(est).load(path)
    X = _data()
    np.testing.assert_array_equal(outputs(loaded, X), outputs(est, X))
    assert loaded.get_params() == est.get_params()
    for name, value in vars(est).items():
        if name in ("net_", "history_"):
            continue
        got = getattr(loaded, name)
        if isinstance(value, np.ndarray):
            assert got.dtype == value.dtype and got.shape == value.shape
            np.testing.assert_array_equal(got, value)
        else:
            assert got == value and type(got) is type(value), name


def test_loaded_estimator_predicts_labels_and_thresholds():
    clf = fitted("classifier")
    loaded = SBTClassifier.from_bytes(clf.to_bytes())
    np.testing.assert_array_equal(loaded.predict(_data()), clf.predict(_data()))
    ad = fitted("anomaly")
    loaded = SBTAnomalyDetector.from_bytes(ad.to_bytes())
    assert loaded.offset_ == ad.offset_ and loaded.threshold_ == ad.threshold_
    np.testing.assert_array_equal(loaded.predict(_data()), ad.predict(_data()))


def test_binary_layers_are_stored_as_masks_only():
    est = fitted("forecaster")
    meta, tensors = read_model_bytes(est.to_bytes())
    table = meta["network"]["sparse_layers"]
    assert table["n"] == 2 + 6 * est.n_layers and table["coding"] == "b" * table["n"] and table["p"] == 0.5
    # nothing per-weight in float: the only state tensors are the LayerNorm parameters and the output gate
    assert all(k == "state.output_gate" or k.rsplit(".", 2)[-2].startswith("norm")
               for k in tensors if k.startswith("state."))
    assert tensors["state.output_gate"].shape == (3,)
    sizes = [m.weight.numel() for m in est.module_.modules() if hasattr(m, "scores") and m.scores is not None]
    assert tensors["sbt.masks"].nbytes == sum((n + 7) // 8 for n in sizes)  # one bit per weight at p=0.5
    assert set(tensors) == {"sbt.masks", "attr.scaler_mean_", "attr.scaler_scale_", "attr.base_coef_",
                            "attr.base_intercept_"} | {k for k in tensors if k.startswith("state.")}
    assert tensors["attr.base_coef_"].dtype == np.float16  # the linear base, float16 as it is used


def test_container_is_one_compressed_safetensors_tensor():
    blob = fitted("forecaster").to_bytes()
    header = json.loads(blob[8 : 8 + struct.unpack("<Q", blob[:8])[0]])
    assert set(header) == {"__metadata__", "sbt"} and header["sbt"]["dtype"] == "U8"
    assert set(header["__metadata__"]) == {"format", "format_version", "sha256"}
    assert header["__metadata__"]["format_version"] == "3"
    payload = st_load(blob)["sbt"].tobytes()
    with pytest.raises(zlib.error):  # format 3 needs the preset dictionary
        zlib.decompress(payload)
    raw = inflate(payload)
    n_doc = struct.unpack("<Q", raw[:8])[0]
    doc = json.loads(raw[8 : 8 + n_doc])
    assert set(doc) == {"meta", "tensors"} and doc["tensors"][0][0] == "attr.scaler_mean_"


def test_preset_dictionary_is_fixed():
    """Format-3 files can only be read with exactly these dictionary bytes."""
    from sbt_sklearn.compression._dictionary import ZDICT_V3, ZDICT_V3_SHA256

    assert hashlib.sha256(ZDICT_V3).hexdigest() == ZDICT_V3_SHA256 == (
        "f155a5c103bfdb4bbb5bb86ef96f326a64123c3c0eb01dced6e58ac396d30f07")


def test_format_2_files_still_load():
    """Version 2 is version 3 without the preset dictionary."""
    est = fitted("forecaster")
    raw = inflate(st_load(est.to_bytes())["sbt"].tobytes())
    n_doc = struct.unpack("<Q", raw[:8])[0]
    doc = json.loads(raw[8 : 8 + n_doc])

    def plain(version_in_doc):  # the payload compressed without the dictionary
        doc["meta"]["format_version"] = version_in_doc
        text = json.dumps(doc).encode()
        return zlib.compress(struct.pack("<Q", len(text)) + text + raw[8 + n_doc:])

    X = _data()
    np.testing.assert_array_equal(SBTForecaster.from_bytes(_reframe(plain(2), "2")).predict(X), est.predict(X))
    with pytest.raises(SBTFileError, match="does not decompress"):
        SBTForecaster.from_bytes(_reframe(plain(2), "3"))
    with pytest.raises(SBTFileError, match="disagree on the format version"):
        SBTForecaster.from_bytes(_reframe(plain(3), "2"))


def test_metadata_costs_little_with_the_preset_dictionary():
    """The JSON document of a default model compresses to a few hundred bytes at most."""
    raw = inflate(st_load(fitted("forecaster").to_bytes())["sbt"].tobytes())
    n_doc = struct.unpack("<Q", raw[:8])[0]
    with_dict, without = len(deflate(raw[: 8 + n_doc])), len(zlib.compress(raw[: 8 + n_doc], 9))
    assert with_dict < 300 < without


def test_tensors_keep_dtype_shape_and_byte_order():
    tensors = {"a": np.arange(6, dtype=">f8").reshape(2, 3), "b": np.array([True, False]),
               "c": np.zeros((0, 4), np.int16), "d": np.array(7, np.uint32)}
    _, back = read_model_bytes(write_model_bytes({}, tensors))
    for name, value in tensors.items():
        assert back[name].shape == value.shape and back[name].dtype == value.dtype.newbyteorder("<")
        np.testing.assert_array_equal(back[name], value)
    with pytest.raises(TypeError, match="dtype"):
        write_model_bytes({}, {"s": np.array(["x"])})


def _reframe(raw: bytes, version: str = "3") -> bytes:
    """A container around an arbitrary (already compressed) payload, with a valid checksum."""
    meta = {"format": "sbt-sklearn-model", "format_version": version, "sha256": hashlib.sha256(raw).hexdigest()}
    return st_save({"sbt": np.frombuffer(raw, np.uint8)}, metadata=meta)


def _doc(text: bytes, tail: bytes = b"") -> bytes:
    return deflate(struct.pack("<Q", len(text)) + text + tail)


@pytest.mark.parametrize("payload, match", [
    (b"not zlib", "does not decompress"),
    (zlib.compress(b"x"), "does not decompress"),  # no preset dictionary: a format-2 stream
    (deflate(b"\xff" * 10), "metadata runs past"),
    (deflate(bytes(64 << 20)), "not valid JSON"),  # 64 MB of zeros, inflated within the limit
    (_doc(b"{}"), "'meta' and 'tensors'"),
    (deflate(b"x") + b"tail", "extra data"),
    (_doc(b'{"meta":{},"tensors":[["a"]]}'), "bad tensor index"),
    (_doc(b'{"meta":{},"tensors":[["a","<f4",[2]]]}', bytes(4)), "runs past"),
    (_doc(b'{"meta":{},"tensors":[["a","<f4",[1]],["a","<f4",[1]]]}', bytes(8)), "twice"),
    (_doc(b'{"meta":{},"tensors":[]}', bytes(1)), "no tensor describes"),
    (_doc(b'{"meta":{},"tensors":[["a","|O",[1]]]}', bytes(8)), "bad tensor index"),
    (_doc(b'{"meta":{},"tensors":[["a",">f4",[1]]]}', bytes(4)), "bad tensor index"),
], ids=["not-zlib", "no-dictionary", "doc-length", "zeros", "members", "extra-data", "index-entry", "short-data",
        "duplicate", "leftover", "object-dtype", "big-endian"])
def test_malformed_payloads_are_refused(payload, match):
    with pytest.raises(SBTFileError, match=match):
        read_model_bytes(_reframe(payload))


def test_plain_layer_norm_stores_no_float_parameters():
    est = fitted("forecaster", norm="layer_plain", linear_base=None)
    _, tensors = read_model_bytes(est.to_bytes())
    assert not [k for k in tensors if k.startswith("state.")]  # masks, scalers and nothing else
    loaded = SBTForecaster.from_bytes(est.to_bytes())
    np.testing.assert_array_equal(loaded.predict(_data()), est.predict(_data()))
    folded = est.export_folded()
    np.testing.assert_allclose(folded(torch.from_numpy(_data())).numpy(), est.predict(_data()), atol=1e-5)
    assert len(est.to_bytes()) < len(fitted("forecaster", linear_base=None).to_bytes())


def test_dense_layers_store_float_weights():
    # (the plain network, without the linear base and its output gate)
    est = fitted("forecaster", binary=False, p=0.0, linear_base=None)
    _, tensors = read_model_bytes(est.to_bytes())
    assert "state.decoder.weight" in tensors and tensors["sbt.masks"].size == 0


def test_scores_are_optional_and_restore_exactly():
    est = fitted("classifier")
    lean = SBTClassifier.from_bytes(est.to_bytes())
    full = SBTClassifier.from_bytes(est.to_bytes(include_scores=True))
    for a, b, _ in zip(est.module_.parameters(), full.module_.parameters(), lean.module_.parameters()):
        assert torch.equal(a.detach(), b.detach())
    layer = lean.module_.decoder
    assert set(torch.unique(layer.scores.detach()).tolist()) <= {0.0, 1.0}
    assert len(est.to_bytes(include_scores=True)) > len(est.to_bytes())


def test_history_is_optional():
    est = fitted("classifier")
    assert len(SBTClassifier.from_bytes(est.to_bytes()).history_) == 0
    loaded = SBTClassifier.from_bytes(est.to_bytes(include_history=True))
    assert len(loaded.history_) == len(est.history_)
    assert loaded.history_[-1]["train_loss"] == pytest.approx(est.history_[-1]["train_loss"])


def test_extended_qkv_mask_is_regenerated_not_stored():
    est = fitted("classifier")
    before = len(est.to_bytes())
    longer = np.random.default_rng(1).normal(size=(2, 3, 40)).astype(np.float32)
    proba = est.predict_proba(longer)  # extends the Q/K/V mask buffers to 40 steps
    assert len(est.to_bytes()) == before
    np.testing.assert_array_equal(SBTClassifier.from_bytes(est.to_bytes()).predict_proba(longer), proba)


def test_loading_puts_everything_on_the_cpu():
    loaded = SBTClassifier.from_bytes(fitted("classifier").to_bytes(), device="cpu")
    assert loaded.device == "cpu"
    assert all(t.device.type == "cpu" for t in loaded.module_.state_dict().values())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_device_on_cpu_machine_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        SBTClassifier.from_bytes(fitted("classifier").to_bytes(), device="cuda")


@pytest.mark.gpu
def test_model_trained_on_gpu_loads_on_cpu():
    X = _data()
    y = np.where(X[:, 0, -1] > 0, "up", "down")
    gpu = SBTClassifier(**TINY, device="cuda").fit(X, y)
    cpu = SBTClassifier.from_bytes(gpu.to_bytes(), device="cpu")
    np.testing.assert_allclose(cpu.predict_proba(X), gpu.predict_proba(X), atol=1e-5)


def test_wrong_estimator_class_is_refused():
    blob = fitted("classifier").to_bytes()
    with pytest.raises(SBTFileError, match="holds an SBTClassifier"):
        SBTForecaster.from_bytes(blob)
    from sbt_sklearn.estimators._base import SBTBase

    assert isinstance(SBTBase.from_bytes(blob), SBTClassifier)  # the base resolves the allowlisted class


def test_callbacks_and_random_state_instances_are_dropped_with_a_warning():
    from skorch.callbacks import EpochTimer

    X = _data()
    est = SBTClassifier(**{**TINY, "random_state": np.random.RandomState(0)}, callbacks=[EpochTimer()])
    est.fit(X, X[:, 0, 0] > 0)
    with pytest.warns(UserWarning) as record:
        blob = est.to_bytes()
    assert len(record) == 2
    loaded = SBTClassifier.from_bytes(blob)
    assert loaded.callbacks is None and loaded.random_state is None
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def _retamper(blob, edit):
    """Apply ``edit(meta, tensors)`` and rewrite the file with a *valid* checksum."""
    meta, tensors = read_model_bytes(blob)
    tensors = {k: np.array(v) for k, v in tensors.items()}
    edit(meta, tensors)
    return write_model_bytes(meta, tensors)


def _flip_mask_bit(meta, tensors):
    tensors["sbt.masks"][3] ^= 0b00010000


def _drop_tensor(name):
    def edit(meta, tensors):
        del tensors[name]
    return edit


def _set(path, value):
    def edit(meta, tensors):
        node = meta
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _kwarg(name, value):
    def edit(meta, tensors):
        items = meta["network"]["kwargs"]["$dict"]
        for item in items:
            if item[0] == name:
                item[1] = value
    return edit


@pytest.mark.parametrize("edit, match", [
    (_set(["estimator"], "os.system"), "unknown estimator class"),
    (_set(["estimator"], "SBTForecaster"), None),
    (_set(["network", "module"], "torch.nn.Module"), "unknown network class"),
    (_set(["network", "criterion"], "eval"), "unknown criterion"),
    (_set(["params", "no_such_param"], 1), "unknown hyperparameters"),
    (_set(["params", "d"], {"$evil": "x"}), "unknown JSON tag"),
    (_set(["attributes", "classes_"], {"$array": "V8", "shape": [1], "data": [0]}), "bad array dtype"),
    (_kwarg("seed", 12345), "regenerated from the seed differ"),
    (_kwarg("d", 16), None),
    (_kwarg("d_ff", 8), None),
    (_flip_mask_bit, None),
    (_set(["network", "sparse_layers", "p"], [0.1] * 8), None),
    (_set(["network", "sparse_layers", "p"], [0.5] * 7), "prune rates"),
    (_set(["network", "sparse_layers", "n"], 7), "do not match the network"),
    (_set(["network", "sparse_layers", "coding"], "bbbbbbbr"), "Rice"),
    (_set(["network", "sparse_layers", "keep_override"], -3), "overrides"),
    (_drop_tensor("sbt.masks"), "mask tensor"),
    (_set(["format_version"], 1), "format version"),
])
def test_consistently_tampered_files_are_rejected(edit, match):
    """Edits that keep the checksum valid are still caught by the semantic checks."""
    blob = _retamper(fitted("classifier").to_bytes(), edit)
    with pytest.raises(SBTFileError, match=match):
        SBTClassifier.from_bytes(blob)


def _with_container(blob, **changes):
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + n])
    header["__metadata__"].update(changes)
    return st_save({k: np.array(v) for k, v in st_load(blob).items()}, metadata=header["__metadata__"])


@pytest.mark.parametrize("version", ["1", "4", "two"])
def test_unknown_format_version_is_a_clear_error(version):
    blob = _with_container(fitted("classifier").to_bytes(), format_version=version)
    with pytest.raises(SBTFileError, match=f"unsupported model-file format version '{version}'"):
        SBTClassifier.from_bytes(blob)


def test_extra_container_tensors_are_refused():
    blob = fitted("classifier").to_bytes()
    n = struct.unpack("<Q", blob[:8])[0]
    info = json.loads(blob[8 : 8 + n])["__metadata__"]
    tensors = {**{k: np.array(v) for k, v in st_load(blob).items()}, "w": np.zeros(2, np.float32)}
    with pytest.raises(SBTFileError, match="exactly one tensor"):
        SBTClassifier.from_bytes(st_save(tensors, metadata=info))


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(st_save({"w": np.zeros(3, np.float32)}))
    with pytest.raises(SBTFileError, match="not an sbt_sklearn model file"):
        SBTClassifier.load(path)


@pytest.mark.parametrize("cut", [0, 5, 100, -1])
def test_truncated_files_are_refused(cut):
    blob = fitted("classifier").to_bytes()
    with pytest.raises(SBTFileError):
        SBTClassifier.from_bytes(blob[:cut] if cut >= 0 else blob[:-1])


def test_modified_file_fails_the_checksum():
    blob = bytearray(fitted("classifier").to_bytes())
    blob[-3] ^= 0x40
    with pytest.raises(SBTFileError, match="checksum"):
        SBTClassifier.from_bytes(bytes(blob))


# ---- codecs ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), density=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_mask_codes_round_trip(n, density, seed):
    mask = np.random.default_rng(seed).random(n) < density
    payload, coding, k = encode_mask(mask)
    assert len(payload) <= (n + 7) // 8  # never worse than packed bits
    np.testing.assert_array_equal(decode_mask(payload, coding, k, n, int(mask.sum())), mask)


def test_rice_code_is_close_to_the_entropy_at_p075():
    mask = np.zeros(100_000, dtype=bool)
    mask[np.random.default_rng(0).permutation(100_000)[:25_000]] = True
    payload, coding, _ = encode_mask(mask)
    entropy = -(0.25 * np.log2(0.25) + 0.75 * np.log2(0.75))  # 0.811 bits
    assert coding == "rice" and 8 * len(payload) / mask.size < entropy + 0.02


def test_mask_decoder_rejects_inconsistent_payloads():
    payload, coding, k = encode_mask(np.arange(64) % 5 == 0)
    with pytest.raises(SBTFileError):
        decode_mask(payload, coding, k, 64, 12)  # wrong count
    with pytest.raises(SBTFileError):
        decode_mask(payload[:-1], coding, k, 64, 13)
    with pytest.raises(SBTFileError):
        decode_mask(b"\xff" * 8, "bits", 0, 60, 60)  # non-zero padding


@settings(max_examples=40, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=3) | st.tuples(kids, kids)
    | st.dictionaries(st.integers() | st.text(max_size=3), kids, max_size=3),
    max_leaves=10,
))
def test_typed_json_round_trips(value):
    back = decode_json(json.loads(json.dumps(encode_json(value), allow_nan=False)))
    assert repr(back) == repr(value)


def test_typed_json_keeps_numpy_types():
    value = {"a": np.array(["x", "yy"]), "b": np.array([1, "z"], dtype=object), "c": np.float32(0.5),
             "d": np.int64(3), "e": np.arange(6, dtype=np.uint8).reshape(2, 3)}
    back = decode_json(json.loads(json.dumps(encode_json(value))))
    for key, v in value.items():
        assert type(back[key]) is type(v) and back[key].dtype == v.dtype
        np.testing.assert_array_equal(back[key], v)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError):
            encode_json(object())
