"""Task networks: an :class:`SBTEncoder` with a classification or last-step head."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..sparsity import biprop_weights
from ._biprop import SparseBinaryLinear
from ._encoder import SBTEncoder, sparse_layers, update_global_topk_

__all__ = ["SBTClassificationNet", "SBTLastStepNet", "patch_tokens"]


def patch_tokens(x: torch.Tensor, padding_mask: torch.Tensor | None, patch_len: int):
    """Group every ``patch_len`` consecutive steps of ``x`` (B, T, C) into one token.

    Returns ``(tokens, token_mask)``: tokens (B, ceil(T / P), P * C) hold the steps of a patch
    one after another (step-major, so a token is P contiguous rows of the (T, C) series), and
    the last patch is completed with zeros (a standardised series' mean), as are padded steps.
    A token is padding only where all its steps are: a series of length L has ceil(L / P) valid
    tokens whatever the length it is padded to, so padding never changes a prediction.
    ``patch_len=1`` returns the inputs unchanged.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import patch_tokens
    >>> x = torch.arange(10.0).reshape(1, 5, 2)  # 5 steps, 2 channels
    >>> tokens, mask = patch_tokens(x, torch.tensor([[False, False, False, True, True]]), 2)
    >>> tokens[0].tolist()  # steps 3 and 4 are padding: zeros
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    >>> mask.tolist()
    [[False, False, True]]
    """
    if patch_len == 1:
        return x, padding_mask
    if padding_mask is not None:  # padded steps inside a token's patch count as zeros, whatever they held
        x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
    b, t, c = x.shape
    extra = (-t) % patch_len
    if extra:
        x = torch.nn.functional.pad(x, (0, 0, 0, extra))
        if padding_mask is not None:
            padding_mask = torch.nn.functional.pad(padding_mask, (0, extra), value=True)
    x = x.reshape(b, -1, patch_len * c)
    if padding_mask is not None:
        padding_mask = padding_mask.reshape(b, -1, patch_len).all(dim=-1)
    return x, padding_mask


class _SBTNet(nn.Module):
    """Shared plumbing: build the encoder and decoder, global top-k, prune-rate control."""

    def __init__(self, n_channels, n_outputs, *, d, n_heads, n_layers, d_ff, p, binary, attention, norm,
                 pos_encoding, max_len, topk_scope, seed):
        super().__init__()
        self.encoder = SBTEncoder(
            n_channels, d=d, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff, p=p, binary=binary,
            attention=attention, norm=norm, pos_encoding=pos_encoding, max_len=max_len,
            topk_scope=topk_scope, seed=seed,
        )
        self.decoder = SparseBinaryLinear(d, n_outputs, p=p, binary=binary, bias=not binary, seed=seed, stream=(100,))
        self.topk_scope = topk_scope
        self._p = float(p)
        self._global_fresh = False

    @property
    def p(self) -> float:
        """Prune rate shared by all sparse-binary layers; setting it updates every layer."""
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        for layer in sparse_layers(self):
            layer.p = value
        self._p = float(value)
        self._global_fresh = False

    def _before_forward(self) -> None:
        if self.topk_scope == "global" and (self.training or not self._global_fresh):
            update_global_topk_(self, self._p)
            self._global_fresh = not self.training

    #: compute the Biprop weights of a training forward in one autograd node (False: layer by layer)
    fuse_biprop: bool = True

    @contextlib.contextmanager
    def _fused_biprop(self):
        """While training with autograd: compute every Biprop layer's weight in one autograd node
        (:func:`~sbt_sklearn.sparsity.biprop_weights`, the same values and gradients as layer by
        layer) and let the layers use it for this forward. On small shapes the per-layer Python
        and autograd overhead is most of what Biprop adds to a training step."""
        fuse = self.fuse_biprop and self.training and torch.is_grad_enabled()
        layers = [m for m in sparse_layers(self) if m.binary] if fuse else []
        if len(layers) < 2:
            yield
            return
        weights = biprop_weights([m.scores for m in layers], [m.weight for m in layers], [m.n_keep for m in layers],
                                 [m.weight_sign for m in layers], [m.weight_abs for m in layers])
        for layer, weight in zip(layers, weights):
            layer._cache, layer._fused = None, weight
        try:
            yield
        finally:
            for layer in layers:
                layer._fused = None

    def train(self, mode: bool = True):  # noqa: D102
        self._global_fresh = False
        return super().train(mode)


class SBTClassificationNet(_SBTNet):
    """SBT classifier network: encoder, masked mean over valid steps, sparse-binary decoder.

    The decoder is applied to the mean of the encoder outputs over non-padded steps, which
    equals the mean of per-step decoder outputs (SBT's head) because the decoder is linear.
    Returns logits of shape (B, n_classes).

    Parameters
    ----------
    n_channels : int
        Input channels.
    n_classes : int
        Number of classes.
    patch_len : int, default=1
        Steps per token (:func:`patch_tokens`); the embedding takes ``patch_len * n_channels``
        inputs and ``max_len`` counts tokens.
    **kwargs
        Encoder hyperparameters, see :class:`SBTEncoder`.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import SBTClassificationNet
    >>> net = SBTClassificationNet(3, 4, d=16, n_layers=1, d_ff=32, attention="qkv_mask", max_len=20)
    >>> net(torch.randn(5, 20, 3)).shape
    torch.Size([5, 4])
    """

    def __init__(self, n_channels: int, n_classes: int, *, d: int = 64, n_heads: int = 2, n_layers: int = 2,
                 d_ff: int = 256, p: float = 0.5, binary: bool = True, attention: str = "qkv_mask",
                 norm: str = "batch", pos_encoding: str = "fixed", max_len: int = 512,
                 topk_scope: str = "layer", seed: int = 0, patch_len: int = 1) -> None:
        if int(patch_len) < 1:
            raise ValueError(f"patch_len must be >= 1; got {patch_len}")
        super().__init__(n_channels * int(patch_len), n_classes, d=d, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff,
                         p=p, binary=binary, attention=attention, norm=norm, pos_encoding=pos_encoding,
                         max_len=max_len, topk_scope=topk_scope, seed=seed)
        self.patch_len = int(patch_len)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for windows ``x`` (B, T, m); ``padding_mask`` (B, T) is True at padded steps."""
        self._before_forward()
        x, padding_mask = patch_tokens(x, padding_mask, self.patch_len)  # (B, tokens, P * m)
        with self._fused_biprop():
            z = self.encoder(x, padding_mask)  # (B, tokens, d)
            if padding_mask is None:
                pooled = z.mean(dim=1)
            else:
                valid = (~padding_mask).unsqueeze(-1).to(z.dtype)  # (B, T, 1)
                pooled = (z * valid).sum(dim=1) / valid.sum(dim=1).clamp_min(1.0)
            return self.decoder(pooled)  # (B, C)


class SBTLastStepNet(_SBTNet):
    """SBT network that outputs one vector for the last step of each window.

    Used for forecasting (the last row of the input is zeroed and predicted) and anomaly
    detection (the last row is reconstructed). With step-T attention the final layer is
    computed for the last step only. Returns (B, n_outputs).

    With ``n_queries=H`` (multi-horizon forecasting) the last ``H`` rows are queries: under
    step-T attention each attends to every earlier row and to no query, the final layer and the
    decoder run for those rows alone, and the output is (B, H, n_outputs).

    Parameters
    ----------
    n_channels : int
        Input channels.
    n_outputs : int
        Output size (usually ``n_channels``).
    output_gate : bool, default=False
        Multiply the output by a trainable FP32 vector that starts at 1 (used by the forecaster
        on top of its linear base).
    n_queries : int, default=1
        Rows at the end of the input that are predicted (see above).
    **kwargs
        Encoder hyperparameters, see :class:`SBTEncoder`.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> net = SBTLastStepNet(3, 3, d=16, n_layers=1, d_ff=32, attention="step_t", norm="layer")
    >>> net(torch.randn(5, 20, 3)).shape
    torch.Size([5, 3])
    >>> SBTLastStepNet(3, 3, d=16, n_layers=1, d_ff=32, n_queries=4)(torch.randn(5, 24, 3)).shape
    torch.Size([5, 4, 3])
    """

    def __init__(self, n_channels: int, n_outputs: int, *, d: int = 64, n_heads: int = 2, n_layers: int = 2,
                 d_ff: int = 256, p: float = 0.5, binary: bool = True, attention: str = "step_t",
                 norm: str = "layer", pos_encoding: str = "fixed", max_len: int = 512,
                 topk_scope: str = "layer", seed: int = 0, output_gate: bool = False, n_queries: int = 1) -> None:
        if int(n_queries) < 1:
            raise ValueError(f"n_queries must be >= 1; got {n_queries}")
        super().__init__(n_channels, n_outputs, d=d, n_heads=n_heads, n_layers=n_layers, d_ff=d_ff, p=p,
                         binary=binary, attention=attention, norm=norm, pos_encoding=pos_encoding,
                         max_len=max_len, topk_scope=topk_scope, seed=seed)
        # a trainable FP32 scale per output, starting at 1: a model that adds the output to a
        # baseline can shrink a channel whose network output does not help (the sign-binary
        # decoder cannot scale itself below its gain). Starting at 0 (ReZero) was measured worse:
        # the gate stayed near 0 and the network added nothing to the baseline.
        self.output_gate = nn.Parameter(torch.ones(n_outputs)) if output_gate else None
        self.n_queries = int(n_queries)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Output at the last step (or the last ``n_queries`` steps) of windows ``x`` (B, T, m)."""
        self._before_forward()
        q = self.n_queries
        with self._fused_biprop():
            z = self.encoder(x, padding_mask, last_only=True, n_queries=q)  # (B, q, d)
            out = self.decoder(z[:, -1] if q == 1 else z)  # (B, n_outputs) or (B, q, n_outputs)
        return out if self.output_gate is None else out * self.output_gate
