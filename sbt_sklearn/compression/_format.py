"""The ``.sbt`` model file: a safetensors file whose one tensor is a compressed payload.

This module reads and writes the container; the parts it uses live next to it and are
re-exported here: :mod:`._limits` (format constants, limits, :class:`SBTFileError`),
:mod:`._json_codec` (typed JSON), :mod:`._mask_coding` (packed or Rice-coded masks),
:mod:`._network_plan` (a file's network checked and sized before it is built) and
:mod:`._module_packing` (what of a network is stored, and how it is rebuilt).

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
import json
import math
import os
import re
import stat
import struct
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np
from safetensors.numpy import save as _st_save

from ._json_codec import (  # noqa: F401 (re-exported: this module held them)
    _DTYPE_RE,
    _SCALAR_DTYPE_RE,
    _decode_float,
    _is_count,
    _JSONDecoder,
    decode_json,
    encode_json,
)
from ._limits import (  # noqa: F401 (re-exported: this module held them)
    _MAX_DIM,
    _MAX_DOC_DEPTH,
    _MAX_HEADER,
    _MAX_NAME,
    _READABLE_VERSIONS,
    _TENSOR_DTYPE_RE,
    _ZDICTS,
    FORMAT_NAME,
    FORMAT_VERSION,
    JSON_OBJECT_FACTOR,
    LOAD_MEMORY_BASE,
    LOAD_MEMORY_PER_BYTE,
    MAX_FILE_BYTES,
    MAX_JSON_ARRAY_BYTES,
    MAX_JSON_DEPTH,
    MAX_LAYERS,
    SBTFileError,
    _bad,
    load_memory_budget,
)
from ._mask_coding import (  # noqa: F401 (re-exported: this module held them)
    _rice_cost,
    decode_mask,
    encode_mask,
)
from ._module_packing import (  # noqa: F401 (re-exported: this module held them)
    _enable_prune_masks,
    _regen_digest,
    _sparse_layers,
    _squeeze,
    pack_module,
    unpack_module,
)
from ._network_plan import (  # noqa: F401 (re-exported: this module held them)
    _ALLOCATOR_SLACK,
    _BUILD_PER_POS,
    _BUILD_PER_QKV,
    _BUILD_PER_WEIGHT,
    _CHOICES,
    _NET_BASE_BYTES,
    _NET_LAYER_BYTES,
    _NETWORKS,
    NetworkPlan,
    _check_network_args,
    _count_arg,
    _int_list,
    _layer_table,
    _linear_bytes,
    _mask_blob_sizes,
    _masks_tensor,
    _network_args,
    _state_shapes,
    _unsqueeze,
    check_network_tensors,
    plan_network,
)

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


#: the inflated payload: at most this many bytes plus _RAW_PER_BYTE per compressed byte
_RAW_BASE, _RAW_PER_BYTE = 4 << 20, 16
#: the JSON document: never longer than this, and only as long as its Python objects fit the budget
_MAX_DOC = 64 << 20
def _raw_cap(payload_bytes: int) -> int:
    return _RAW_BASE + _RAW_PER_BYTE * payload_bytes
def _doc_cap(file_bytes: int, payload_bytes: int, budget: int) -> int:
    """The longest JSON document a file may declare: the Python objects parsing and decoding build
    from it (JSON_OBJECT_FACTOR per byte) must fit in what the memory ``budget`` leaves once the
    file (twice), the largest payload it may inflate to (twice) and the decoded arrays are counted."""
    spare = budget - 2 * file_bytes - 2 * _raw_cap(payload_bytes) - MAX_JSON_ARRAY_BYTES
    return max(0, min(_MAX_DOC, spare // JSON_OBJECT_FACTOR))


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
