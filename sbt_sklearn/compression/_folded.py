"""Folded inference: an SBT network as plain torch layers, mask, sign and gain baked into weights.

:func:`fold_network` turns a trained :class:`~sbt_sklearn.nn.SBTClassificationNet` or
:class:`~sbt_sklearn.nn.SBTLastStepNet` into a :class:`FoldedSBT`: ``nn.Linear`` layers whose
weight is ``alpha * sign(W) * M`` (one weight per layer, the embedding's ``sqrt(d)`` scale
included), ``nn.LayerNorm`` or a folded batch-norm affine, attention with the step-T fast path
(only the last query attends; every past step's output is its own value), and optional input
and output transforms held as buffers (standardisation, the task's output). The classes below
use nothing but torch: ``torch.export.save(torch.export.export(folded, (x,)), path)`` (or, on
older torch, ``torch.jit.script(folded).save(path)``; the module is TorchScript-compatible)
gives a file that runs with torch alone, and the model exports to ONNX
(:meth:`sbt_sklearn.estimators.SBTClassifier.export_onnx`).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from ..anomaly._typicality import combined_anomaly
from ..nn._lags import base_forecast

__all__ = ["FoldedSBT", "FoldedAttention", "FoldedEncoderLayer", "fold_network"]

#: input transforms: none, append a zero row (forecast), re-reference to the last row and append
#: a zero row (forecast, target="relative"), zero the last row (anomaly, target="predict"),
#: keep the last row as the reconstruction target (anomaly, target="reconstruct")
INPUT_MODES = ("none", "append_zero", "relative_append_zero", "zero_last", "keep_last")
#: output transforms: raw network output, softmax probabilities (float64), next row on the
#: original scale (float64; "level" adds the last observed row back first), minus the weighted
#: squared error of the last step (float64 anomaly score, higher = more normal), the target being
#: the last row or ("_delta") its change from the row before
OUTPUT_MODES = ("raw", "softmax", "rescale", "rescale_level", "neg_weighted_error", "neg_weighted_error_delta")


def fuses_first_layer(mode: str, last_only: bool, n_channels: int, d: int) -> bool:
    """Whether the folded model computes the first layer's past steps from the raw input rows
    (step-T, every step kept, no more channels than model dimensions: see :class:`FoldedSBT`)."""
    return mode == "step_t" and not last_only and n_channels <= d


def _linear(weight: torch.Tensor, bias: Optional[torch.Tensor]) -> nn.Linear:
    out_f, in_f = weight.shape
    lin = nn.Linear(in_f, out_f, bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    lin.requires_grad_(False)
    return lin


class _Affine(nn.Module):
    """Batch norm in eval mode folded into ``x * scale + shift``."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x * self.scale + self.shift


