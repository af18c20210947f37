"""The ``.sbt`` model file: a safetensors file whose one tensor is a compressed payload.

Layout (format version 3)
-------------------------
A model file is a plain `safetensors <https://github.com/huggingface/safetensors>`_ file with
one ``uint8`` tensor named ``sbt`` and three string metadata entries (``__metadata__``):

``format``
    always ``"sbt-sklearn-model"``;
``format_version``
    the integer version of this layout (:data:`FORMAT_VERSION`); a reader rejects versions it
    does not know;
``sha256``
    the SHA-256 digest of the ``sbt`` tensor's bytes.

The ``sbt`` tensor is one zlib stream holding an 8-byte little-endian length, a JSON document
and then the raw bytes of every tensor, back to back. The stream is compressed with a preset
dictionary (:data:`~sbt_sklearn.compression._dictionary.ZDICT_V3`, a typical document of each
estimator): the JSON then costs about 150 bytes instead of 800. Version 2 is the same layout
without the dictionary; it is still read. The JSON document has two members:
``meta`` (package versions, the estimator class name, its hyperparameters and fitted
attributes, the network class and keyword arguments, the sparse-layer table, see
:func:`pack_module`) and ``tensors``, the ordered index ``[[name, dtype, shape], ...]`` of the
tensors that follow. One tensor per safetensors entry would cost about 70 bytes of header each,
more than all float tensors of a small model; the index costs a few bytes per tensor and
compresses with the rest.

Sparse-binary layers are stored as their mask (packed bits, or a Golomb-Rice code of the gaps
between the rarer symbol when that is smaller), never as float weights: the frozen random
weights are regenerated from the seed in the network's keyword arguments, a second digest
checks that the regenerated tensors are bit-identical to those the model was trained with, and
the gains ``alpha`` follow from those weights and the masks. Every other tensor that differs
from a freshly built network (norm parameters and statistics, biases, the weights of FP32
layers) is stored as is.

Reading checks the digest before decompressing (with a size limit), parses the document with
:mod:`json` and builds arrays with :func:`numpy.frombuffer`; it never unpickles or imports
anything named in the file. Every defect (truncation, bad JSON, unknown version, checksum or
shape mismatch) raises :class:`SBTFileError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import zlib

import numpy as np
import torch
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from ..nn import SparseBinaryLinear
from ._dictionary import ZDICT_V3

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SBTFileError",
    "decode_json",
    "decode_mask",
    "encode_json",
    "encode_mask",
    "pack_module",
    "read_model_bytes",
    "read_model_file",
    "unpack_module",
    "write_model_bytes",
    "write_model_file",
]

#: value of the ``format`` metadata entry of every model file
FORMAT_NAME = "sbt-sklearn-model"
#: version of the layout written by this package; readers accept only versions they know
FORMAT_VERSION = 3
#: readable versions and the preset zlib dictionary of each
_ZDICTS = {2: b"", 3: ZDICT_V3}
_READABLE_VERSIONS = frozenset(_ZDICTS)
#: largest header safetensors itself accepts (100 MB); anything beyond is not a model file
_MAX_HEADER = 100_000_000
#: largest decompressed payload a reader accepts (guards against decompression bombs)
_MAX_PAYLOAD = 1 << 31
#: dtypes a stored tensor may have (little-endian booleans, integers, floats)
_TENSOR_DTYPE_RE = re.compile(r"^[<|](b1|[iu][1248]|f[248])$")


class SBTFileError(ValueError):
    """A model file is truncated, corrupted, modified, of an unknown version or incompatible.

    Subclass of :class:`ValueError`.

    Examples
    --------
    >>> from sbt_sklearn.compression import SBTFileError, read_model_bytes
    >>> try:
    ...     read_model_bytes(b"not a model")
    ... except SBTFileError as exc:
    ...     print(type(exc).__name__)
    SBTFileError
    """


# --------------------------------------------------------------------------------------------
# Typed JSON: plain values, tuples, dicts with any keys, numpy scalars and small arrays
# --------------------------------------------------------------------------------------------
_DTYPE_RE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248]|[US][0-9]{1,6}|O)$")
_SCALAR_DTYPE_RE = re.compile(r"^[<>|=]?(b1|[iu][1248]|f[248])$")


def encode_json(value):
    """Encode a value as JSON-safe data that :func:`decode_json` turns back into an equal value.

    Handles ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``,
    lists, tuples, dicts (any encodable keys), numpy scalars and numpy arrays of booleans,
    numbers, strings or objects holding such values, and :class:`torch.device` (as a string).
    Every JSON object of the encoding carries exactly one tag (``$float``, ``$tuple``, ``$dict``,
    ``$scalar``, ``$array``), so decoding is unambiguous and builds nothing but these types.

    Parameters
    ----------
    value : object
        The value to encode.

    Returns
    -------
    object
        JSON-serialisable data.

    Raises
    ------
    TypeError
        For any other type.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.compression._format import decode_json, encode_json
    >>> data = encode_json({1: (2.5, float("nan")), "a": np.array(["x", "yz"])})
    >>> back = decode_json(data)
    >>> back[1][0], back["a"].dtype
    (2.5, dtype('<U2'))
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.generic):
        if isinstance(value, (np.bool_, np.integer, np.floating)):
            return {"$scalar": value.dtype.str, "value": encode_json(value.item())}
        if isinstance(value, np.str_):
            return str(value)
        raise TypeError(f"cannot encode numpy scalar of type {type(value).__name__}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, list):
        return [encode_json(v) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [encode_json(v) for v in value]}
    if isinstance(value, dict):
        return {"$dict": [[encode_json(k), encode_json(v)] for k, v in value.items()]}
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, np.ndarray):
        if not _DTYPE_RE.match(value.dtype.str):
            raise TypeError(f"cannot encode numpy arrays of dtype {value.dtype}")
        flat = value.reshape(-1)
        if value.dtype.kind == "O":
            data = [encode_json(v) for v in flat]
        elif value.dtype.kind == "f":
            data = [encode_json(float(v)) for v in flat]
        else:
            data = flat.tolist()
        return {"$array": value.dtype.str, "shape": list(value.shape), "data": data}
    raise TypeError(f"cannot encode a value of type {type(value).__name__}")


