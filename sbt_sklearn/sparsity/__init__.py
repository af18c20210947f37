"""Sparsity algorithms (torch only): Biprop top-k masks and straight-through estimator."""

from ._topk import biprop_weight, global_keep_counts, masked_weight, n_kept, topk_mask

__all__ = ["biprop_weight", "global_keep_counts", "masked_weight", "n_kept", "topk_mask"]
