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

Reading checks the digest before decompressing, parses the document with :mod:`json` and
builds arrays with :func:`numpy.frombuffer`; it never unpickles or imports anything named in
the file. Every defect (truncation, bad JSON, unknown version, checksum or shape mismatch)
raises :class:`SBTFileError`.

Reading limits
--------------
The digest is a checksum, not a signature: anyone can write a file with a valid one. A reader
therefore bounds what a file can make it do, and refuses with :class:`SBTFileError` anything
beyond (no valid file written by :func:`write_model_bytes` is affected; the writer refuses to
write a file the reader would refuse):

* a file is at most :data:`MAX_FILE_BYTES`, its container header at most 64 KiB;
* the payload is inflated in three steps, never beyond what was declared: the 8-byte length,
  then the JSON document (only as long as the Python objects built from it fit the memory
  budget: about 380 KiB for a small file by default, never more than 64 MiB), then exactly the
  tensor bytes its index declares; the whole payload inflates to at most 4 MiB plus 16 times
  its compressed size;
* JSON is nested at most 64 levels deep (a decoded value at most 32), and decoding creates at
  most 8 MiB of numpy arrays;
* every tensor dimension is below 2**31, boolean tensors hold only 0 and 1.

:attr:`ModelFileParts.parse_memory` bounds the memory reading a file takes. The estimators'
loaders add the network a file describes (:func:`plan_network`, computed from its keyword
arguments before anything is built) and refuse a file whose total would exceed
:func:`load_memory_budget`, 64 MiB plus 100 bytes per byte of file.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import os
import re
import stat
import struct
import tempfile
import zlib
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from safetensors.numpy import save as _st_save

from ..nn import SBTClassificationNet, SBTLastStepNet, SparseBinaryLinear
from ..nn._attention import ATTENTION_MODES
from ..nn._norm import NORMS
from ._dictionary import ZDICT_V3

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "LOAD_MEMORY_BASE",
    "LOAD_MEMORY_PER_BYTE",
    "MAX_FILE_BYTES",
    "MAX_LAYERS",
    "ModelFileParts",
    "NetworkPlan",
    "SBTFileError",
    "check_network_tensors",
    "decode_json",
    "decode_mask",
    "encode_json",
    "encode_mask",
    "load_memory_budget",
    "pack_module",
    "parse_model_bytes",
    "plan_network",
    "read_file_bytes",
    "read_model_bytes",
    "read_model_file",
    "unpack_module",
    "write_file_atomic",
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
#: dtypes a stored tensor may have (little-endian booleans, integers, floats)
_TENSOR_DTYPE_RE = re.compile(r"^[<|](b1|[iu][1248]|f[248])$")

# Reading limits (see "Reading limits" above). Real files are 0.7-35 KB, their header about
# 210 bytes, their JSON document 2-4 KB (a few hundred KB with a long PALS or training history).
#: largest model file a reader accepts, in bytes
MAX_FILE_BYTES = 1 << 30
#: largest container header (the safetensors JSON) a reader accepts
_MAX_HEADER = 1 << 16
#: the loader's memory budget: this many bytes, plus LOAD_MEMORY_PER_BYTE per byte of file
LOAD_MEMORY_BASE = 64 << 20
#: the loader's memory budget per byte of file (see :func:`load_memory_budget`)
LOAD_MEMORY_PER_BYTE = 100
#: the inflated payload: at most this many bytes plus _RAW_PER_BYTE per compressed byte
_RAW_BASE, _RAW_PER_BYTE = 4 << 20, 16
#: the JSON document: never longer than this, and only as long as its Python objects fit the budget
_MAX_DOC = 64 << 20
#: JSON nesting: of the whole document, and of one value given to decode_json
_MAX_DOC_DEPTH, MAX_JSON_DEPTH = 64, 32
#: bytes of numpy arrays that one decode_json call may create
MAX_JSON_ARRAY_BYTES = 8 << 20
#: memory that json.loads and decode_json take per byte of JSON: at most 105 bytes of resident
#: memory measured (86 by tracemalloc), for lists of nested empty lists parsed then decoded; lists
#: of numbers or strings 22-35, records of a real file's metadata less
JSON_OBJECT_FACTOR = 128
#: largest tensor dimension (a file's tensors and JSON arrays)
_MAX_DIM = (1 << 31) - 1
#: longest tensor name in the index
_MAX_NAME = 256
#: encoder layers a network may have (building one costs 1-3 ms and about 30 KB however small it is)
MAX_LAYERS = 256


def load_memory_budget(file_bytes: int) -> int:
    """The memory that loading a model file of ``file_bytes`` bytes may take.

    ``LOAD_MEMORY_BASE + LOAD_MEMORY_PER_BYTE * file_bytes``: 64 MiB plus 100 bytes per byte
    of file. The estimators' loaders refuse a file whose parsing and network would need more
    (unless the caller passes a larger ``max_memory``).

    Examples
    --------
    >>> from sbt_sklearn.compression._format import load_memory_budget
    >>> round(load_memory_budget(15_000) / 2**20, 2)  # MiB, for a 15 KB file
    65.43
    """
    return LOAD_MEMORY_BASE + LOAD_MEMORY_PER_BYTE * int(file_bytes)


def _raw_cap(payload_bytes: int) -> int:
    return _RAW_BASE + _RAW_PER_BYTE * payload_bytes


