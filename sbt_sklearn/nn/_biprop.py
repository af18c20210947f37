"""Sparse-binary linear layer learned with Biprop (Diffenderfer & Kailkhura, ICLR 2021)."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..sparsity._topk import biprop_weight, masked_weight, n_kept, topk_mask
from ._rng import stable_uniform

__all__ = ["SparseBinaryLinear"]


class SparseBinaryLinear(nn.Module):
    """Linear layer whose weight is a pruned, sign-binary copy of frozen random weights.

    The weights ``W`` are drawn once from a version-stable stream (so they can be regenerated
    from ``seed`` and ``stream``) and never trained. Trainable scores ``S`` select the kept
    entries: on every training forward the mask ``M`` keeps the ``1 - p`` fraction of entries
    with the largest ``|S|``, the gain ``alpha`` is the mean ``|W|`` over kept entries, and the
    effective weight is ``alpha * sign(W) * M``. Scores receive the straight-through gradient
    ``dL/dS = g * W * sign(S)``, pruned entries included. In eval mode (without autograd) the
    folded weight is cached until the scores, ``p`` or the keep count change.

    Parameters
    ----------
    in_features, out_features : int
        Layer sizes.
    p : float, default=0.5
        Prune rate: fraction of the weights removed (``1 - p`` are kept).
    binary : bool, default=True
        ``False`` gives the same structure with ordinary trainable FP32 weights, masked by the
        top-k scores when ``p > 0`` (and a plain linear layer when ``p == 0``).
    bias : bool, default=False
        Add a trainable bias.
    seed : int, default=0
        Master seed of the weight and score streams.
    stream : tuple of int, default=()
        Sub-stream of this layer (for example its position in the network).

    Attributes
    ----------
    weight : torch.Tensor
        Frozen random weights (a buffer when ``binary=True``, a parameter otherwise).
    scores : torch.nn.Parameter or None
        Trainable scores (``None`` for a dense layer with ``binary=False, p=0``).

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn import SparseBinaryLinear
    >>> layer = SparseBinaryLinear(8, 4, p=0.75, seed=0)
    >>> layer(torch.ones(2, 8)).shape
    torch.Size([2, 4])
    >>> int(layer.mask().sum())  # 32 weights, 24 pruned
    8
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        p: float = 0.5,
        binary: bool = True,
        bias: bool = False,
        seed: int = 0,
        stream: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.binary = bool(binary)
        self.seed = int(seed)
        self.stream = tuple(int(s) for s in stream)
        bound = 1.0 / math.sqrt(self.in_features)  # torch's nn.Linear default, as SBT ran it
        weight = stable_uniform((self.out_features, self.in_features), self.seed, self.stream + (0,), -bound, bound)
        if self.binary:
            self.register_buffer("weight", weight)
            self.register_buffer("weight_sign", weight.sign(), persistent=False)
            self.register_buffer("weight_abs", weight.abs(), persistent=False)
        else:
            self.weight = nn.Parameter(weight)
        if self.binary or p > 0:
            scores = stable_uniform((self.out_features, self.in_features), self.seed, self.stream + (1,), -bound, bound)
            self.scores = nn.Parameter(scores)
        else:
            self.register_parameter("scores", None)
        self.bias = nn.Parameter(torch.zeros(self.out_features)) if bias else None
        #: fixed 0/1 mask of an FP32 layer pruned by magnitude (the published, dense PALS); None: unused
        self.register_buffer("prune_mask", None)
        #: keep dL/dW_eff of the last backward in ``dense_grad`` (gradient regrowth needs it)
        self.track_dense_grad = False
        self.dense_grad: torch.Tensor | None = None
        self.keep_override: int | None = None
        self._p = 0.0
        self.p = p
        self._cache: tuple[tuple, torch.Tensor] | None = None
        #: weight computed for the current training forward by the network (see fused_biprop)
        self._fused: torch.Tensor | None = None

    # -- sparsity level ---------------------------------------------------------------------
    @property
    def p(self) -> float:
        """Prune rate of this layer; setting it invalidates the cached weight."""
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"prune rate p must be in [0, 1], got {value}")
        if value > 0 and self.scores is None:
            raise ValueError("a dense layer (binary=False, built with p=0) has no scores to prune with")
        self._p = value
        self._cache = None

    @property
    def n_keep(self) -> int:
        """Number of kept weights (``keep_override`` if a global top-k set it)."""
        if self.keep_override is not None:
            return self.keep_override
        if self.prune_mask is not None:
            return int(self.prune_mask.sum())
        return n_kept(self.weight.numel(), self._p)

    @property
    def is_dense(self) -> bool:
        """True for a plain FP32 layer (``binary=False`` and nothing pruned)."""
        return not self.binary and self.n_keep == self.weight.numel()

    # -- weights -----------------------------------------------------------------------------
    def _compute_weight(self) -> torch.Tensor:
        if self.binary:
            return biprop_weight(self.scores, self.weight, self.n_keep, self.weight_sign, self.weight_abs)
        if self.scores is None:
            w = self.weight if self.prune_mask is None else self.weight * self.prune_mask
            if self.track_dense_grad and w.requires_grad:
                w.register_hook(self._keep_dense_grad)
            return w
        return masked_weight(self.scores, self.weight, self.n_keep)

    def _keep_dense_grad(self, grad: torch.Tensor) -> None:
        self.dense_grad = grad.detach()

    def enable_prune_mask(self) -> None:
        """Start magnitude pruning of an FP32 layer (dense PALS): all weights active at first."""
        if self.binary or self.scores is not None:
            raise ValueError("a prune mask is for FP32 layers without scores (binary=False, p=0)")
        self.prune_mask = torch.ones_like(self.weight, dtype=torch.bool)
        self._cache = None

    def effective_weight(self) -> torch.Tensor:
        """The folded weight used by ``forward``: ``alpha * sign(W) * M`` (or ``W * M``)."""
        if self._fused is not None:
            return self._fused
        if self.training or torch.is_grad_enabled():
            self._cache = None
            return self._compute_weight()
        s = self.scores
        key = (
            self.n_keep,
            None if self.prune_mask is None else self.prune_mask._version,
            None if s is None else (s._version, s.data_ptr(), s.device),
            self.weight._version,
            self.weight.data_ptr(),
        )
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, self._compute_weight())
        return self._cache[1]

    def mask(self) -> torch.Tensor:
        """Boolean mask of the kept entries."""
        if self.scores is None:
            if self.prune_mask is not None:
                return self.prune_mask.clone()
            return torch.ones_like(self.weight, dtype=torch.bool)
        with torch.no_grad():
            return topk_mask(self.scores.abs(), self.n_keep).bool()

    def alpha(self) -> float:
        """Gain: mean ``|W|`` over the kept entries (1.0 for non-binary layers)."""
        if not self.binary:
            return 1.0
        with torch.no_grad():
            return float(self.weight.abs()[self.mask()].mean())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.linear(x, self.effective_weight(), self.bias)

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache = None
        super()._load_from_state_dict(*args, **kwargs)
        if self.binary:
            self.weight_sign, self.weight_abs = self.weight.sign(), self.weight.abs()

    def _apply(self, fn, *args, **kwargs):
        self._cache = None
        return super()._apply(fn, *args, **kwargs)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, p={self._p}, "
            f"binary={self.binary}, bias={self.bias is not None}"
        )
