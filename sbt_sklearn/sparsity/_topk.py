"""Top-k score masks and the Biprop straight-through estimator (pure torch functions).

Conventions: ``p`` is the prune rate (fraction of entries removed), ``k = 1 - p`` the keep
fraction. A layer with ``n`` entries keeps ``n - floor(p * n)`` of them, and always at least one.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import torch

__all__ = ["n_kept", "topk_mask", "biprop_weight", "biprop_weights", "masked_weight", "global_keep_counts"]


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


class _BipropWeights(torch.autograd.Function):
    """:class:`_BipropWeight` for many layers at once: one autograd node instead of one per layer.

    Layers with the same number of entries and keep count are processed as one stacked batch
    (one k-th value, comparison, count check and gain for the group); masks are the same as layer
    by layer, gains equal up to float rounding of the sum (the per-layer path uses a dot
    product). A group whose thresholds tie falls back to the exact per-layer top-k. The backward
    gives the score gradients ``g * W * sign(S)`` with one ``_foreach`` product per factor
    (multiplying by ``sign(S)``, which is -1, 0 or 1, is exact in any order). On small networks the
    per-layer Python, autograd and kernel-launch overhead is most of Biprop's cost.
    """

    @staticmethod
    def forward(ctx, n_keeps, *tensors):  # noqa: D102
        n = len(n_keeps)
        scores, weights, signs, abss = (tensors[i * n:(i + 1) * n] for i in range(4))
        groups: dict = {}
        for i, (s, k) in enumerate(zip(scores, n_keeps)):
            groups.setdefault((s.numel(), k, s.dtype), []).append(i)
        out = [None] * n
        for (numel, k, _), idx in groups.items():
            if len(idx) > 1 and k < numel:
                a = torch.stack([scores[i].detach().reshape(-1) for i in idx]).abs_()  # (G, numel)
                threshold = torch.kthvalue(a, numel - k, dim=1, keepdim=True).values
                keep = a > threshold
                if bool((keep.sum(dim=1) == k).all()):  # no ties at any threshold
                    mask = keep.to(a.dtype)
                    wa = torch.stack([abss[i].reshape(-1) for i in idx])
                    alpha = (wa * mask).sum(dim=1, keepdim=True).div_(k)
                    sign = torch.stack([signs[i].reshape(-1) for i in idx])
                    for i, w in zip(idx, mask.mul_(sign).mul_(alpha).unbind(0)):
                        out[i] = w.view_as(scores[i])
                    continue
            for i in idx:
                mask = topk_mask(scores[i].detach().abs(), k)
                alpha = torch.dot(abss[i].reshape(-1), mask.reshape(-1)).div_(k)
                out[i] = mask.mul_(signs[i]).mul_(alpha)
        ctx.n = n
        ctx.save_for_backward(*scores, *weights)
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads):  # noqa: D102
        saved = ctx.saved_tensors
        scores, weights = saved[:ctx.n], saved[ctx.n:]
        used = [i for i, g in enumerate(grads) if g is not None]
        prods = torch._foreach_mul([grads[i] for i in used], [weights[i] for i in used])
        prods = torch._foreach_mul(prods, [scores[i].sign() for i in used])
        out = [None] * ctx.n
        for i, g in zip(used, prods):
            out[i] = g
        return (None, *out, *([None] * (3 * ctx.n)))


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


def biprop_weights(scores, weights, n_keeps, weight_signs, weight_abss) -> tuple:
    """:func:`biprop_weight` of many layers in one autograd node.

    Same masks and score gradients as layer by layer; gains equal up to the rounding of a sum.

    Parameters
    ----------
    scores, weights, weight_signs, weight_abss : sequence of torch.Tensor
        Per layer: trainable scores, frozen weights, ``sign(W)`` and ``|W|``.
    n_keeps : sequence of int
        Per layer: number of entries kept.

    Returns
    -------
    tuple of torch.Tensor
        Per layer: ``alpha * sign(W) * M``.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.sparsity import biprop_weight, biprop_weights
    >>> w = [torch.tensor([[0.5, -1.0], [2.0, -0.1]]), torch.tensor([[0.3, 0.2, -0.4]])]
    >>> s = [torch.tensor([[0.3, -0.9], [0.1, 0.8]]), torch.tensor([[0.1, -0.5, 0.2]])]
    >>> fused = biprop_weights(s, w, [2, 1], [t.sign() for t in w], [t.abs() for t in w])
    >>> all(torch.allclose(f, biprop_weight(si, wi, k)) for f, si, wi, k in zip(fused, s, w, [2, 1]))
    True
    """
    return _BipropWeights.apply(tuple(int(k) for k in n_keeps), *scores, *weights, *weight_signs, *weight_abss)


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
