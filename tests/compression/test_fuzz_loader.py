"""Property-based test: damaged model files never load silently with different predictions.

Every damaged file must either raise :class:`SBTFileError` (a ``ValueError``) within a second or,
where the damage is semantically void (for example a space in the header replaced by another JSON
whitespace character), load a model that predicts exactly as the original. No other exception
may escape. Well over 200 damaged files are generated. (Crafted files, written with a valid
digest to make the loader allocate or misbehave, are in test_hostile_files.py.)
"""

import json
import struct
import time
from functools import lru_cache

import numpy as np
import pytest
from _payload import deflate, inflate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from sbt_sklearn import SBTClassifier
from sbt_sklearn.compression import SBTFileError

N_EXAMPLES = 260  # per strategy below, the damage is drawn among several kinds


@lru_cache(maxsize=1)
def original():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2, 8)).astype(np.float32)
    clf = SBTClassifier(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=1, random_state=0)
    clf.fit(X, np.where(X[:, 0, -1] > 0, "a", "b"))
    return clf.to_bytes(), X, clf.predict_proba(X)


def _header_span(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return 8, 8 + n


def _truncate(blob, data):
    return blob[: data.draw(st.integers(0, len(blob) - 1), label="cut")]


def _flip_bytes(blob, data):
    out = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 8), label="n_flips")):
        i = data.draw(st.integers(0, len(out) - 1), label="pos")
        out[i] ^= data.draw(st.integers(1, 255), label="xor")
    return bytes(out)


def _flip_in_header(blob, data):
    lo, hi = _header_span(blob)
    out = bytearray(blob)
    i = data.draw(st.integers(lo, hi - 1), label="pos")
    out[i] = data.draw(st.integers(0, 255).filter(lambda b: b != out[i]), label="byte")
    return bytes(out)


def _flip_in_data(blob, data):
    _, hi = _header_span(blob)
    out = bytearray(blob)
    i = data.draw(st.integers(hi, len(out) - 1), label="pos")
    out[i] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    return bytes(out)


def _random_bytes(blob, data):
    return data.draw(st.binary(min_size=0, max_size=2048), label="junk")


def _random_after_prefix(blob, data):
    keep = data.draw(st.integers(0, len(blob)), label="keep")
    return blob[:keep] + data.draw(st.binary(min_size=1, max_size=64), label="tail")


def _insert_or_delete(blob, data):
    i = data.draw(st.integers(0, len(blob) - 1), label="pos")
    if data.draw(st.booleans(), label="insert"):
        return blob[:i] + data.draw(st.binary(min_size=1, max_size=16), label="ins") + blob[i:]
    return blob[:i] + blob[i + data.draw(st.integers(1, 16), label="n_del"):]


def _bad_length_prefix(blob, data):
    return struct.pack("<Q", data.draw(st.integers(0, 2**64 - 1), label="n")) + blob[8:]


def _edit_metadata(blob, data):
    """Change one value of the container metadata or of the JSON document in the payload.

    The payload is decompressed, edited and compressed again; the checksum is left as it was.
    """
    lo, hi = _header_span(blob)
    header = json.loads(blob[lo:hi])
    info = header["__metadata__"]
    key = data.draw(st.sampled_from(sorted(info) + ["payload"]), label="key")
    tensors = {k: np.array(v) for k, v in st_load(blob).items()}
    if key == "payload":
        raw = inflate(tensors["sbt"].tobytes())
        n_doc = struct.unpack("<Q", raw[:8])[0]
        doc = json.loads(raw[8 : 8 + n_doc])
        path = data.draw(st.sampled_from([
            ("estimator",), ("params", "d"), ("params", "p"), ("attributes", "n_channels_"),
            ("network", "module"), ("network", "regenerated_sha256"), ("network", "sparse_layers", "coding"),
            ("network", "kwargs"), ("format_version",), ("attributes", "classes_"), ("params", "n_jobs"),
            ("network", "sparse_layers", "rice_nbytes"), ("network", "sparse_layers", "n"),
        ]), label="path")
        node = doc["meta"]
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = data.draw(
            st.none() | st.integers(-5, 10**6) | st.text(max_size=8) | st.lists(st.integers(0, 99), max_size=20)
            | st.floats(allow_nan=False), label="value")
        text = json.dumps(doc).encode()
        tensors["sbt"] = np.frombuffer(deflate(struct.pack("<Q", len(text)) + text + raw[8 + n_doc:]), np.uint8)
    else:
        info[key] = data.draw(st.text(max_size=12), label="value")
    return st_save(tensors, metadata=info)


DAMAGES = [_truncate, _flip_bytes, _flip_in_header, _flip_in_data, _random_bytes, _random_after_prefix,
           _insert_or_delete, _bad_length_prefix, _edit_metadata]


@settings(max_examples=N_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_files_raise_the_clear_error_or_predict_identically(data):
    blob, X, proba = original()
    damage = data.draw(st.sampled_from(DAMAGES), label="damage")
    damaged = damage(blob, data)
    if damaged == blob:
        return
    start = time.perf_counter()
    try:
        loaded = SBTClassifier.from_bytes(damaged)
    except SBTFileError:
        assert time.perf_counter() - start < 1.0
        return
    np.testing.assert_array_equal(loaded.predict_proba(X), proba)


def test_the_undamaged_file_loads():
    blob, X, proba = original()
    np.testing.assert_array_equal(SBTClassifier.from_bytes(blob).predict_proba(X), proba)


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__)
def test_every_damage_kind_is_rejected_deterministically(damage):
    """One fixed draw per damage kind, so that a regression names the kind."""
    blob, _, _ = original()
    out = damage(blob, _FixedData(np.random.default_rng(7)))
    assert out != blob
    with pytest.raises(SBTFileError):
        SBTClassifier.from_bytes(out)


class _FixedData:
    """Deterministic replacement for hypothesis' ``data`` (draws from a few strategy kinds)."""

    def __init__(self, rng):
        self.rng = rng

    def draw(self, strategy, label=None):
        return _example(strategy, self.rng, label)


def _example(strategy, rng, label=None):
    if label in ("cut", "pos", "keep"):
        return 57  # inside the header of every file
    if label in ("n_flips", "n_del"):
        return 3
    if label in ("xor", "bit"):
        return 1
    if label == "byte":
        return 0
    if label in ("junk", "tail", "ins"):
        return bytes(rng.integers(0, 256, size=32, dtype=np.uint8))
    if label == "insert":
        return True
    if label == "n":
        return 1 << 40
    if label == "key":
        return "payload"
    if label == "path":
        return ("params", "d")
    if label == "value":
        return 12
    raise AssertionError(label)