def _bad(msg: str) -> SBTFileError:
    return SBTFileError(f"invalid model file: {msg}")


def decode_json(data):
    """Inverse of :func:`encode_json`; raises :class:`SBTFileError` on anything unexpected.

    Parameters
    ----------
    data : object
        Data parsed from JSON.

    Returns
    -------
    object
        The decoded value.

    Examples
    --------
    >>> from sbt_sklearn.compression._format import decode_json
    >>> decode_json({"$tuple": [1, {"$float": "inf"}]})
    (1, inf)
    """
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_json(v) for v in data]
    if not isinstance(data, dict) or len(data) not in (1, 2, 3):
        raise _bad(f"unexpected JSON value {str(data)[:80]!r}")
    if set(data) == {"$float"}:
        text = data["$float"]
        if text not in ("nan", "inf", "-inf"):
            raise _bad(f"bad float {text!r}")
        return float(text)
    if set(data) == {"$tuple"} and isinstance(data["$tuple"], list):
        return tuple(decode_json(v) for v in data["$tuple"])
    if set(data) == {"$dict"} and isinstance(data["$dict"], list):
        out = {}
        for item in data["$dict"]:
            if not isinstance(item, list) or len(item) != 2:
                raise _bad("bad dict item")
            key = decode_json(item[0])
            try:
                out[key] = decode_json(item[1])
            except TypeError as exc:  # unhashable key
                raise _bad(f"bad dict key: {exc}") from exc
        return out
    if set(data) == {"$scalar", "value"}:
        dtype = data["$scalar"]
        if not isinstance(dtype, str) or not _SCALAR_DTYPE_RE.match(dtype):
            raise _bad(f"bad scalar dtype {dtype!r}")
        value = decode_json(data["value"])
        if isinstance(value, (list, tuple, dict, str)) or value is None:
            raise _bad("bad scalar value")
        try:
            return np.dtype(dtype).type(value)
        except (OverflowError, ValueError, TypeError) as exc:
            raise _bad(f"bad scalar: {exc}") from exc
    if set(data) == {"$array", "shape", "data"}:
        return _decode_array(data)
    raise _bad(f"unknown JSON tag in {sorted(data)[:3]}")