class FoldedAttention(nn.Module):
    """Multi-head self-attention over (B, T, d) with folded projection weights.

    Parameters
    ----------
    q, k, v, out : torch.nn.Linear
        Projections.
    n_heads : int
        Number of heads.
    mode : {"full", "step_t", "qkv_mask"}
        Attention mode (see :class:`~sbt_sklearn.nn.SparseMultiheadAttention`).
    qkv_mask : torch.Tensor or None
        Boolean (3, L, d') activation masks for ``"qkv_mask"`` (windows up to L steps).
    n_queries : int, default=1
        Trailing steps that are queries (a multi-horizon forecaster's predicted rows, see
        :func:`~sbt_sklearn.nn.step_t_mask`); with ``last_only`` their outputs are returned.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sbt_sklearn.compression import FoldedAttention
    >>> lin = lambda: nn.Linear(8, 8)
    >>> attn = FoldedAttention(lin(), lin(), lin(), lin(), 2, "step_t", None)
    >>> attn(torch.randn(3, 5, 8), False).shape
    torch.Size([3, 5, 8])
    """

    def __init__(self, q: nn.Linear, k: nn.Linear, v: nn.Linear, out: nn.Linear, n_heads: int, mode: str,
                 qkv_mask: Optional[torch.Tensor], n_queries: int = 1) -> None:
        super().__init__()
        self.q, self.k, self.v, self.out = q, k, v, out
        self.n_queries = int(n_queries)
        self.n_heads = int(n_heads)
        self.d = int(q.weight.shape[0])
        self.head_dim = self.d // self.n_heads
        self.mode = str(mode)
        self.sqrt_dh = math.sqrt(self.head_dim)
        mask = torch.ones(3, 1, self.head_dim) if qkv_mask is None else qkv_mask.to(torch.float32)
        self.register_buffer("qkv_mask", mask)
        # step-T: a past step attends to itself only, so its output is one product with the
        # folded W_o W_v. The last query needs no key or value projection of the past steps:
        # its score on step t is (x_T W_q,h^T + b_q,h) W_k,h x_t / sqrt(d') (the key bias adds a
        # constant per head, which softmax ignores), i.e. (x_T QK_h + c_h) . x_t with
        # QK_h = W_q,h^T W_k,h / sqrt(d'), and its output is sum_h (w_h x) (W_o,h W_v,h)^T
        # + W_o b_v + b_o (the attention weights sum to 1). Products are formed in float64.
        with torch.no_grad():
            wq, wk, wv, wo = (m.weight.double() for m in (q, k, v, out))
            zeros = torch.zeros(self.d, dtype=torch.float64)
            bq, bv, bo = (m.bias.double() if m.bias is not None else zeros for m in (q, v, out))
            heads = torch.arange(self.d).reshape(self.n_heads, self.head_dim)
            qk = torch.cat([wq[h].T @ wk[h] for h in heads], dim=1) / self.sqrt_dh  # (d, h*d)
            qk_bias = torch.cat([bq[h] @ wk[h] for h in heads]) / self.sqrt_dh  # (h*d,)
            vo = torch.cat([(wo[:, h] @ wv[h]).T for h in heads], dim=0)  # (h*d, d)
            self.vo = _linear((wo @ wv).float(), (wo @ bv + bo).float())
            self.register_buffer("qk", qk.float())
            self.register_buffer("qk_bias", qk_bias.float())
            self.register_buffer("vo_heads", vo.float())
            self.register_buffer("vo_bias", (wo @ bv + bo).float())

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t = x.shape[0], x.shape[1]
        return x.reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2)

    def attend_last(self, x: torch.Tensor) -> torch.Tensor:
        """Step-T outputs of the query steps of ``x`` (B, T, d): (B, d) for one query, else
        (B, n_queries, d)."""
        b, q = x.shape[0], self.n_queries
        past = x[:, : x.shape[1] - q]  # (B, T-q, d)
        rows = x[:, x.shape[1] - q :].reshape(b * q, self.d)
        a = torch.addmm(self.qk_bias, rows, self.qk).reshape(b, q * self.n_heads, self.d)  # (B, q*h, d)
        w = torch.softmax(torch.bmm(a, past.transpose(1, 2)), dim=-1)  # (B, q*h, T-q)
        ctx = torch.bmm(w, past).reshape(b * q, self.n_heads * self.d)  # (B*q, h*d)
        out = torch.addmm(self.vo_bias, ctx, self.vo_heads)
        return out if q == 1 else out.reshape(b, q, self.d)

    def forward(self, x: torch.Tensor, last_only: bool) -> torch.Tensor:
        """Attend over ``x`` (B, T, d); ``last_only`` returns the query steps only, as (B, d) for
        one query, else (B, n_queries, d)."""
        b, t, nq = x.shape[0], x.shape[1], self.n_queries
        if self.mode == "step_t":
            if last_only:
                return self.attend_last(x)
            out = self.vo(x)  # a past step attends to itself only: its output is out(v(x_t))
            out[:, t - nq :] = self.attend_last(x).reshape(b, nq, self.d)
            return out
        q = self._split(self.q(x[:, t - nq :] if last_only else x))  # only the queries when they are all we need
        k = self._split(self.k(x))
        v = self._split(self.v(x))
        if self.mode == "qkv_mask":
            m = self.qkv_mask[:, :t]  # (3, T, d') broadcast over batch and heads
            q = q * (m[0, t - nq :] if last_only else m[0])
            k, v = k * m[1], v * m[2]
        w = torch.softmax((q @ k.transpose(-2, -1)) / self.sqrt_dh, dim=-1)
        o = (w @ v).transpose(1, 2)
        if last_only:
            return self.out(o.reshape(b, self.d) if nq == 1 else o.reshape(b, nq, self.d))
        return self.out(o.reshape(b, t, self.d))


