"""Model files: typed JSON (plain values, tuples, dicts with any keys, numpy scalars and small arrays).

Part of the model-file format described in :mod:`sbt_sklearn.compression._format`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch

from ._limits import _MAX_DIM, MAX_JSON_ARRAY_BYTES, MAX_JSON_DEPTH, _bad

__all__ = ["decode_json", "encode_json"]


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