def _doc_cap(file_bytes: int, payload_bytes: int, budget: int) -> int:
    """The longest JSON document a file may declare: the Python objects parsing and decoding build
    from it (JSON_OBJECT_FACTOR per byte) must fit in what the memory ``budget`` leaves once the
    file (twice), the largest payload it may inflate to (twice) and the decoded arrays are counted."""
    spare = budget - 2 * file_bytes - 2 * _raw_cap(payload_bytes) - MAX_JSON_ARRAY_BYTES
    return max(0, min(_MAX_DOC, spare // JSON_OBJECT_FACTOR))


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


def decode_json(data, *, max_depth: int = MAX_JSON_DEPTH, max_array_bytes: int = MAX_JSON_ARRAY_BYTES):
    """Inverse of :func:`encode_json`; raises :class:`SBTFileError` on anything unexpected.

    Decoding is bounded, so that a few bytes of JSON cannot exhaust the stack or the memory:
    containers nested deeper than ``max_depth`` levels and numpy arrays whose bytes add up to
    more than ``max_array_bytes`` are refused.

    Parameters
    ----------
    data : object
        Data parsed from JSON.
    max_depth : int, default=32
        Deepest nesting of lists and tagged objects accepted.
    max_array_bytes : int, default=8 MiB
        Most bytes that the numpy arrays of the decoded value may take together.

    Returns
    -------
    object
        The decoded value.

    Examples
    --------
    >>> from sbt_sklearn.compression._format import SBTFileError, decode_json
    >>> decode_json({"$tuple": [1, {"$float": "inf"}]})
    (1, inf)
    >>> try:
    ...     decode_json([[[[1]]]], max_depth=3)
    ... except SBTFileError as exc:
    ...     print("deeper than 3" in str(exc))
    True
    """
    return _JSONDecoder(max_depth, max_array_bytes).decode(data, 0)


def _is_count(value, high: int = _MAX_DIM) -> bool:
    """A non-negative integer (not a bool) of at most ``high``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


class _JSONDecoder:
    """One bounded :func:`decode_json` pass: it tracks the depth and the bytes of the arrays it made."""

    def __init__(self, max_depth: int, max_array_bytes: int) -> None:
        self.max_depth = max_depth
        self.array_bytes_left = max_array_bytes

    def decode(self, data, depth: int):
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if depth >= self.max_depth:
            raise _bad(f"a value is nested deeper than {self.max_depth} levels")
        depth += 1
        if isinstance(data, list):
            return [self.decode(v, depth) for v in data]
        if not isinstance(data, dict) or len(data) not in (1, 2, 3):
            raise _bad(f"unexpected JSON value {str(data)[:80]!r}")
        keys = set(data)
        if keys == {"$float"}:
            return _decode_float(data["$float"])
        if keys == {"$tuple"} and isinstance(data["$tuple"], list):
            return tuple(self.decode(v, depth) for v in data["$tuple"])
        if keys == {"$dict"} and isinstance(data["$dict"], list):
            return self._dict(data["$dict"], depth)
        if keys == {"$scalar", "value"}:
            return self._scalar(data, depth)
        if keys == {"$array", "shape", "data"}:
            return self._array(data, depth)
        raise _bad(f"unknown JSON tag in {sorted(data)[:3]}")

    def _dict(self, items: list, depth: int) -> dict:
        out = {}
        for item in items:
            if not isinstance(item, list) or len(item) != 2:
                raise _bad("bad dict item")
            key = self.decode(item[0], depth)
            try:
                out[key] = self.decode(item[1], depth)
            except TypeError as exc:  # unhashable key
                raise _bad(f"bad dict key: {exc}") from exc
        return out

    def _scalar(self, data: dict, depth: int):
        dtype = data["$scalar"]
        if not isinstance(dtype, str) or not _SCALAR_DTYPE_RE.match(dtype):
            raise _bad(f"bad scalar dtype {dtype!r}")
        value = self.decode(data["value"], depth)
        if isinstance(value, (list, tuple, dict, str)) or value is None:
            raise _bad("bad scalar value")
        try:
            return np.dtype(dtype).type(value)
        except (OverflowError, ValueError, TypeError) as exc:
            raise _bad(f"bad scalar: {exc}") from exc

    def _charge(self, nbytes: int) -> None:
        self.array_bytes_left -= nbytes
        if self.array_bytes_left < 0:
            raise _bad("its JSON arrays would take more memory than a model file's metadata may")

    def _array(self, data: dict, depth: int) -> np.ndarray:
        dtype, shape, values = data["$array"], data["shape"], data["data"]
        if not isinstance(dtype, str) or not _DTYPE_RE.match(dtype):
            raise _bad(f"bad array dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > 8 or not all(_is_count(s) for s in shape):
            raise _bad("bad array shape")
        if not isinstance(values, list) or math.prod(shape) != len(values):
            raise _bad("array data does not match its shape")
        dt = np.dtype(dtype)
        if dt.itemsize == 0 and dt.kind != "O":  # a string dtype without a width would take the longest one's
            raise _bad(f"bad array dtype {dtype!r}")
        self._charge(len(values) * (8 if dt.kind == "O" else dt.itemsize))
        if dt.kind == "O":
            out = np.empty(len(values), dtype=object)
            for i, v in enumerate(values):
                out[i] = self.decode(v, depth)
            return out.reshape(shape)
        items = [self.decode(v, depth) for v in values]
        if any(isinstance(v, (list, tuple, dict)) or v is None for v in items):
            raise _bad("bad array element")
        if dt.kind in "US" and not all(isinstance(v, str) for v in items):
            raise _bad("bad string array element")
        try:
            return np.array(items, dtype=dt).reshape(shape)
        except (OverflowError, ValueError, TypeError) as exc:
            raise _bad(f"bad array: {exc}") from exc


def _decode_float(text) -> float:
    if text not in ("nan", "inf", "-inf"):
        raise _bad(f"bad float {text!r}")
    return float(text)


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

    Raises
    ------
    ValueError
        If a reader would refuse the result (see "Reading limits" in the module docstring):
        for example a JSON document longer than a file of this size may hold.

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
    _check_writable(doc, index, len(raw), len(payload))
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    return _st_save({"sbt": np.frombuffer(payload, dtype=np.uint8)}, metadata=metadata)


def _check_writable(doc: bytes, index: list, raw_bytes: int, payload_bytes: int) -> None:
    """Refuse (ValueError) to write what a reader would refuse for its size or shape."""
    problem = None
    if len(doc) > _MAX_DOC:
        problem = (f"its JSON metadata takes {len(doc)} bytes, more than the {_MAX_DOC} a model file may hold "
                   "(store less history: include_history=False)")
    elif raw_bytes > _raw_cap(payload_bytes):
        problem = f"it inflates to {raw_bytes} bytes, more than the {_raw_cap(payload_bytes)} a reader accepts"
    elif payload_bytes + _MAX_HEADER > MAX_FILE_BYTES:
        problem = f"it would be larger than the {MAX_FILE_BYTES} bytes a reader accepts"
    elif _json_depth(doc) > _MAX_DOC_DEPTH:
        problem = f"its metadata is nested deeper than {_MAX_DOC_DEPTH} levels"
    elif any(len(name) > _MAX_NAME or any(n > _MAX_DIM for n in shape) for name, _, shape in index):
        problem = f"a tensor name is longer than {_MAX_NAME} characters or a dimension exceeds {_MAX_DIM}"
    if problem:
        raise ValueError(f"cannot write this model file, a reader would refuse it: {problem} (see the reading "
                         "limits in sbt_sklearn.compression._format)")


def _current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o077)  # elsewhere: set a restrictive mask for an instant, and put it back
    os.umask(mask)
    return mask


def write_file_atomic(path, blob: bytes) -> int:
    """Write ``blob`` to ``path`` atomically; return the number of bytes written.

    The bytes go to a new temporary file in the target's directory, created exclusively under
    a unique name (:func:`tempfile.mkstemp`: no file or link planted there is ever followed),
    given the mode ``open(path, "wb")`` would give (``0o666`` less the umask), written, flushed
    to disk (``fsync``) and renamed over ``path`` (:func:`os.replace`). On any error, a
    ``KeyboardInterrupt`` included, the temporary file is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
        Destination.
    blob : bytes
        Content.

    Returns
    -------
    int
        ``len(blob)``.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        try:
            os.chmod(tmp, 0o666 & ~_current_umask())
            fh = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return len(blob)


def read_file_bytes(path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The content of a model file, refused before reading if it cannot be one.

    The file is opened with ``O_NONBLOCK`` (so opening a FIFO does not wait for a writer) and
    checked with ``fstat`` before anything is read: a directory, a FIFO, a socket or a device
    (``/dev/zero``, ``/dev/stdin``...) and a file larger than ``max_bytes`` raise
    :class:`SBTFileError`. A file that grows while it is read is refused too.

    Parameters
    ----------
    path : str or path-like
        The file.
    max_bytes : int, default=MAX_FILE_BYTES
        Largest size accepted (1 GiB).

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    SBTFileError
        If ``path`` is not a regular file or is too large.
    OSError
        If it cannot be opened (missing, no permission...).
    """
    name = os.fspath(path)
    _check_model_file_stat(os.stat(name), path, max_bytes)  # devices are never even opened
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(name, flags)
    except IsADirectoryError as exc:
        raise SBTFileError(f"not a model file: {path} is a directory") from exc
    with open(fd, "rb", closefd=True) as fh:
        info = os.fstat(fd)  # what was opened (the path may have been replaced since the stat)
        _check_model_file_stat(info, path, max_bytes)
        data = fh.read(info.st_size)
        if fh.read(1):
            raise SBTFileError(f"invalid model file: {path} grew while it was read")
    return data


def _check_model_file_stat(info: os.stat_result, path, max_bytes: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise SBTFileError(f"not a model file: {path} is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise SBTFileError(f"not a model file: {path} is not a regular file (a FIFO, socket or device)")
    if info.st_size > max_bytes:
        raise SBTFileError(f"not a model file: {path} has {info.st_size} bytes, more than the {max_bytes} "
                           "a model file may have")


def write_model_file(path, meta: dict, tensors: dict) -> int:
    """Write :func:`write_model_bytes` to ``path`` atomically; return the number of bytes."""
    return write_file_atomic(path, write_model_bytes(meta, tensors))


@dataclass(frozen=True)
class ModelFileParts:
    """What :func:`parse_model_bytes` read from a model file, and the sizes that bound its cost.

    Attributes
    ----------
    meta : dict
        The parsed metadata document.
    tensors : dict of str to ndarray
        The tensors (read-only views of the inflated payload).
    file_bytes : int
        Size of the file.
    raw_bytes : int
        Size of the inflated payload.
    doc_bytes : int
        Size of the JSON document.
    """

    meta: dict
    tensors: dict
    file_bytes: int
    raw_bytes: int
    doc_bytes: int

    @property
    def parse_memory(self) -> int:
        """Upper bound of the bytes that reading the file and decoding its metadata take: the
        file (and one copy), the inflated payload (and copies of the tensors taken from it), the
        Python objects of the JSON document parsed and decoded, and the arrays decoding may make."""
        return (2 * self.file_bytes + 2 * self.raw_bytes + JSON_OBJECT_FACTOR * self.doc_bytes
                + MAX_JSON_ARRAY_BYTES)


def _as_bytes(blob) -> bytes:
    """``blob`` as bytes if it is bytes-like (and not larger than a model file may be)."""
    if isinstance(blob, bytes):
        data = blob
    else:
        try:
            view = memoryview(blob)
        except TypeError:
            raise TypeError("model-file content must be a bytes-like object (bytes, bytearray, memoryview); "
                            f"got {type(blob).__name__}") from None
        if view.nbytes > MAX_FILE_BYTES:
            raise SBTFileError(f"not a model file: {view.nbytes} bytes, more than the {MAX_FILE_BYTES} "
                               "a model file may have")
        data = view.tobytes()
    if len(data) > MAX_FILE_BYTES:
        raise SBTFileError(f"not a model file: {len(data)} bytes, more than the {MAX_FILE_BYTES} "
                           "a model file may have")
    return data


def read_model_bytes(blob) -> tuple[dict, dict]:
    """Parse and verify model-file bytes; return ``(metadata, tensors)``.

    Checks, in order: the safetensors framing (length prefix, header JSON, data offsets that
    cover the file exactly), the format name and version, the SHA-256 digest of the payload,
    its decompression (in bounded steps, see :func:`parse_model_bytes`) and the tensor index.
    Runs no code from the file.

    Parameters
    ----------
    blob : bytes-like
        The file content (bytes, bytearray or memoryview).

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
    TypeError
        If ``blob`` is not bytes-like.

    Examples
    --------
    >>> from sbt_sklearn.compression import SBTFileError, read_model_bytes
    >>> try:
    ...     read_model_bytes(b"\\x08" + bytes(7))
    ... except SBTFileError as exc:
    ...     print("truncated" in str(exc))
    True
    """
    parts = parse_model_bytes(blob)
    return parts.meta, parts.tensors


def parse_model_bytes(blob, *, max_memory: int | None = None) -> ModelFileParts:
    """Parse and verify model-file bytes within the reading limits (see the module docstring).

    Like :func:`read_model_bytes`, and returns the sizes that bound the memory reading took
    (:attr:`ModelFileParts.parse_memory`). The payload is inflated in three bounded steps: its
    8-byte length, the JSON document (refused if the Python objects built from it would not fit
    the memory budget: about 380 KiB for a small file by default), then exactly the tensor bytes
    the document's index declares (the whole payload at most 4 MiB plus 16 times its compressed
    size); nothing is inflated beyond what is declared.

    Parameters
    ----------
    blob : bytes-like
        The file content.
    max_memory : int, optional
        The memory budget the JSON document must fit in; default :func:`load_memory_budget`.

    Returns
    -------
    ModelFileParts
        Metadata, tensors and sizes.

    Raises
    ------
    SBTFileError
        On any defect.
    TypeError
        If ``blob`` is not bytes-like.
    """
    blob = _as_bytes(blob)
    info, start = _read_container(blob)
    payload = memoryview(blob)[start:]
    if info.get("sha256") != hashlib.sha256(payload).hexdigest():
        raise SBTFileError("invalid model file: checksum mismatch (the file is corrupted or was modified)")
    version = int(info["format_version"])
    budget = load_memory_budget(len(blob)) if max_memory is None else max_memory
    parts = _parse_payload(payload, _ZDICTS[version], len(blob), budget)
    if "format_version" in parts.meta and parts.meta["format_version"] != version:
        raise SBTFileError("invalid model file: metadata and container disagree on the format version")
    return parts


def _read_container(blob: bytes) -> tuple[dict, int]:
    """The container metadata and where the ``sbt`` tensor's bytes start (they run to the end)."""
    if len(blob) < 8:
        raise SBTFileError("invalid model file: truncated (shorter than the 8-byte header length)")
    (n_header,) = struct.unpack("<Q", blob[:8])
    if n_header > len(blob) - 8:
        raise SBTFileError("invalid model file: truncated (the header runs past the end of the file)")
    if n_header > _MAX_HEADER:
        raise _bad(f"the container header takes {n_header} bytes, more than the {_MAX_HEADER} a model file's may")
    header = _load_json(blob[8 : 8 + n_header], "the header")
    if not isinstance(header, dict):
        raise _bad("the header is not a JSON object")
    info = header.get("__metadata__")
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise SBTFileError("not an sbt_sklearn model file (safetensors metadata lacks format='sbt-sklearn-model')")
    version = info.get("format_version")
    if not isinstance(version, str) or not re.fullmatch(r"[0-9]{1,3}", version) \
            or int(version) not in _READABLE_VERSIONS:
        raise SBTFileError(
            f"unsupported model-file format version {str(version)[:20]!r}: this sbt_sklearn reads version(s) "
            f"{sorted(_READABLE_VERSIONS)}; a newer file needs a newer sbt_sklearn"
        )
    entry = header.get("sbt")
    if set(header) != {"__metadata__", "sbt"} or not isinstance(entry, dict):
        raise _bad("the container must hold exactly one tensor named 'sbt'")
    offsets = entry.get("data_offsets")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o, MAX_FILE_BYTES) for o in offsets)
            and offsets[0] == 0):
        raise _bad("bad entry for the 'sbt' tensor")
    if 8 + n_header + offsets[1] != len(blob):
        raise SBTFileError(f"invalid model file: truncated or padded (tensor data ends at byte "
                           f"{8 + n_header + offsets[1]}, file has {len(blob)})")
    if set(entry) != {"dtype", "shape", "data_offsets"} or entry["dtype"] != "U8" or entry["shape"] != [offsets[1]]:
        raise _bad("the 'sbt' tensor must be a flat uint8 array")
    return info, 8 + n_header