def _decode_array(data) -> np.ndarray:
    dtype, shape, values = data["$array"], data["shape"], data["data"]
    if not isinstance(dtype, str) or not _DTYPE_RE.match(dtype):
        raise _bad(f"bad array dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in shape) or len(shape) > 8:
        raise _bad("bad array shape")
    if not isinstance(values, list) or math.prod(shape) != len(values):
        raise _bad("array data does not match its shape")
    dt = np.dtype(dtype)
    if dt.kind == "O":
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = decode_json(v)
        return out.reshape(shape)
    items = [decode_json(v) for v in values]
    if any(isinstance(v, (list, tuple, dict)) or v is None for v in items):
        raise _bad("bad array element")
    if dt.kind in "US" and not all(isinstance(v, str) for v in items):
        raise _bad("bad string array element")
    try:
        return np.array(items, dtype=dt).reshape(shape)
    except (OverflowError, ValueError, TypeError) as exc:
        raise _bad(f"bad array: {exc}") from exc


# --------------------------------------------------------------------------------------------
# Mask coding: packed bits or Golomb-Rice coded gaps (vectorised, no per-bit Python loop)
# --------------------------------------------------------------------------------------------
def _rice_cost(gaps: np.ndarray, k: int) -> int:
    return int((gaps >> k).sum()) + len(gaps) * (k + 1)


def encode_mask(mask: np.ndarray) -> tuple[bytes, str, int]:
    """Code a boolean mask in as few bytes as a simple scheme allows.

    Two codes are tried and the shorter kept:

    * ``"bits"``: :func:`numpy.packbits` of the flat mask, one bit per entry;
    * ``"rice"``: the positions of the rarer symbol, as gaps (runs of the common symbol before
      each one) coded with a Golomb-Rice code of parameter ``k``: the quotients ``gap >> k``
      in unary, then all remainders in ``k`` bits each. For an i.i.d. mask with keep fraction
      0.25 this costs about 0.82 bits per entry, close to the entropy H(0.25) = 0.811; at 0.5
      the packed bits (1 bit per entry, the entropy) win.

    The decoder needs the mask's size and its number of ones (both stored in the layer table).

    Parameters
    ----------
    mask : ndarray of bool
        The mask (any shape; coded flat in C order).

    Returns
    -------
    payload : bytes
        The coded mask.
    coding : {"bits", "rice"}
        The code used.
    k : int
        Rice parameter (0 for ``"bits"``).

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.compression._format import decode_mask, encode_mask
    >>> mask = np.random.default_rng(0).random(4000) < 0.1
    >>> payload, coding, k = encode_mask(mask)
    >>> coding, len(payload) < 4000 // 8
    ('rice', True)
    >>> bool((decode_mask(payload, coding, k, 4000, int(mask.sum())) == mask).all())
    True
    """
    flat = np.ascontiguousarray(mask, dtype=bool).reshape(-1)
    n, ones = flat.size, int(flat.sum())
    raw = np.packbits(flat).tobytes()
    rare = ones <= n - ones
    positions = np.flatnonzero(flat if rare else ~flat).astype(np.int64)
    gaps = np.diff(positions, prepend=-1) - 1
    if len(gaps) == 0:
        return b"", "rice", 0
    costs = [_rice_cost(gaps, k) for k in range(0, 40)]
    k = int(np.argmin(costs))
    if (costs[k] + 7) // 8 >= len(raw):
        return raw, "bits", 0
    q = gaps >> k
    unary = np.ones(int(q.sum()) + len(q), dtype=np.uint8)
    unary[np.cumsum(q + 1) - 1] = 0  # each quotient is q ones closed by a zero
    if k:
        rem = gaps & ((1 << k) - 1)
        rem_bits = ((rem[:, None] >> np.arange(k - 1, -1, -1, dtype=np.int64)) & 1).astype(np.uint8).ravel()
    else:
        rem_bits = np.zeros(0, dtype=np.uint8)
    return np.packbits(np.concatenate([unary, rem_bits])).tobytes(), "rice", k


def decode_mask(payload: bytes, coding: str, k: int, numel: int, n_ones: int) -> np.ndarray:
    """Decode a mask written by :func:`encode_mask` (flat boolean array of ``numel`` entries).

    Raises :class:`SBTFileError` if the payload is not exactly a valid code of a mask with
    ``numel`` entries and ``n_ones`` ones.

    Parameters
    ----------
    payload : bytes
        The coded mask.
    coding : {"bits", "rice"}
        The code.
    k : int
        Rice parameter.
    numel : int
        Number of entries.
    n_ones : int
        Number of ones (kept entries).

    Returns
    -------
    ndarray of bool, shape (numel,)
        The mask.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.compression._format import decode_mask
    >>> decode_mask(np.packbits([1, 0, 1]).tobytes(), "bits", 0, 3, 2)
    array([ True, False,  True])
    """
    buf = np.frombuffer(payload, dtype=np.uint8)
    if not 0 <= n_ones <= numel:
        raise _bad("mask count out of range")
    if coding == "bits":
        if len(buf) != (numel + 7) // 8:
            raise _bad("packed mask has the wrong length")
        bits = np.unpackbits(buf)
        if bits[numel:].any():
            raise _bad("packed mask has non-zero padding")
        mask = bits[:numel].astype(bool)
    elif coding == "rice":
        if not 0 <= k < 40:
            raise _bad("bad Rice parameter")
        rare = n_ones <= numel - n_ones
        count = n_ones if rare else numel - n_ones
        bits = np.unpackbits(buf)
        zeros = np.flatnonzero(bits == 0)
        if len(zeros) < count:
            raise _bad("Rice-coded mask is too short")
        ends = zeros[:count]
        used = (int(ends[-1]) + 1 if count else 0) + count * k
        if (used + 7) // 8 != len(buf) or bits[used:].any():
            raise _bad("Rice-coded mask has the wrong length")
        q = np.diff(ends, prepend=-1) - 1
        start = int(ends[-1]) + 1 if count else 0
        rem = np.zeros(count, dtype=np.int64)
        if k:
            rb = bits[start : start + count * k].reshape(count, k).astype(np.int64)
            rem = rb @ (np.int64(1) << np.arange(k - 1, -1, -1, dtype=np.int64))
        gaps = (q.astype(np.int64) << k) + rem
        positions = np.cumsum(gaps + 1) - 1
        if count and (positions[-1] >= numel or positions[-1] < 0):
            raise _bad("Rice-coded mask overruns its layer")
        mask = np.full(numel, not rare, dtype=bool)
        mask[positions] = rare
    else:
        raise _bad(f"unknown mask coding {coding!r}")
    if int(mask.sum()) != n_ones:
        raise _bad("mask count differs from the layer table")
    return mask


# --------------------------------------------------------------------------------------------
# Container: safetensors + metadata + checksum
# --------------------------------------------------------------------------------------------
def _little_endian(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    arr = arr if arr.flags.c_contiguous else arr.copy(order="C")  # (ascontiguousarray makes 0-d arrays 1-d)
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if not _TENSOR_DTYPE_RE.match(arr.dtype.str):
        raise TypeError(f"cannot store a tensor of dtype {arr.dtype}")
    return arr


def write_model_bytes(meta: dict, tensors: dict) -> bytes:
    """Serialise metadata (a JSON-safe dict) and numpy tensors into model-file bytes.

    Parameters
    ----------
    meta : dict
        JSON-serialisable metadata (see :func:`encode_json`).
    tensors : dict of str to ndarray
        Named tensors of boolean, integer or float dtype (stored little-endian, in this order).

    Returns
    -------
    bytes
        The file content.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.compression import read_model_bytes
    >>> from sbt_sklearn.compression._format import write_model_bytes
    >>> blob = write_model_bytes({"hello": 1}, {"x": np.arange(3, dtype=np.int64)})
    >>> meta, tensors = read_model_bytes(blob)
    >>> meta["hello"], tensors["x"].tolist()
    (1, [0, 1, 2])
    """
    arrays = {str(k): _little_endian(v) for k, v in tensors.items()}
    index = [[name, arr.dtype.str, list(arr.shape)] for name, arr in arrays.items()]
    doc = json.dumps({"meta": meta, "tensors": index}, separators=(",", ":"), allow_nan=False).encode("utf-8")
    raw = b"".join([struct.pack("<Q", len(doc)), doc, *(arr.tobytes() for arr in arrays.values())])
    deflate = zlib.compressobj(9, zdict=_ZDICTS[FORMAT_VERSION])
    payload = deflate.compress(raw) + deflate.flush()
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    return _st_save({"sbt": np.frombuffer(payload, dtype=np.uint8)}, metadata=metadata)


def write_file_atomic(path, blob: bytes) -> int:
    """Write ``blob`` to ``path`` through a temporary file and a rename; return its length."""
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(blob)
    os.replace(tmp, path)
    return len(blob)


def read_file_bytes(path) -> bytes:
    """The content of a model file; a directory is an :class:`SBTFileError`."""
    try:
        with open(os.fspath(path), "rb") as fh:
            return fh.read()
    except IsADirectoryError as exc:
        raise SBTFileError(f"not a model file: {path} is a directory") from exc


def write_model_file(path, meta: dict, tensors: dict) -> int:
    """Write :func:`write_model_bytes` to ``path`` atomically; return the number of bytes."""
    return write_file_atomic(path, write_model_bytes(meta, tensors))


def read_model_bytes(blob: bytes) -> tuple[dict, dict]:
    """Parse and verify model-file bytes; return ``(metadata, tensors)``.

    Checks, in order: the safetensors framing (length prefix, header JSON, data offsets that
    cover the file exactly), the format name and version, the SHA-256 digest of the payload,
    its decompression (size-limited) and the tensor index. Runs no code from the file.

    Parameters
    ----------
    blob : bytes
        The file content.

    Returns
    -------
    meta : dict
        The parsed metadata document.
    tensors : dict of str to ndarray
        The tensors (read-only numpy arrays, on the CPU).

    Raises
    ------
    SBTFileError
        On any defect.

    Examples
    --------
    >>> from sbt_sklearn.compression import SBTFileError, read_model_bytes
    >>> try:
    ...     read_model_bytes(b"\\x08" + bytes(7))
    ... except SBTFileError as exc:
    ...     print("truncated" in str(exc))
    True
    """
    blob = bytes(blob)
    if len(blob) < 8:
        raise SBTFileError("invalid model file: truncated (shorter than the 8-byte header length)")
    (n_header,) = struct.unpack("<Q", blob[:8])
    if n_header > min(len(blob) - 8, _MAX_HEADER):
        raise SBTFileError("invalid model file: truncated (the header runs past the end of the file)")
    try:
        header = json.loads(blob[8 : 8 + n_header].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SBTFileError(f"invalid model file: the header is not valid JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise _bad("the header is not a JSON object")
    info = header.get("__metadata__")
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise SBTFileError("not an sbt_sklearn model file (safetensors metadata lacks format='sbt-sklearn-model')")
    version = info.get("format_version")
    if not isinstance(version, str) or not version.isdigit() or int(version) not in _READABLE_VERSIONS:
        raise SBTFileError(
            f"unsupported model-file format version {version!r}: this sbt_sklearn reads version(s) "
            f"{sorted(_READABLE_VERSIONS)}; a newer file needs a newer sbt_sklearn"
        )
    entry = header.get("sbt")
    if set(header) != {"__metadata__", "sbt"} or not isinstance(entry, dict):
        raise _bad("the container must hold exactly one tensor named 'sbt'")
    offsets = entry.get("data_offsets")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
        raise _bad("bad entry for the 'sbt' tensor")
    if 8 + n_header + offsets[1] != len(blob):
        raise SBTFileError(f"invalid model file: truncated or padded (tensor data ends at byte "
                           f"{8 + n_header + offsets[1]}, file has {len(blob)})")
    try:
        payload = _st_load(blob)["sbt"]
    except Exception as exc:  # safetensors raises its own error types on malformed data
        raise SBTFileError(f"invalid model file: corrupted tensor data ({exc})") from exc
    if payload.dtype != np.uint8 or payload.ndim != 1:
        raise _bad("the 'sbt' tensor must be a flat uint8 array")
    payload = payload.tobytes()
    if info.get("sha256") != hashlib.sha256(payload).hexdigest():
        raise SBTFileError("invalid model file: checksum mismatch (the file is corrupted or was modified)")
    meta, tensors = _parse_payload(payload, _ZDICTS[int(version)])
    if "format_version" in meta and meta["format_version"] != int(version):
        raise SBTFileError("invalid model file: metadata and container disagree on the format version")
    return meta, tensors


def _parse_payload(payload: bytes, zdict: bytes) -> tuple[dict, dict]:
    if zdict and (len(payload) < 2 or not payload[1] & 0x20):  # FDICT: the stream names a preset dictionary
        raise SBTFileError("invalid model file: the payload does not decompress (it was not compressed "
                           "with the format's preset dictionary)")
    inflater = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
    try:
        raw = inflater.decompress(payload, _MAX_PAYLOAD)
    except zlib.error as exc:
        raise SBTFileError(f"invalid model file: the payload does not decompress ({exc})") from exc
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise _bad("the payload is too large, incomplete or followed by extra data")
    if len(raw) < 8:
        raise _bad("the payload is too short")
    (n_doc,) = struct.unpack("<Q", raw[:8])
    if n_doc > len(raw) - 8:
        raise _bad("the metadata runs past the end of the payload")
    try:
        doc = json.loads(raw[8 : 8 + n_doc].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SBTFileError(f"invalid model file: the metadata is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or set(doc) != {"meta", "tensors"} or not isinstance(doc["meta"], dict) \
            or not isinstance(doc["tensors"], list):
        raise _bad("the metadata is not a JSON object with 'meta' and 'tensors'")
    tensors, offset = {}, 8 + n_doc
    for item in doc["tensors"]:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], str) and _TENSOR_DTYPE_RE.match(item[1]) and isinstance(item[2], list)
                and len(item[2]) <= 8 and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                              for n in item[2])):
            raise _bad(f"bad tensor index entry {str(item)[:80]!r}")
        name, dtype, shape = item[0], np.dtype(item[1]), tuple(item[2])
        if name in tensors:
            raise _bad(f"tensor {name[:60]!r} appears twice")
        nbytes = math.prod(shape) * dtype.itemsize
        if offset + nbytes > len(raw):
            raise _bad(f"the data of tensor {name[:60]!r} runs past the end of the payload")
        tensors[name] = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)
        offset += nbytes
    if offset != len(raw):
        raise _bad("the payload holds bytes that no tensor describes")
    return doc["meta"], tensors


def read_model_file(path) -> tuple[dict, dict]:
    """Read and verify a model file; see :func:`read_model_bytes`."""
    return read_model_bytes(read_file_bytes(path))


# --------------------------------------------------------------------------------------------
# Networks: what to store, how to rebuild
# --------------------------------------------------------------------------------------------
def _sparse_layers(module: torch.nn.Module) -> list[tuple[str, SparseBinaryLinear]]:
    return [(n, m) for n, m in module.named_modules() if isinstance(m, SparseBinaryLinear) and m.scores is not None]


def _regen_digest(state: dict, keys: list[str]) -> str:
    h = hashlib.sha256()
    for key in sorted(keys):
        t = state[key].detach().cpu().contiguous()
        h.update(key.encode() + b"\0" + str(t.dtype).encode() + repr(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def _squeeze(column: list):
    """A column as one value when all its entries are equal (and it is not empty)."""
    return column[0] if column and all(v == column[0] and type(v) is type(column[0]) for v in column) else column


def _unsqueeze(value, n: int) -> list:
    return list(value) if isinstance(value, list) else [value] * n


def pack_module(module: torch.nn.Module, fresh: torch.nn.Module, *, include_scores: bool = False):
    """Split a trained SBT network into metadata and the few tensors a file must hold.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network (any device).
    fresh : torch.nn.Module
        The same network class built again with the same keyword arguments (on the CPU): every
        tensor equal to its freshly built value is regenerated at load time instead of stored.
    include_scores : bool, default=False
        Also store the float32 scores of every sparse-binary layer (needed only to continue
        training; inference needs the masks).

    Returns
    -------
    meta : dict
        The network part of the metadata: the sparse-layer table (number of layers; prune rate,
        keep-count override and mask code per layer, one value when all layers agree; Rice
        parameters and byte counts of the Rice-coded masks only), the digest of the regenerated
        tensors and the network's prune rate.
    tensors : dict of str to ndarray
        ``sbt.masks`` (coded masks of all sparse layers, concatenated), ``state.<key>`` for
        stored state tensors and, optionally, ``scores.<layer>``.

    Raises
    ------
    ValueError
        If the frozen weights of a sign-binary layer differ from their seed-regenerated values.
    """
    if hasattr(module, "_before_forward"):  # global top-k: the keep counts an eval forward would use
        was_training = module.training
        module.eval()
        with torch.no_grad():
            module._before_forward()
        module.train(was_training)
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    fresh_state = fresh.state_dict()
    layers = _sparse_layers(module)
    skip, regen, tensors = set(), [], {}
    codes, ps, overrides, rice_k, rice_nbytes, blobs = [], [], [], [], [], []
    for name, layer in layers:
        prefix = f"{name}." if name else ""
        skip.add(prefix + "scores")
        with torch.no_grad():
            mask = layer.mask().cpu().numpy().reshape(-1)
        payload, coding, k = encode_mask(mask)
        blobs.append(payload)
        codes.append(coding[0])
        if coding == "rice":
            rice_k.append(k)
            rice_nbytes.append(len(payload))
        ps.append(float(layer.p))
        overrides.append(layer.keep_override)
        if layer.binary:
            wkey = prefix + "weight"
            if not torch.equal(state[wkey].float(), fresh_state[wkey]):
                raise ValueError(
                    f"the frozen weights of layer {name!r} differ from the values regenerated from its seed; "
                    "the model cannot be stored compactly (were its weights modified?)"
                )
        if include_scores:
            tensors[f"scores.{name}"] = state[prefix + "scores"].float().numpy()
    for key, value in state.items():
        if key in skip:
            continue
        ref = fresh_state.get(key)
        if ref is not None and key.endswith("qkv_mask") and value.dim() == 3 and ref.dim() == 3 \
                and value.shape[1] > ref.shape[1] and value.shape[0::2] == ref.shape[0::2]:
            value = value[:, : ref.shape[1]]  # a buffer extended for longer windows: its prefix regenerates
        if ref is not None and ref.dtype == value.dtype and ref.shape == value.shape and torch.equal(ref, value):
            regen.append(key)
        else:
            tensors[f"state.{key}"] = value.contiguous().numpy()
    tensors["sbt.masks"] = np.frombuffer(b"".join(blobs), dtype=np.uint8).copy()
    table = {"n": len(layers), "p": _squeeze(ps), "keep_override": _squeeze(overrides), "coding": "".join(codes),
             "rice_k": rice_k, "rice_nbytes": rice_nbytes}
    meta = {
        "sparse_layers": table,
        "regenerated_sha256": _regen_digest(fresh_state, regen),
        "network_p": getattr(module, "p", None) if isinstance(getattr(module, "p", None), float) else None,
        "scores": bool(include_scores),
    }
    return meta, tensors


def _int_list(value, n: int | None, what: str) -> list:
    if not isinstance(value, list) or (n is not None and len(value) != n) or not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) for v in value):
        raise _bad(f"bad {what} in the sparse-layer table")
    return value


def _layer_table(table, n: int):
    """Validated columns (codes, prune rates, overrides, Rice parameters, Rice sizes) of the table."""
    if not isinstance(table, dict) or table.get("n") != n:
        raise SBTFileError("invalid model file: its sparse-binary layers do not match the network it describes")
    codes = table.get("coding")
    if not isinstance(codes, str) or len(codes) != n or set(codes) - {"b", "r"}:
        raise _bad("bad mask codes in the sparse-layer table")
    ps = _unsqueeze(table.get("p"), n)
    if len(ps) != n or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0
                               for v in ps):
        raise _bad("bad prune rates in the sparse-layer table")
    overrides = _int_list(_unsqueeze(table.get("keep_override"), n), n, "keep-count overrides")
    n_rice = codes.count("r")
    ks = _int_list(table.get("rice_k"), n_rice, "Rice parameters")
    nbytes = _int_list(table.get("rice_nbytes"), n_rice, "Rice sizes")
    if any(v is None for v in ks + nbytes):
        raise _bad("bad Rice columns in the sparse-layer table")
    return codes, [float(v) for v in ps], overrides, ks, nbytes


