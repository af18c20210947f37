"""Sparsity algorithms (torch only): Biprop top-k masks and straight-through estimator, PALS."""

from ._pals import PALSController, PALSDecision, dense_pals_update_, pals_zeta
from ._topk import biprop_weight, biprop_weights, global_keep_counts, masked_weight, n_kept, topk_mask

__all__ = [
    "PALSController",
    "PALSDecision",
    "biprop_weight",
    "biprop_weights",
    "dense_pals_update_",
    "global_keep_counts",
    "masked_weight",
    "n_kept",
    "pals_zeta",
    "topk_mask",
]