def _json_depth(text: bytes) -> int:
    """Deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings ignored).

    Vectorised, so that the depth is known before :func:`json.loads` recurses into it, and lean
    (about 4 bytes per byte of text): a quote opens or closes a string unless it ends an odd run
    of backslashes; the depth is a running sum, taken in chunks.
    """
    b = np.frombuffer(text, dtype=np.uint8)
    quote = b == 0x22
    backslashes = np.flatnonzero(b == 0x5C)
    if backslashes.size:  # the character after an odd run of backslashes is escaped
        run_ends = np.flatnonzero(np.diff(backslashes, append=-2) != 1)
        lengths = np.diff(run_ends, prepend=-1)
        escaped = backslashes[run_ends[lengths % 2 == 1]] + 1
        quote[escaped[escaped < b.size]] = False
    outside = ~np.logical_xor.accumulate(quote)  # from an opening quote up to its closing one: inside
    step = (((b == 0x5B) | (b == 0x7B)) & outside).view(np.int8) - (((b == 0x5D) | (b == 0x7D)) & outside).view(np.int8)
    deepest, depth, chunk = 0, 0, 1 << 18
    for start in range(0, b.size, chunk):
        running = np.cumsum(step[start : start + chunk], dtype=np.int64) + depth
        deepest, depth = max(deepest, int(running.max())), int(running[-1])
    return deepest


