"""SBT encoder: sparse-binary input projection, positional encoding, post-norm layers."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..sparsity._topk import global_keep_counts
from ._attention import SparseMultiheadAttention
from ._biprop import SparseBinaryLinear
from ._norm import make_norm

__all__ = ["PositionalEncoding", "SBTEncoderLayer", "SBTEncoder"]


class PositionalEncoding(nn.Module):
    """Fixed sinusoidal positional encoding (any length) or a learnable table (``max_len`` rows)."""

    def __init__(self, d: int, *, learnable: bool = False, max_len: int = 1024, seed: int = 0) -> None:
        super().__init__()
        self.d, self.learnable, self.max_len = d, learnable, max_len
        if learnable:
            gen = torch.Generator().manual_seed(int(seed))
            self.table = nn.Parameter(torch.rand(max_len, d, generator=gen) * 0.04 - 0.02)
        self._fixed: torch.Tensor | None = None

    def _sinusoid(self, length: int, device, dtype) -> torch.Tensor:
        cached = self._fixed
        if cached is None or cached.shape[0] < length or cached.device != device or cached.dtype != dtype:
            pos = torch.arange(max(length, 64), dtype=torch.float64)[:, None]
            div = torch.exp(torch.arange(0, self.d, 2, dtype=torch.float64) * (-math.log(10000.0) / self.d))
            pe = torch.zeros(pos.shape[0], self.d, dtype=torch.float64)
            pe[:, 0::2] = torch.sin(pos * div)
            pe[:, 1::2] = torch.cos(pos * div)[:, : self.d // 2]
            self._fixed = cached = pe.to(device=device, dtype=dtype)
        return cached[:length]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        t = x.shape[1]
        if self.learnable:
            if t > self.max_len:
                raise ValueError(f"series of length {t} exceed the learnable positional table ({self.max_len})")
            return x + self.table[:t]
        return x + self._sinusoid(t, x.device, x.dtype)


class SBTEncoderLayer(nn.Module):
    """Post-norm encoder layer: ``x = norm1(x + attn(x)); x = norm2(x + lin2(relu(lin1(x))))``."""

    def __init__(self, d, n_heads, d_ff, *, attention, norm, p, binary, max_len, seed, stream) -> None:
        super().__init__()
        lin = dict(p=p, binary=binary, bias=not binary, seed=seed)
        self.attn = SparseMultiheadAttention(
            d, n_heads, mode=attention, p=p, binary=binary, max_len=max_len, seed=seed, stream=stream + (0,)
        )
        self.lin1 = SparseBinaryLinear(d, d_ff, stream=stream + (1,), **lin)
        self.lin2 = SparseBinaryLinear(d_ff, d, stream=stream + (2,), **lin)
        self.norm1 = make_norm(norm, d)
        self.norm2 = make_norm(norm, d)

    def forward(self, x, padding_mask=None, last_only=False, n_queries=1):  # noqa: D102
        a = self.attn(x, padding_mask, need_past=not last_only, n_queries=n_queries)  # (B, T or n_queries, d)
        if last_only:
            x = x[:, -n_queries:]
            padding_mask = None if padding_mask is None else padding_mask[:, -n_queries:]
        x = self.norm1(x + a, padding_mask)
        x = self.norm2(x + self.lin2(torch.relu(self.lin1(x))), padding_mask)
        return x


class SBTEncoder(nn.Module):
    """Stack of SBT encoder layers over a sparse-binary input projection.

    Parameters
    ----------
    n_channels : int
        Number of input channels ``m``.
    d : int, default=64
        Model width.
    n_heads : int, default=2
        Attention heads.
    n_layers : int, default=2
        Encoder layers.
    d_ff : int, default=256
        Feed-forward width.
    p : float, default=0.5
        Prune rate of every sparse-binary linear.
    binary : bool, default=True
        Biprop sign-binary weights; ``False`` with ``p=0`` is the dense FP32 twin.
    attention : {"full", "step_t", "qkv_mask"}, default="full"
        Attention mode (see :class:`SparseMultiheadAttention`).
    norm : {"batch", "layer", "layer_plain", "none"}, default="batch"
        Normalisation after each residual (``"layer_plain"``: layer norm without gain and bias).
    pos_encoding : {"fixed", "learnable"}, default="fixed"
        Sinusoidal or learnable positional encoding.
    max_len : int, default=512
        Length of learnable tables and initial Q/K/V masks.
    topk_scope : {"layer", "global"}, default="layer"
        Keep the top ``1 - p`` of scores in every layer, or over the union of all layers.
    seed : int, default=0
        One integer seeds every weight, score and mask: same seed, same model.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import SBTEncoder
    >>> enc = SBTEncoder(3, d=16, n_heads=2, n_layers=1, d_ff=32, seed=0)
    >>> enc(torch.randn(4, 20, 3)).shape
    torch.Size([4, 20, 16])
    """

    def __init__(
        self,
        n_channels: int,
        *,
        d: int = 64,
        n_heads: int = 2,
        n_layers: int = 2,
        d_ff: int = 256,
        p: float = 0.5,
        binary: bool = True,
        attention: str = "full",
        norm: str = "batch",
        pos_encoding: str = "fixed",
        max_len: int = 512,
        topk_scope: str = "layer",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if pos_encoding not in ("fixed", "learnable"):
            raise ValueError(f"pos_encoding must be 'fixed' or 'learnable', got {pos_encoding!r}")
        if topk_scope not in ("layer", "global"):
            raise ValueError(f"topk_scope must be 'layer' or 'global', got {topk_scope!r}")
        self.d, self.topk_scope, self.attention = d, topk_scope, attention
        self.embed = SparseBinaryLinear(n_channels, d, p=p, binary=binary, bias=not binary, seed=seed, stream=(0,))
        self.pos = PositionalEncoding(d, learnable=pos_encoding == "learnable", max_len=max_len, seed=seed)
        self.layers = nn.ModuleList(
            SBTEncoderLayer(
                d, n_heads, d_ff, attention=attention, norm=norm, p=p, binary=binary,
                max_len=max_len, seed=seed, stream=(1 + i,),
            )
            for i in range(n_layers)
        )

    def forward(self, x, padding_mask=None, last_only=False, n_queries=1):
        """Encode ``x`` of shape (B, T, m) into (B, T, d), or (B, n_queries, d) with ``last_only``.

        ``last_only`` computes the final layer for the last ``n_queries`` steps only; with
        step-T attention (where the last ``n_queries`` steps are the queries) they are all a
        last-step head needs.
        """
        z = self.pos(self.embed(x) * math.sqrt(self.d))  # (B, T, d)
        for i, layer in enumerate(self.layers):
            z = layer(z, padding_mask, last_only=last_only and i == len(self.layers) - 1, n_queries=n_queries)
        return torch.relu(z)


def sparse_layers(module: nn.Module) -> list[SparseBinaryLinear]:
    """All :class:`SparseBinaryLinear` layers of ``module`` that carry scores."""
    return [m for m in module.modules() if isinstance(m, SparseBinaryLinear) and m.scores is not None]


def update_global_topk_(module: nn.Module, p: float) -> None:
    """Set every layer's keep count from one top-k over the union of all scores."""
    layers = sparse_layers(module)
    if not layers:
        return
    for layer, count in zip(layers, global_keep_counts([m.scores for m in layers], p)):
        layer.keep_override = count
