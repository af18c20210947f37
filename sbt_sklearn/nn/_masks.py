"""Pure builders for attention masks (no module state)."""

from __future__ import annotations

import torch

from ._rng import stable_keys

__all__ = ["step_t_mask", "qkv_activation_masks"]


def step_t_mask(length: int, device=None, n_queries: int = 1) -> torch.Tensor:
    """Boolean step-T attention mask of shape (length, length); True means "may attend".

    Rows ``0 .. length-2`` (past steps) attend only to themselves; the last row (step t)
    attends to every past step but not to itself (Gorbett et al., 2023, Sec. 4.2). With
    ``n_queries=H`` the last ``H`` rows are queries (the steps a multi-horizon forecaster
    predicts): each attends to every past row, but not to itself or to another query.

    Examples
    --------
    >>> from sbt_sklearn.nn import step_t_mask
    >>> step_t_mask(3).int()
    tensor([[1, 0, 0],
            [0, 1, 0],
            [1, 1, 0]], dtype=torch.int32)
    >>> step_t_mask(4, n_queries=2).int()
    tensor([[1, 0, 0, 0],
            [0, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0]], dtype=torch.int32)
    """
    allowed = torch.eye(length, dtype=torch.bool, device=device)
    q = min(int(n_queries), length)
    if q > 0:
        allowed[length - q:, :] = False
        allowed[length - q:, : length - q] = True  # a query never sees itself (with no past it sees nothing: output 0)
    return allowed


def qkv_activation_masks(length: int, head_dim: int, keep: float, seed: int, stream=()) -> torch.Tensor:
    """Fixed random activation masks for Q, K and V, shared by all heads.

    Returns a boolean tensor of shape (3, length, head_dim). Every row keeps exactly
    ``max(1, round(keep * head_dim))`` entries, so any window length has the same exact rate, and
    the rows are drawn in order from a version-stable stream: the masks for a longer window
    extend those of a shorter one.
    """
    n_keep = max(1, int(round(keep * head_dim)))
    # one stream per projection, consumed row by row: a longer mask extends a shorter one
    keys = torch.stack([stable_keys((length, head_dim), seed, tuple(stream) + (j,)) for j in range(3)])
    order = keys.argsort(dim=-1)
    mask = torch.zeros(3, length, head_dim, dtype=torch.bool)
    mask.scatter_(-1, order[..., :n_keep], True)
    return mask