def _load_json(text: bytes, what: str):
    """``json.loads`` of UTF-8 ``text``, refused beyond the nesting limit or on any error."""
    if _json_depth(text) > _MAX_DOC_DEPTH:
        raise SBTFileError(f"invalid model file: {what} is nested deeper than {_MAX_DOC_DEPTH} levels")
    try:
        return json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise SBTFileError(f"invalid model file: {what} is not valid JSON ({exc})") from exc


class _Inflation:
    """A zlib stream inflated piece by piece: never more than the caller asks for."""

    def __init__(self, payload, zdict: bytes) -> None:
        self._inflater = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        self._pending = payload  # compressed input not consumed yet

    def _step(self, n: int) -> bytes:
        try:
            out = self._inflater.decompress(self._pending, n)
        except zlib.error as exc:
            raise SBTFileError(f"invalid model file: the payload does not decompress ({exc})") from exc
        self._pending = self._inflater.unconsumed_tail
        return out

    def take(self, n: int, short: str) -> bytes:
        """Exactly the next ``n`` inflated bytes; ``SBTFileError(short)`` if the stream ends first."""
        chunks, got = [], 0
        while got < n and not self._inflater.eof:
            before = len(self._pending)
            out = self._step(n - got)
            if not out and len(self._pending) == before:
                break  # no progress: the input is used up
            chunks.append(out)
            got += len(out)
        if got < n:
            if self._inflater.unused_data:
                raise _bad("the payload ends early and is followed by extra data")
            raise _bad(short)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def finish(self) -> None:
        """Check that the stream ends here, with nothing after it."""
        if not self._inflater.eof and self._step(1):
            raise _bad("the payload holds bytes that no tensor describes")
        if not self._inflater.eof:
            raise _bad("the payload is incomplete (its compressed stream is cut short)")
        if self._inflater.unused_data or self._pending:
            raise _bad("the payload is followed by extra data")


