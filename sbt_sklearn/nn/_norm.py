"""Normalisation layers that respect padding masks."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["MaskedBatchNorm", "make_norm", "NORMS"]

NORMS = ("batch", "layer", "layer_plain", "none")


class MaskedBatchNorm(nn.BatchNorm1d):
    """Batch norm over the width of (B, T, d) inputs, with statistics from valid steps only.

    Padded steps never enter the batch statistics, so they cannot change the output at valid
    steps. Their own outputs are zero.
    """

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:  # noqa: D102
        b, t, d = x.shape
        use_batch_stats = self.training
        if padding_mask is None:
            flat = x.reshape(b * t, d)
            if use_batch_stats and flat.shape[0] < 2:
                use_batch_stats = False  # one value per channel: fall back to running statistics
            return self._bn(flat, use_batch_stats).view(b, t, d)
        valid = ~padding_mask.reshape(-1)  # (B*T,)
        rows = x.reshape(b * t, d)[valid]
        if use_batch_stats and rows.shape[0] < 2:
            use_batch_stats = False
        out = x.new_zeros(b * t, d)
        out[valid] = self._bn(rows, use_batch_stats)
        return out.view(b, t, d)

    def _bn(self, rows: torch.Tensor, use_batch_stats: bool) -> torch.Tensor:
        return F.batch_norm(
            rows,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_batch_stats,
            self.momentum,
            self.eps,
        )


class _LayerNorm(nn.LayerNorm):
    def forward(self, x, padding_mask=None):  # noqa: D102
        return super().forward(x)


class _NoNorm(nn.Module):
    def forward(self, x, padding_mask=None):  # noqa: D102
        return x


def make_norm(kind: str, d: int) -> nn.Module:
    """Build a norm over the width ``d``: ``"batch"``, ``"layer"``, ``"layer_plain"`` or ``"none"``.

    ``"layer_plain"`` is layer norm without the trainable gain and bias (nothing to store).
    """
    if kind == "batch":
        return MaskedBatchNorm(d)
    if kind == "layer":
        return _LayerNorm(d)
    if kind == "layer_plain":
        return _LayerNorm(d, elementwise_affine=False)
    if kind == "none":
        return _NoNorm()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")
