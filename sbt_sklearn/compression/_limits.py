"""Model files: format constants, the limits a file must respect, and SBTFileError.

Part of the model-file format described in :mod:`sbt_sklearn.compression._format`.
"""

from __future__ import annotations

import re

from ._dictionary import ZDICT_V3

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "JSON_OBJECT_FACTOR",
    "LOAD_MEMORY_BASE",
    "LOAD_MEMORY_PER_BYTE",
    "MAX_FILE_BYTES",
    "MAX_JSON_ARRAY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_LAYERS",
    "SBTFileError",
    "load_memory_budget",
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


def _bad(msg: str) -> SBTFileError:
    return SBTFileError(f"invalid model file: {msg}")