def _tensor_index(entries: list, limit: int) -> list[tuple[str, np.dtype, tuple, int]]:
    """Validated ``(name, dtype, shape, count)`` of each index entry; their bytes add up to at most ``limit``."""
    index, names, total = [], set(), 0
    for item in entries:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str) and len(item[0]) <= _MAX_NAME
                and isinstance(item[1], str) and _TENSOR_DTYPE_RE.match(item[1]) and isinstance(item[2], list)
                and len(item[2]) <= 8 and all(_is_count(n) for n in item[2])):
            raise _bad(f"bad tensor index entry {str(item)[:80]!r}")
        name, dtype, shape = item[0], np.dtype(item[1]), tuple(item[2])
        if name in names:
            raise _bad(f"tensor {name[:60]!r} appears twice")
        names.add(name)
        count = math.prod(shape)
        total += count * dtype.itemsize
        if total > limit:
            raise _bad(f"its tensors would inflate to more than the {limit} bytes a file of this size may hold")
        index.append((name, dtype, shape, count))
    return index


def _parse_payload(payload, zdict: bytes, file_bytes: int, budget: int) -> ModelFileParts:
    if zdict and (len(payload) < 2 or not payload[1] & 0x20):  # FDICT: the stream names a preset dictionary
        raise SBTFileError("invalid model file: the payload does not decompress (it was not compressed "
                           "with the format's preset dictionary)")
    stream = _Inflation(payload, zdict)
    (n_doc,) = struct.unpack("<Q", stream.take(8, "the payload is too short"))
    doc_cap = _doc_cap(file_bytes, len(payload), budget)
    if n_doc > doc_cap:
        raise _bad(f"the metadata runs past the end of the payload or past the {doc_cap} bytes whose Python "
                   f"objects fit the memory budget ({n_doc} bytes declared; a larger max_memory admits more)")
    doc = _load_json(stream.take(n_doc, "the metadata runs past the end of the payload"), "the metadata")
    if not isinstance(doc, dict) or set(doc) != {"meta", "tensors"} or not isinstance(doc["meta"], dict) \
            or not isinstance(doc["tensors"], list):
        raise _bad("the metadata is not a JSON object with 'meta' and 'tensors'")
    index = _tensor_index(doc["tensors"], _raw_cap(len(payload)) - 8 - n_doc)
    n_data = sum(count * dtype.itemsize for _, dtype, _, count in index)
    data = stream.take(n_data, "the tensor data runs past the end of the payload")
    stream.finish()
    tensors, offset = {}, 0
    for name, dtype, shape, count in index:
        if dtype.kind == "b" and count and np.frombuffer(data, np.uint8, count, offset).max() > 1:
            raise _bad(f"boolean tensor {name[:60]!r} holds values other than 0 and 1")
        tensors[name] = np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)
        offset += count * dtype.itemsize
    return ModelFileParts(doc["meta"], tensors, file_bytes, 8 + n_doc + n_data, n_doc)


