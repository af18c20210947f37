"""Top-k score masks and the Biprop straight-through estimator (pure torch functions).

Conventions: ``p`` is the prune rate (fraction of entries removed), ``k = 1 - p`` the keep
fraction. A layer with ``n`` entries keeps ``n - floor(p * n)`` of them, and always at least one.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import torch

__all__ = ["n_kept", "topk_mask", "biprop_weight", "masked_weight", "global_keep_counts"]


@lru_cache(maxsize=4096)
def n_kept(numel: int, p: float) -> int:
    """Number of entries kept when pruning a fraction ``p`` of ``numel`` entries.

    ``floor(p * numel)`` entries are pruned, computed exactly on the decimal value of ``p``
    (so ``p=0.29`` of 100 prunes 29, not 28 through float rounding). At least one entry is kept.

    Examples
    --------
    >>> from sbt_sklearn.sparsity import n_kept
    >>> n_kept(100, 0.29), n_kept(10, 0.75), n_kept(3, 1.0)
    (71, 3, 1)
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"prune rate p must be in [0, 1], got {p}")
    pruned = int(Fraction(repr(float(p))) * numel)  # int() floors a non-negative Fraction
    return max(1, numel - pruned)


def topk_mask(scores_abs: torch.Tensor, n_keep: int) -> torch.Tensor:
    """0/1 mask (same dtype and shape as ``scores_abs``) keeping its ``n_keep`` largest entries.

    A k-th value threshold is used when it selects exactly ``n_keep`` entries (no ties at the
    threshold); otherwise ties are broken by :func:`torch.topk` so the count is always exact.
    """
    flat = scores_abs.reshape(-1)
    n = flat.numel()
    if n_keep >= n:
        return torch.ones_like(scores_abs)
    threshold = torch.kthvalue(flat, n - n_keep).values
    mask = flat > threshold
    if int(mask.sum()) != n_keep:  # ties at the threshold (rare with float scores)
        mask = torch.zeros(n, dtype=torch.bool, device=flat.device)
        mask[torch.topk(flat, n_keep, sorted=False).indices] = True
    return mask.view_as(scores_abs).to(scores_abs.dtype)


class _BipropWeight(torch.autograd.Function):
    """W_eff = alpha * sign(W) * M with M = top-k(|S|) and alpha = mean |W| over kept entries.

    Backward (edge-popup / Biprop straight-through): dL/dS = g * W * sign(S) for every entry,
    pruned or kept, so pruned entries keep receiving evidence and can re-enter the mask.
    alpha is treated as a constant and the frozen weight receives no gradient.
    """

    @staticmethod
    def forward(ctx, scores, weight, weight_sign, n_keep, weight_abs):  # noqa: D102
        mask = topk_mask(scores.detach().abs(), n_keep)  # exactly n_keep ones
        alpha = torch.dot(weight_abs.reshape(-1), mask.reshape(-1)).div_(n_keep)
        ctx.save_for_backward(scores, weight)
        return mask.mul_(weight_sign).mul_(alpha)  # mask is a fresh tensor: reuse it

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        scores, weight = ctx.saved_tensors
        return grad_out * weight * scores.sign(), None, None, None, None


class _MaskedWeight(torch.autograd.Function):
    """W_eff = W * M with trainable W; scores get the same straight-through gradient g * W * sign(S)."""

    @staticmethod
    def forward(ctx, scores, weight, n_keep):  # noqa: D102
        mask = topk_mask(scores.detach().abs(), n_keep)
        ctx.save_for_backward(scores, weight, mask)
        return weight * mask

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        scores, weight, mask = ctx.saved_tensors
        grad_scores = grad_out * weight * scores.sign() if ctx.needs_input_grad[0] else None
        grad_weight = grad_out * mask if ctx.needs_input_grad[1] else None
        return grad_scores, grad_weight, None


def biprop_weight(
    scores: torch.Tensor, weight: torch.Tensor, n_keep: int, weight_sign=None, weight_abs=None
) -> torch.Tensor:
    """Sparse sign-binary effective weight of Biprop with the straight-through score gradient.

    Parameters
    ----------
    scores : torch.Tensor
        Trainable scores S.
    weight : torch.Tensor
        Frozen random weights W (same shape).
    n_keep : int
        Number of entries kept (see :func:`n_kept`).
    weight_sign, weight_abs : torch.Tensor, optional
        Pre-computed ``sign(W)`` and ``|W|``.

    Returns
    -------
    torch.Tensor
        ``alpha * sign(W) * M``.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.sparsity import biprop_weight
    >>> w = torch.tensor([[0.5, -1.0], [2.0, -0.1]])
    >>> s = torch.tensor([[0.3, -0.9], [0.1, 0.8]], requires_grad=True)
    >>> biprop_weight(s, w, n_keep=2)
    tensor([[ 0.0000, -0.5500],
            [ 0.0000, -0.5500]], grad_fn=<_BipropWeightBackward>)
    """
    if weight_sign is None:
        weight_sign = weight.sign()
    if weight_abs is None:
        weight_abs = weight.abs()
    return _BipropWeight.apply(scores, weight, weight_sign, n_keep, weight_abs)


def masked_weight(scores: torch.Tensor, weight: torch.Tensor, n_keep: int) -> torch.Tensor:
    """``W * top-k(|S|)`` for trainable FP32 weights (the non-binary variant)."""
    return _MaskedWeight.apply(scores, weight, n_keep)


def global_keep_counts(scores: list[torch.Tensor], p: float) -> list[int]:
    """Per-tensor keep counts for one global top-k over the union of all ``|scores|``.

    The threshold is the value of the ``n_kept(total, p)``-th largest ``|S|`` across every
    tensor; each tensor keeps its entries at or above it (ties can keep a few more), and at
    least one.
    """
    with torch.no_grad():
        flat = torch.cat([s.detach().abs().reshape(-1) for s in scores])
        keep = n_kept(flat.numel(), p)
        if keep >= flat.numel():
            return [s.numel() for s in scores]
        threshold = torch.topk(flat, keep, sorted=True).values[-1]
        return [max(1, int((s.detach().abs() >= threshold).sum())) for s in scores]
