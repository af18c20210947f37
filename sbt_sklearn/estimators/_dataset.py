"""Window datasets that materialise one batch at a time, and the loader skorch iterates over."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["WindowDataset", "BatchLoader"]


class WindowDataset(torch.utils.data.Dataset):
    """Windows ``X`` (n, C, T) with optional targets, standardised batch by batch.

    ``X`` may be a read-only strided view; only the windows of a batch are ever copied.
    ``make_batch(x, y, padding_mask)`` turns a standardised (B, T, C) float32 tensor into the
    network's keyword inputs and the loss target.
    """

    def __init__(self, X, y=None, padding_mask=None, *, mean, scale, make_batch, indices=None):
        self.X, self.y, self.padding_mask = X, y, padding_mask
        self.mean = torch.as_tensor(mean, dtype=torch.float32)  # (C,)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)
        self.make_batch = make_batch
        self.indices = np.arange(len(X)) if indices is None else np.asarray(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def subset(self, indices) -> WindowDataset:
        """A dataset over ``self.indices[indices]`` sharing the same arrays."""
        return WindowDataset(self.X, self.y, self.padding_mask, mean=self.mean, scale=self.scale,
                             make_batch=self.make_batch, indices=self.indices[np.asarray(indices)])

    def lengths(self) -> np.ndarray | None:
        """Observed steps of every window (right-padded panels), or None when none is padded."""
        if self.padding_mask is None:
            return None
        return np.asarray(self.padding_mask.shape[1] - np.asarray(self.padding_mask)[self.indices].sum(axis=1))

    def __getitem__(self, i):
        return self.get_batch(np.asarray([i]))

    def get_batch(self, positions: np.ndarray):
        """Inputs and target for the windows at ``positions`` (indices into this dataset)."""
        idx = self.indices[positions]
        x = torch.from_numpy(np.asarray(self.X[idx], dtype=np.float32))  # (B, C, T): the only copy
        x = ((x.transpose(1, 2) - self.mean) / self.scale).contiguous()  # (B, T, C)
        pad = None
        if self.padding_mask is not None:
            pad = torch.from_numpy(np.asarray(self.padding_mask[idx]))
            x = x.masked_fill(pad.unsqueeze(-1), 0.0)
        y = None if self.y is None else torch.from_numpy(np.asarray(self.y[idx]))
        return self.make_batch(x, y, pad)


class BatchLoader:
    """Iterate over a :class:`WindowDataset` in batches, each fetched with one vectorised index.

    Reshuffles every epoch when ``shuffle=True``, from a generator passed once as ``seed`` (skorch
    builds a new loader every epoch with the same generator), so a seeded fit is reproducible while
    every epoch sees a new order. ``max_samples`` (an int, a fraction of the dataset, or None for
    all) makes every epoch visit a fresh random subset of that many windows. skorch builds it
    through ``iterator_train`` / ``iterator_valid``.

    Unequal-length panels are bucketed when shuffling: the shuffled order is cut into chunks of
    :attr:`bucket_batches` batches, each chunk is sorted by series length before it is cut into
    batches, and the batches are visited in random order. A batch then pads only to its own
    longest series (the classifier trims the rest) instead of the panel's.
    """

    #: batches per bucketing chunk (larger: batches of more similar lengths, less random batches)
    bucket_batches = 8

    def __init__(self, dataset, batch_size=32, shuffle=False, seed=None, drop_last=False, max_samples=None,
                 **_ignored):
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), shuffle, drop_last
        self.max_samples = max_samples
        self.rng = np.random.default_rng(seed)

    def _n(self) -> int:
        n, m = len(self.dataset), self.max_samples
        if m is None:
            return n
        if isinstance(m, float):
            return max(1, min(n, int(np.ceil(m * n))))
        return min(n, int(m))

    def __len__(self) -> int:
        m = self._n()
        return m // self.batch_size if self.drop_last and m >= self.batch_size else -(-m // self.batch_size)

    def __iter__(self):
        n, m = len(self.dataset), self._n()
        if m < n:  # a fresh subset every epoch, visited in random order (or in time order)
            order = np.sort(self.rng.choice(n, size=m, replace=False))
            order = self.rng.permutation(order) if self.shuffle else order
        else:
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        stop = m - m % self.batch_size if self.drop_last and m >= self.batch_size else m
        starts = np.arange(0, stop, self.batch_size)
        lengths = self.dataset.lengths() if self.shuffle and hasattr(self.dataset, "lengths") else None
        if lengths is not None:
            chunk = self.batch_size * self.bucket_batches
            order = order.copy()
            for at in range(0, len(order), chunk):
                part = order[at : at + chunk]
                order[at : at + chunk] = part[np.argsort(lengths[part], kind="stable")]
            starts = self.rng.permutation(starts)
        for start in starts:
            yield self.dataset.get_batch(order[start : start + self.batch_size])