def read_model_file(path) -> tuple[dict, dict]:
    """Read and verify a model file; see :func:`read_model_bytes`."""
    return read_model_bytes(read_file_bytes(path))


# --------------------------------------------------------------------------------------------
# Network plans: a file's network checked and sized from its arguments, before it is built
# --------------------------------------------------------------------------------------------
#: the networks a model file may describe, and the name of each one's output-size argument
_NETWORKS = {"SBTClassificationNet": (SBTClassificationNet, "n_classes"),
             "SBTLastStepNet": (SBTLastStepNet, "n_outputs")}
#: Python objects of a built network besides its tensors: a fixed part, and per encoder layer
#: (measured: about 30 KB per layer, whatever its width)
_NET_BASE_BYTES, _NET_LAYER_BYTES = 1 << 20, 64 << 10
#: temporaries while a network is built and restored, per element: of the largest sparse-binary
#: layer (random weights drawn through float64: 24 bytes per weight; mask decoding and top-k need
#: less), of a learnable positional table (8 bytes per entry measured), and of the Q/K/V
#: activation masks of *every* attention layer (sorted through int64 keys: 72 bytes per mask entry
#: of one projection measured). The last are counted for every layer because the heap does not
#: reuse them: building 16 layers of 20,000-step masks peaked at 130 MiB with glibc's default
#: allocator, 19 MiB with a fixed mmap threshold.
_BUILD_PER_WEIGHT, _BUILD_PER_QKV, _BUILD_PER_POS = 32, 72, 12
#: the allocator's share on top of the tensors: the peak resident memory of building networks of
#: 10-360 MB measured up to 1.19 times their tensors and temporaries (freed float64 temporaries
#: fragment the heap between the layers' tensors)
_ALLOCATOR_SLACK = 1.25
#: choices of the string arguments
_CHOICES = {"attention": ATTENTION_MODES, "norm": NORMS, "pos_encoding": ("fixed", "learnable"),
            "topk_scope": ("layer", "global")}


@dataclass(frozen=True)
class NetworkPlan:
    """A network that a model file describes, checked and sized before it is built.

    Attributes
    ----------
    kwargs : dict
        Every keyword argument of the network: the file's, and the defaults of those it omits.
    n_inputs : int
        Input channels.
    n_outputs : int
        Output size (classes, or outputs of the last step).
    sparse_numels : tuple of int
        Weights of each sparse-binary layer that has scores, in the order of the file's
        sparse-layer table.
    persistent_bytes : int
        Bytes of the built network's parameters and buffers.
    peak_bytes : int
        Upper bound of the memory that building and restoring the network takes: its tensors,
        the largest temporaries and its Python objects.
    state_shapes : dict of str to (tuple, str)
        Shape and numpy dtype of every entry of the built network's ``state_dict``.
    """

    kwargs: dict
    n_inputs: int
    n_outputs: int
    sparse_numels: tuple
    persistent_bytes: int
    peak_bytes: int
    state_shapes: dict


