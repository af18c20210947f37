"""Test helpers: open and rebuild the compressed payload of a model file (format version 3)."""

import zlib

from sbt_sklearn.compression._dictionary import ZDICT_V3


def inflate(payload: bytes) -> bytes:
    """The raw payload (length, JSON document, tensor bytes) of a format-3 ``sbt`` tensor."""
    inflater = zlib.decompressobj(zdict=ZDICT_V3)
    return inflater.decompress(payload) + inflater.flush()


def deflate(raw: bytes) -> bytes:
    """A format-3 ``sbt`` tensor holding ``raw``."""
    deflater = zlib.compressobj(9, zdict=ZDICT_V3)
    return deflater.compress(raw) + deflater.flush()


def set_network_kwarg(meta: dict, name: str, value, param: bool = False) -> None:
    """Set a network argument in a model file's metadata; with ``param`` also the hyperparameter of
    that name, which the loader requires to agree (shared by the hostile-file tests and benchmark)."""
    from sbt_sklearn.estimators._persistence import _NETWORK_PARAMS

    if param and name in _NETWORK_PARAMS:
        meta["params"][name] = value
    items = meta["network"]["kwargs"]["$dict"]
    for item in items:
        if item[0] == name:
            item[1] = value
            return
    items.append([name, value])


def regenerate_everything(meta: dict, tensors: dict, n_layers: int) -> None:
    """Give a model file a sparse-layer table that fits a network of ``n_layers`` encoder layers
    (prune rate 0: empty masks) and no stored state, so that the loader regenerates all of it (as an
    attacker who wants the network built would write it; shared by the hostile-file tests and
    benchmark)."""
    import numpy as np

    n = 6 * n_layers + 2
    meta["network"]["sparse_layers"] = {"n": n, "p": 0.0, "keep_override": None, "coding": "r" * n,
                                        "rice_k": [0] * n, "rice_nbytes": [0] * n}
    tensors["sbt.masks"] = np.zeros(0, np.uint8)
    for key in [k for k in tensors if k.startswith("state.")]:
        del tensors[key]