class FoldedEncoderLayer(nn.Module):
    """Post-norm encoder layer ``x = n1(x + attn(x)); x = n2(x + lin2(relu(lin1(x))))``.

    With ``last_only=True`` only the last step is computed after attention (the last layer of
    a last-step network) and the layer maps (B, T, d) to (B, d).
    """

    def __init__(self, attn: FoldedAttention, lin1: nn.Linear, lin2: nn.Linear, norm1: nn.Module,
                 norm2: nn.Module, last_only: bool) -> None:
        super().__init__()
        self.attn, self.lin1, self.lin2, self.norm1, self.norm2 = attn, lin1, lin2, norm1, norm2
        self.last_only = bool(last_only)

    def feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``n2(x + lin2(relu(lin1(x))))``."""
        return self.norm2(self.lin2(torch.relu_(self.lin1(x))).add_(x))  # a fresh tensor: add in place

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        a = self.attn(x, self.last_only)
        if self.last_only:
            nq = self.attn.n_queries
            x = x[:, -1] if nq == 1 else x[:, x.shape[1] - nq :]
        return self.feed_forward(self.norm1(a.add_(x)))


class FoldedSBT(nn.Module):
    """A folded SBT network: plain torch layers, optional input and output transforms.

    ``forward(x)`` takes raw windows of shape (B, C, T) (channels before time, as the
    estimators take them) when built with a scaler, standardised (B, T, C) windows otherwise.

    Parameters
    ----------
    embed : torch.nn.Linear
        Input projection with the ``sqrt(d)`` scale folded in.
    pos : torch.Tensor
        Positional table (L, d) added to the embedded steps (windows up to L steps).
    layers : list of FoldedEncoderLayer
        Encoder layers.
    decoder : torch.nn.Linear
        Output projection.
    head : {"mean", "last"}
        Mean over steps (classification) or the last step.
    mean, scale : torch.Tensor or None
        Per-channel standardisation of raw input; ``None`` takes standardised (B, T, C) input.
    input_mode : str
        One of :data:`INPUT_MODES`.
    output_mode : str
        One of :data:`OUTPUT_MODES`.
    channel_weights : torch.Tensor or None
        Per-channel error weights for ``"neg_weighted_error"``.
    base_weight, base_bias : torch.Tensor or None
        A linear base added to the network output (the forecaster's ``linear_base``): weight
        (lags * C, C) over the features ``[x_T, x_{T-1} - x_T, ..., x_{T-lags+1} - x_T]`` of the
        standardised window, and bias (C,).
    rarity : tuple of torch.Tensor or None
        For the anomaly outputs: ``(channels, value_bins, error_tail, rarity_tail)`` of an
        anomaly detector with ``rarity="marginal"`` (channel indices, histogram edges and tail
        knots, see :mod:`sbt_sklearn.anomaly._typicality`); the output is then minus the
        combined anomaly score instead of minus the weighted error.
    rarity_max : bool, default=False
        With ``rarity``: the detector's ``rarity="max"`` rule (the larger of the two tail
        levels) instead of ``"marginal"``'s sum.
    patch_len : int, default=1
        Steps per token (:func:`~sbt_sklearn.nn.patch_tokens`): the embedding takes
        ``patch_len * C`` inputs and ``pos`` has a row per token.
    n_queries : int, default=1
        Rows a multi-horizon forecaster predicts: the append modes add that many zero rows, the
        linear base is the channel-shared direct one (weight (lags, H), bias (H,)) and a
        forecast comes out as (B, C, H).
    output_scale : torch.Tensor or None
        Weight (n_queries,) of the network output of each query row before the linear base is
        added (the forecaster's ``net_blend_``); None: 1.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> from sbt_sklearn.compression import fold_network
    >>> net = SBTLastStepNet(3, 3, d=16, n_layers=1, d_ff=32).eval()
    >>> x = torch.randn(4, 20, 3)
    >>> folded = fold_network(net)
    >>> bool(torch.allclose(folded(x), net(x), atol=1e-5))
    True
    """

    def __init__(self, embed: nn.Linear, pos: torch.Tensor, layers: list, decoder: nn.Linear, head: str,
                 mean: Optional[torch.Tensor] = None, scale: Optional[torch.Tensor] = None,
                 input_mode: str = "none", output_mode: str = "raw",
                 channel_weights: Optional[torch.Tensor] = None, base_weight: Optional[torch.Tensor] = None,
                 base_bias: Optional[torch.Tensor] = None, rarity: Optional[tuple] = None,
                 patch_len: int = 1, n_queries: int = 1, output_scale: Optional[torch.Tensor] = None,
                 rarity_max: bool = False) -> None:
        super().__init__()
        if head not in ("mean", "last"):
            raise ValueError(f"head must be 'mean' or 'last', got {head!r}")
        if input_mode not in INPUT_MODES or output_mode not in OUTPUT_MODES:
            raise ValueError(f"bad input/output mode {input_mode!r}/{output_mode!r}")
        self.embed = embed
        self.register_buffer("pos", pos.to(torch.float32))
        self.layers = nn.ModuleList(layers)
        self.decoder = decoder
        self.head = head
        self.raw_input = mean is not None
        self.patch_len = int(patch_len)
        self.n_queries = int(n_queries)
        self.has_output_scale = output_scale is not None
        self.register_buffer("output_scale", torch.ones(self.n_queries) if output_scale is None
                             else torch.as_tensor(output_scale).to(torch.float32).reshape(self.n_queries))
        c = embed.weight.shape[1] // self.patch_len
        self.register_buffer("mean", torch.zeros(c) if mean is None else mean.to(torch.float32))
        self.register_buffer("scale", torch.ones(c) if scale is None else scale.to(torch.float32))
        self.register_buffer("mean64", self.mean.to(torch.float64))
        self.register_buffer("scale64", self.scale.to(torch.float64))
        cw = torch.ones(decoder.weight.shape[0]) if channel_weights is None else channel_weights
        self.register_buffer("channel_weights", cw.to(torch.float64))
        self.input_mode, self.output_mode = input_mode, output_mode
        self.max_len = int(pos.shape[0]) * self.patch_len  # steps
        per_lag = 1 if self.n_queries > 1 else c  # the direct base maps every channel's own lags
        self.base_lags = 0 if base_weight is None else int(base_weight.shape[0]) // per_lag
        self.register_buffer("base_weight", torch.zeros(0, 0) if base_weight is None else base_weight.float())
        self.register_buffer("base_bias", torch.zeros(0) if base_bias is None else base_bias.float())
        self.has_rarity = rarity is not None
        self.rarity_max = bool(rarity_max)
        parts = rarity if rarity is not None else (torch.zeros(0), torch.zeros(0, 2), torch.zeros(2, 2),
                                                   torch.zeros(2, 2))
        self.register_buffer("rarity_channels", torch.as_tensor(parts[0]).to(torch.int64))
        for name, value in zip(("value_bins", "error_tail", "rarity_tail"), parts[1:]):
            self.register_buffer(name, torch.as_tensor(value).to(torch.float64))
        # A step-T first layer that keeps every step: for a past step, x + attn(x) after the
        # embedding is affine in the raw input row, z_t + W_vo z_t + b_vo with
        # z_t = W_e x_t + b_e + pos_t, i.e. x_t A + B_t with A = ((I + W_vo) W_e)^T and
        # B_t = (I + W_vo)(b_e + pos_t) + b_vo: one (C, d) product per step instead of the
        # (d, d) one (formed in float64), when there are no more channels than model dimensions.
        first = self.layers[0] if len(self.layers) > 0 else None
        self.fuse_first = first is not None and fuses_first_layer(first.attn.mode, first.last_only,
                                                                   embed.weight.shape[1], pos.shape[1])
        fw, fb = torch.zeros(0, 0), torch.zeros(0, 0)
        if self.fuse_first:
            with torch.no_grad():
                d = self.pos.shape[1]
                vo = first.attn.vo
                wvo = torch.eye(d, dtype=torch.float64) + vo.weight.double()
                emb_b = embed.bias.double() if embed.bias is not None else torch.zeros(d, dtype=torch.float64)
                vo_b = vo.bias.double() if vo.bias is not None else torch.zeros(d, dtype=torch.float64)
                fw = (wvo @ embed.weight.double()).T.float().contiguous()
                fb = ((emb_b + self.pos.double()) @ wvo.T + vo_b).float()
        self.register_buffer("first_weight", fw)
        self.register_buffer("first_bias", fb)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.raw_input:
            x = (x.transpose(1, 2) - self.mean) / self.scale  # (B, T, C) float32, as the estimators
        b, c, nq = x.shape[0], x.shape[2], self.n_queries
        last = x[:, -1]  # the last observed row (standardised)
        base = last  # replaced below when there is a linear base (no allocation otherwise)
        if self.base_lags > 0:
            base = base_forecast(x[:, x.shape[1] - self.base_lags :], self.base_weight, self.base_bias, nq > 1)
        if self.input_mode == "relative_append_zero":
            x = x - last[:, None, :]
        if self.input_mode == "append_zero" or self.input_mode == "relative_append_zero":
            x = torch.cat([x, x.new_zeros(b, nq, c)], dim=1)
        elif self.input_mode == "zero_last":
            x = torch.cat([x[:, :-1], x.new_zeros(b, 1, c)], dim=1)
        if self.patch_len > 1:  # as nn.patch_tokens without a mask, written out for TorchScript
            short = (-x.shape[1]) % self.patch_len
            if short:
                x = torch.nn.functional.pad(x, (0, 0, 0, short))
            x = x.reshape(b, -1, self.patch_len * c)  # (B, tokens, P * C): a patch's rows one after another
        t = x.shape[1]
        z = self.embed(x).add_(self.pos[:t])
        for i, layer in enumerate(self.layers):
            if i == 0 and self.fuse_first:
                pre = torch.matmul(x, self.first_weight).add_(self.first_bias[:t])  # past steps: z + attn(z)
                pre[:, t - nq :] = layer.attn.attend_last(z).reshape(b, nq, -1).add_(z[:, t - nq :])
                z = layer.feed_forward(layer.norm1(pre))
            else:
                z = layer(z)
        z = torch.relu(z)
        if z.dim() == 3 and self.head == "mean":
            z = z.mean(dim=1)
        elif z.dim() == 3 and nq == 1:
            z = z[:, -1]
        out = self.decoder(z)  # (B, C), or (B, H, C) for H query rows
        if self.has_output_scale:
            out = out * (self.output_scale if nq == 1 else self.output_scale.unsqueeze(1))
        if self.base_lags > 0:
            out = out + base
        if self.output_mode == "softmax":
            return torch.softmax(out.to(torch.float64), dim=1)
        if self.output_mode == "rescale":
            out = out.to(torch.float64) * self.scale64 + self.mean64
            return out if nq == 1 else out.transpose(1, 2)
        if self.output_mode == "rescale_level":
            out = (out + (last if nq == 1 else last.unsqueeze(1))).to(torch.float64) * self.scale64 + self.mean64
            return out if nq == 1 else out.transpose(1, 2)
        if self.output_mode == "neg_weighted_error" or self.output_mode == "neg_weighted_error_delta":
            target = last
            if self.output_mode == "neg_weighted_error_delta" and x.shape[1] > 1:
                target = last - x[:, -2]
            err = (out.to(torch.float64) - target.to(torch.float64)) ** 2
            error = (err @ self.channel_weights) / err.shape[1]
            if self.has_rarity:
                values = last.index_select(1, self.rarity_channels).to(torch.float64)
                return -combined_anomaly(error, values, self.value_bins, self.error_tail, self.rarity_tail,
                                         self.rarity_max)
            return -error
        return out


def qkv_masks(attn, length: int) -> torch.Tensor:
    """The (3, length, d') Q/K/V activation masks of an attention module, without extending its buffer."""
    if length <= attn.qkv_mask.shape[1]:
        return attn.qkv_mask[:, :length].cpu()
    return attn._build_qkv_mask(length)  # prefix-stable: the same rows as an extended buffer


def _sinusoid(length: int, d: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(length, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe.to(torch.float32)


def _fold_norm(norm: nn.Module) -> nn.Module:
    if isinstance(norm, nn.LayerNorm):
        out = nn.LayerNorm(norm.normalized_shape, eps=norm.eps, elementwise_affine=norm.elementwise_affine)
        out.load_state_dict(norm.state_dict())
        return out.requires_grad_(False)
    if isinstance(norm, nn.modules.batchnorm._BatchNorm):
        inv = torch.rsqrt(norm.running_var.double() + norm.eps)
        weight = norm.weight.double() if norm.weight is not None else torch.ones_like(inv)
        bias = norm.bias.double() if norm.bias is not None else torch.zeros_like(inv)
        scale = weight * inv
        return _Affine(scale.float(), (bias - norm.running_mean.double() * scale).float())
    return nn.Identity()


def fold_network(net: nn.Module, *, max_len: int | None = None, mean=None, scale=None, input_mode: str = "none",
                 output_mode: str = "raw", channel_weights=None, base=None, rarity=None,
                 output_scale=None, rarity_max: bool = False) -> FoldedSBT:
    """Fold a trained SBT network into a :class:`FoldedSBT` of plain torch layers.

    Parameters
    ----------
    net : SBTClassificationNet or SBTLastStepNet
        The trained network (its current masks and gains are folded; it is not modified).
    max_len : int or None, default=None
        Longest window (steps) the folded model accepts (positional table and Q/K/V masks);
        defaults to what the network's ``max_len`` (in tokens) covers.
    mean, scale : array-like or None, default=None
        Per-channel standardisation: the folded model then takes raw (B, C, T) windows.
    input_mode, output_mode : str, default="none", "raw"
        Task transforms, see :data:`INPUT_MODES` and :data:`OUTPUT_MODES`.
    channel_weights : array-like or None, default=None
        Error weights of ``output_mode="neg_weighted_error"``.
    base : tuple of (weight, bias) or None, default=None
        Linear base added to the output (see :class:`FoldedSBT`).
    rarity : tuple of array-like or None, default=None
        Rarity tables of an anomaly detector (see :class:`FoldedSBT`).
    rarity_max : bool, default=False
        Combine the error and the rarity by the larger level (see :class:`FoldedSBT`).
    output_scale : array-like or None, default=None
        Per-query-row weight of the network output (see :class:`FoldedSBT`).

    Returns
    -------
    FoldedSBT
        The folded network, in eval mode, on the CPU, without gradients.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import SBTClassificationNet
    >>> from sbt_sklearn.compression import fold_network
    >>> net = SBTClassificationNet(3, 4, d=16, n_layers=1, d_ff=32, max_len=20).eval()
    >>> x = torch.randn(5, 20, 3)
    >>> bool(torch.allclose(fold_network(net)(x), net(x), atol=1e-5))
    True
    """
    from ..nn import SBTClassificationNet, SBTLastStepNet

    if not isinstance(net, (SBTClassificationNet, SBTLastStepNet)):
        raise TypeError(f"fold_network needs an SBTClassificationNet or SBTLastStepNet, got {type(net).__name__}")
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net._before_forward()  # global top-k: refresh the keep counts as a forward would

            def lin(layer, factor=1.0):
                w = layer.effective_weight().detach().cpu().float() * factor
                b = None if layer.bias is None else layer.bias.detach().cpu().float() * factor
                return _linear(w, b)

            enc = net.encoder
            patch = int(getattr(net, "patch_len", 1))
            length = -(-int(max_len) // patch) if max_len else int(enc.pos.max_len)  # tokens
            if enc.pos.learnable:
                length = min(length, enc.pos.max_len)
                pos = enc.pos.table.detach().cpu().float()[:length]
            else:
                pos = _sinusoid(length, enc.d)
            last_step = isinstance(net, SBTLastStepNet)
            n_queries = int(getattr(net, "n_queries", 1))
            layers = []
            for i, layer in enumerate(enc.layers):
                a = layer.attn
                qkv = qkv_masks(a, length) if a.mode == "qkv_mask" else None
                attn = FoldedAttention(lin(a.q_proj), lin(a.k_proj), lin(a.v_proj), lin(a.out_proj), a.n_heads,
                                       a.mode, qkv, n_queries)
                layers.append(FoldedEncoderLayer(attn, lin(layer.lin1), lin(layer.lin2), _fold_norm(layer.norm1),
                                                 _fold_norm(layer.norm2), last_step and i == len(enc.layers) - 1))
            as_tensor = lambda v: None if v is None else torch.as_tensor(v)  # noqa: E731
            decoder = lin(net.decoder)
            gate = getattr(net, "output_gate", None)
            if gate is not None:  # fold the output gate into the decoder's rows
                decoder = _linear(decoder.weight * gate[:, None].float(),
                                  None if decoder.bias is None else decoder.bias * gate.float())
            folded = FoldedSBT(lin(enc.embed, math.sqrt(enc.d)), pos, layers, decoder,
                               "last" if last_step else "mean", as_tensor(mean), as_tensor(scale), input_mode,
                               output_mode, as_tensor(channel_weights),
                               *(as_tensor(v) for v in (base if base is not None else (None, None))),
                               None if rarity is None else tuple(torch.as_tensor(v) for v in rarity),
                               patch_len=patch, n_queries=n_queries, output_scale=as_tensor(output_scale),
                               rarity_max=rarity_max)
    finally:
        net.train(was_training)
    return folded.eval().requires_grad_(False)