def _network_args(module_name, kwargs) -> dict:
    """The file's network arguments completed with the network's defaults; unknown or missing ones refused."""
    if module_name not in _NETWORKS:
        raise SBTFileError(f"invalid model file: unknown network class {str(module_name)[:60]!r}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise _bad("bad network arguments")
    params = list(inspect.signature(_NETWORKS[module_name][0].__init__).parameters.values())[1:]
    unknown = sorted(set(kwargs) - {q.name for q in params})
    if unknown:
        raise _bad(f"unknown network arguments {[u[:40] for u in unknown[:5]]} for {module_name}")
    args = {}
    for q in params:
        if q.name in kwargs:
            args[q.name] = kwargs[q.name]
        elif q.default is inspect.Parameter.empty:
            raise _bad(f"the network argument {q.name!r} is missing")
        else:
            args[q.name] = q.default
    return args


def _count_arg(args: dict, name: str, low: int = 1, high: int = _MAX_DIM) -> int:
    value = args[name]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or not low <= value <= high:
        raise _bad(f"network argument {name}={str(value)[:40]} is not an integer in [{low}, {high}]")
    return int(value)


def _check_network_args(args: dict) -> None:
    """Types and ranges of every argument (the sizes are checked by :func:`_count_arg` when read)."""
    p = args["p"]
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, Real) or not 0.0 <= float(p) <= 1.0:
        raise _bad(f"network argument p={str(p)[:40]} is not a prune rate in [0, 1]")
    for name in ("binary", "output_gate"):
        if name in args and not isinstance(args[name], (bool, np.bool_)):
            raise _bad(f"network argument {name}={str(args[name])[:40]} is not a boolean")
    for name, choices in _CHOICES.items():
        if not isinstance(args[name], str) or args[name] not in choices:
            raise _bad(f"network argument {name}={str(args[name])[:40]!r} is not one of {list(choices)}")
    _count_arg(args, "seed", 0, (1 << 64) - 1)


def _linear_bytes(out_features: int, in_features: int, binary: bool, dense: bool) -> int:
    """Parameters and buffers of one SparseBinaryLinear."""
    n = out_features * in_features
    if binary:  # frozen weight, its sign and magnitude, scores; no bias
        return 16 * n
    return (4 if dense else 8) * n + 4 * out_features  # weight (and scores), bias