def unpack_module(module: torch.nn.Module, meta: dict, tensors: dict) -> None:
    """Restore a freshly built network in place from :func:`pack_module`'s output.

    The frozen weights and other regenerated tensors are checked against the stored digest,
    and every mask is decoded and set (scores become the 0/1 mask, or the stored scores); the
    gains follow from the regenerated weights and the masks.

    Parameters
    ----------
    module : torch.nn.Module
        A network built with the stored class and keyword arguments.
    meta : dict
        The network metadata written by :func:`pack_module`.
    tensors : dict of str to ndarray
        The file's tensors.

    Raises
    ------
    SBTFileError
        If the file does not match the network or any check fails.
    """
    if not isinstance(meta, dict):
        raise _bad("bad network metadata")
    state = module.state_dict()
    layers = _sparse_layers(module)
    codes, ps, overrides, ks, rice_nbytes = _layer_table(meta.get("sparse_layers"), len(layers))
    include_scores = meta.get("scores")
    if not isinstance(include_scores, bool):
        raise _bad("bad 'scores' flag")
    masks_blob = tensors.get("sbt.masks")
    if masks_blob is None or masks_blob.dtype != np.uint8 or masks_blob.ndim != 1:
        raise _bad("missing or malformed mask tensor")
    rice_sizes = iter(rice_nbytes)
    nbytes = [next(rice_sizes) if code == "r" else (layer.weight.numel() + 7) // 8
              for code, (_, layer) in zip(codes, layers)]
    if sum(nbytes) != masks_blob.size:
        raise _bad("mask sizes in the layer table do not add up to the mask tensor")

    stored = {}
    expected = {"sbt.masks"}
    for key, value in tensors.items():
        if key.startswith("state."):
            skey = key[len("state."):]
            ref = state.get(skey)
            if ref is None:
                raise SBTFileError(f"invalid model file: tensor {skey!r} does not belong to the network")
            if tuple(value.shape) != tuple(ref.shape) or value.dtype != ref.cpu().numpy().dtype:
                raise SBTFileError(
                    f"invalid model file: shape/dtype mismatch for {skey!r}: file {value.dtype}{list(value.shape)}, "
                    f"network {ref.dtype}{list(ref.shape)}"
                )
            stored[skey] = value
            expected.add(key)
        elif key.startswith("scores.") and include_scores:
            expected.add(key)
    extra = set(tensors) - expected
    if extra:
        raise SBTFileError(f"invalid model file: unexpected tensors {sorted(extra)[:3]}")

    score_keys = {(f"{name}." if name else "") + "scores" for name, _ in layers}
    regen = [k for k in state if k not in stored and k not in score_keys]
    if _regen_digest(state, regen) != meta.get("regenerated_sha256"):
        raise SBTFileError(
            "the frozen weights regenerated from the seed differ from those the model was trained with "
            "(the file is corrupted, or this numpy / sbt_sklearn generates a different random stream)"
        )

    with torch.no_grad():
        for key, value in stored.items():
            state[key].copy_(torch.from_numpy(np.array(value)))
        network_p = meta.get("network_p")
        if isinstance(network_p, (int, float)) and not isinstance(network_p, bool) and hasattr(module, "_p"):
            if not 0.0 <= network_p <= 1.0:
                raise _bad("network prune rate out of range")
            module._p = float(network_p)
        offset, rice_ks = 0, iter(ks)
        for i, (name, layer) in enumerate(layers):
            payload = masks_blob[offset : offset + nbytes[i]].tobytes()
            offset += nbytes[i]
            layer.p = ps[i]
            layer.keep_override = overrides[i]
            coding, k = ("rice", next(rice_ks)) if codes[i] == "r" else ("bits", 0)
            mask = decode_mask(payload, coding, k, layer.weight.numel(), layer.n_keep)
            mask_t = torch.from_numpy(mask.reshape(tuple(layer.weight.shape)))
            if include_scores:
                scores = tensors.get(f"scores.{name}")
                if scores is None or scores.dtype != np.float32 or tuple(scores.shape) != tuple(layer.scores.shape):
                    raise _bad(f"missing or malformed scores of layer {name!r}")
                layer.scores.copy_(torch.from_numpy(np.array(scores)))
            else:
                layer.scores.copy_(mask_t.to(layer.scores.dtype))
            layer._cache = None
            if not torch.equal(layer.mask().cpu(), mask_t):
                raise SBTFileError(f"invalid model file: the scores of layer {name!r} do not select its stored mask")
    module.eval()
