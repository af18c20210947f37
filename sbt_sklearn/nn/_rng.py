"""Random streams that stay the same across library versions and platforms.

Biprop never trains the random weights; inference needs only their signs (and the mean
magnitude over the kept entries).  If the weights are drawn from a stream that is
guaranteed stable, a saved model only needs the seed to regenerate them.  torch's
generators carry no such guarantee and numpy's ``Generator`` methods may change their
algorithms, but numpy's bit generators (here PCG64) and ``SeedSequence`` are frozen by
numpy's policy (NEP 19).  We therefore turn raw PCG64 bits into floats ourselves.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["stable_uniform", "stable_keys"]

_TWO_POW_MINUS_53 = 1.0 / (1 << 53)


def _raw_bits(n: int, seed: int, stream: tuple[int, ...]) -> np.ndarray:
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    seq = np.random.SeedSequence(entropy=int(seed), spawn_key=tuple(int(s) for s in stream))
    return np.random.PCG64(seq).random_raw(n)


def _unit_floats(n: int, seed: int, stream: tuple[int, ...]) -> np.ndarray:
    """``n`` floats in [0, 1) with 53 random bits each (top bits of each 64-bit draw)."""
    return (_raw_bits(n, seed, stream) >> np.uint64(11)).astype(np.float64) * _TWO_POW_MINUS_53


def stable_uniform(
    shape: tuple[int, ...], seed: int, stream: tuple[int, ...] = (), low: float = -1.0, high: float = 1.0
) -> torch.Tensor:
    """Draw a float32 tensor from U(low, high) with a version-stable stream.

    Parameters
    ----------
    shape : tuple of int
        Shape of the tensor.
    seed : int
        Non-negative master seed.
    stream : tuple of int, default=()
        Sub-stream key (for example the index of a layer), mixed into the seed with
        :class:`numpy.random.SeedSequence` so that every layer gets an independent stream.
    low, high : float, default=-1.0, 1.0
        Interval bounds.

    Returns
    -------
    torch.Tensor
        Float32 tensor of the given shape on the CPU.

    Examples
    --------
    >>> from sbt_sklearn.nn._rng import stable_uniform
    >>> w = stable_uniform((2, 3), seed=0, stream=(1,))
    >>> tuple(w.shape)
    (2, 3)
    """
    n = math.prod(shape)
    u = _unit_floats(n, seed, stream)
    values = low + (high - low) * u
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


def stable_keys(shape: tuple[int, ...], seed: int, stream: tuple[int, ...] = ()) -> torch.Tensor:
    """Random sort keys (uint64 bits as int64) for stable random permutations.

    Sorting each row of the returned tensor gives a random permutation of that row that only
    depends on ``(seed, stream)`` and the row index, because rows consume the stream in order.
    """
    n = math.prod(shape)
    bits = (_raw_bits(n, seed, stream) >> np.uint64(1)).astype(np.int64)
    return torch.from_numpy(bits.reshape(shape))