def plan_network(module_name, kwargs) -> NetworkPlan:
    """Check the network a model file describes and compute its memory, without building it.

    Every argument of :class:`~sbt_sklearn.nn.SBTClassificationNet` or
    :class:`~sbt_sklearn.nn.SBTLastStepNet` is checked (type, range, known name), at most
    :data:`MAX_LAYERS` encoder layers are accepted, and the bytes of every parameter and buffer
    are counted from the layer shapes, with the temporaries building takes: nothing is
    allocated and no random number is drawn.

    Parameters
    ----------
    module_name : str
        ``"SBTClassificationNet"`` or ``"SBTLastStepNet"``.
    kwargs : dict
        The network's keyword arguments, as stored in the file.

    Returns
    -------
    NetworkPlan
        The completed arguments, the sparse-binary layers' sizes and the memory.

    Raises
    ------
    SBTFileError
        For an unknown network or argument, a missing one, or one of the wrong type or range.

    Examples
    --------
    >>> from sbt_sklearn.compression._format import plan_network
    >>> plan = plan_network("SBTClassificationNet", {"n_channels": 3, "n_classes": 4, "d": 16, "d_ff": 32,
    ...                                              "n_layers": 1, "max_len": 20})
    >>> plan.sparse_numels, plan.persistent_bytes
    ((48, 256, 256, 256, 256, 512, 512, 64), 35568)
    """
    args = _network_args(module_name, kwargs)
    _check_network_args(args)
    c = _count_arg(args, "n_channels")
    # the classifier's embedding takes patch_len rows of channels per token
    c_in = c * _count_arg(args, "patch_len") if "patch_len" in args else c
    if c_in > _MAX_DIM:
        raise _bad(f"network arguments n_channels={c} and patch_len={args['patch_len']} make an embedding of "
                   f"{c_in} inputs, more than {_MAX_DIM}")
    o = _count_arg(args, _NETWORKS[module_name][1])
    d, h, f = _count_arg(args, "d"), _count_arg(args, "n_heads"), _count_arg(args, "d_ff")
    n_layers, max_len = _count_arg(args, "n_layers", 1, MAX_LAYERS), _count_arg(args, "max_len")
    if d % h:
        raise _bad(f"network argument d={d} is not divisible by n_heads={h}")
    binary, p = bool(args["binary"]), float(args["p"])
    dense = not binary and p == 0.0
    shapes = [(d, c_in)] + n_layers * [(d, d), (d, d), (d, d), (d, d), (f, d), (d, f)] + [(o, d)]
    persistent = sum(_linear_bytes(out, inp, binary, dense) for out, inp in shapes)
    norm_bytes = {"batch": 16 * d + 8, "layer": 8 * d}.get(args["norm"], 0)
    qkv = 3 * max_len * (d // h) if args["attention"] == "qkv_mask" else 0  # a bool mask per attention layer
    table = max_len * d if args["pos_encoding"] == "learnable" else 0
    persistent += n_layers * (2 * norm_bytes + qkv) + 4 * table + (4 * o if args.get("output_gate") else 0)
    transient = max(_BUILD_PER_WEIGHT * max(out * inp for out, inp in shapes), _BUILD_PER_POS * table) \
        + n_layers * _BUILD_PER_QKV * qkv // 3
    peak = math.ceil(_ALLOCATOR_SLACK * (persistent + transient)) + _NET_BASE_BYTES + _NET_LAYER_BYTES * n_layers
    numels = tuple(out * inp for out, inp in shapes) if not dense else ()
    return NetworkPlan(args, c, o, numels, persistent, peak, _state_shapes(args, c, o, shapes))


def _state_shapes(args: dict, c: int, o: int, shapes: list) -> dict:
    """``state_dict`` entry -> (shape, dtype) of the network ``args`` describes (linear ``shapes`` in order)."""
    d, n_layers, max_len = int(args["d"]), int(args["n_layers"]), int(args["max_len"])
    binary, p = bool(args["binary"]), float(args["p"])
    names = ["encoder.embed"] + [f"encoder.layers.{i}.{part}" for i in range(n_layers)
                                 for part in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "lin1",
                                              "lin2")] + ["decoder"]
    out = {}
    for name, shape in zip(names, shapes):
        out[f"{name}.weight"] = (shape, "float32")
        if binary or p > 0:
            out[f"{name}.scores"] = (shape, "float32")
        if not binary:
            out[f"{name}.bias"] = ((shape[0],), "float32")
    if args["pos_encoding"] == "learnable":
        out["encoder.pos.table"] = ((max_len, d), "float32")
    norm_entries = {"batch": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
                    "layer": ("weight", "bias")}.get(args["norm"], ())
    for i in range(n_layers):
        if args["attention"] == "qkv_mask":
            out[f"encoder.layers.{i}.attn.qkv_mask"] = ((3, max_len, d // int(args["n_heads"])), "bool")
        for norm in ("norm1", "norm2"):
            for entry in norm_entries:
                out[f"encoder.layers.{i}.{norm}.{entry}"] = ((), "int64") if entry == "num_batches_tracked" \
                    else ((d,), "float32")
    if args.get("output_gate"):
        out["output_gate"] = ((o,), "float32")
    return out


def check_network_tensors(plan: NetworkPlan, meta, tensors: dict) -> None:
    """Check, before building the network, that the file's layer table and tensors fit ``plan``.

    The table must list exactly the network's sparse-binary layers, each Rice-coded mask must
    be shorter than the layer's packed bits would be (the writer keeps the shorter code) and
    every keep count at most the layer's size, and the masks must add up to the mask tensor.
    Every stored state tensor (``state.<key>``) must be an entry of the network's ``state_dict``
    with its shape and dtype, and stored scores (``scores.<layer>``) those of a sparse layer.

    Parameters
    ----------
    plan : NetworkPlan
        The network, from :func:`plan_network`.
    meta : dict
        The network metadata written by :func:`pack_module`.
    tensors : dict of str to ndarray
        The file's tensors.

    Raises
    ------
    SBTFileError
        If they do not fit.
    """
    if not isinstance(meta, dict):
        raise _bad("bad network metadata")
    codes, _, overrides, _, rice_nbytes = _layer_table(meta.get("sparse_layers"), len(plan.sparse_numels))
    _mask_blob_sizes(_masks_tensor(tensors), codes, rice_nbytes, overrides, plan.sparse_numels)
    for key, value in tensors.items():
        if key == "sbt.masks":
            continue
        kind, _, name = key.partition(".")
        entry = plan.state_shapes.get(name if kind == "state" else f"{name}.scores" if kind == "scores" else "")
        if entry is None and kind == "state" and name.endswith(".prune_mask") and not plan.kwargs["binary"]:
            # dense PALS prunes an FP32 layer's weights through a boolean buffer the built network lacks
            weight = plan.state_shapes.get(name[: -len(".prune_mask")] + ".weight")
            entry = None if weight is None else (weight[0], "bool")
        if entry is None:
            raise SBTFileError(f"invalid model file: tensor {key[:60]!r} does not belong to the network")
        if tuple(value.shape) != entry[0] or value.dtype != np.dtype(entry[1]):
            raise SBTFileError(f"invalid model file: shape/dtype mismatch for {key[:60]!r}: file "
                               f"{value.dtype}{list(value.shape)}, network {entry[1]}{list(entry[0])}")


def _masks_tensor(tensors: dict) -> np.ndarray:
    masks = tensors.get("sbt.masks")
    if masks is None or masks.dtype != np.uint8 or masks.ndim != 1:
        raise _bad("missing or malformed mask tensor")
    return masks


def _mask_blob_sizes(masks: np.ndarray, codes: str, rice_nbytes: list, overrides: list, numels) -> list[int]:
    """Bytes of each layer's coded mask in ``masks``, checked against the layers' sizes."""
    rice_sizes, sizes = iter(rice_nbytes), []
    for code, override, numel in zip(codes, overrides, numels):
        packed = (numel + 7) // 8
        size = next(rice_sizes) if code == "r" else packed
        if size > packed:
            raise _bad("a Rice-coded mask is longer than the packed bits of its layer")
        if override is not None and override > numel:
            raise _bad("a keep count exceeds the size of its layer")
        sizes.append(size)
    if sum(sizes) != masks.size:
        raise _bad("mask sizes in the layer table do not add up to the mask tensor")
    return sizes


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


def _enable_prune_masks(module: torch.nn.Module, tensors: dict) -> bool:
    """Give every FP32 layer whose magnitude-pruning mask the file stores (dense PALS) its buffer."""
    enabled = False
    for key in tensors:
        if key.startswith("state.") and key.endswith(".prune_mask"):
            layer = module.get_submodule(key[len("state."):-len(".prune_mask")])
            if getattr(layer, "binary", True) or not hasattr(layer, "enable_prune_mask"):
                raise SBTFileError(f"invalid model file: tensor {key[:60]!r} does not belong to the network")
            if layer.prune_mask is None:
                layer.enable_prune_mask()
                enabled = True
    return enabled


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
    masks_blob = _masks_tensor(tensors)
    nbytes = _mask_blob_sizes(masks_blob, codes, rice_nbytes, overrides, [layer.weight.numel() for _, layer in layers])

    if _enable_prune_masks(module, tensors):  # dense PALS: the buffers exist once enabled
        state = module.state_dict()
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
