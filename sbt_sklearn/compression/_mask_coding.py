"""Model files: mask coding, packed bits or Golomb-Rice coded gaps (vectorised, no per-bit Python loop).

Part of the model-file format described in :mod:`sbt_sklearn.compression._format`.
"""

from __future__ import annotations

import numpy as np

from ._limits import _bad

__all__ = ["decode_mask", "encode_mask"]


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
