"""Torch core of sbt_sklearn: sparse-binary layers, SBT attention, encoder and task networks.

Imports torch (and numpy) only: no scikit-learn, skorch or sktime.
"""

from ._attention import ATTENTION_MODES, SparseMultiheadAttention
from ._biprop import SparseBinaryLinear
from ._encoder import PositionalEncoding, SBTEncoder, SBTEncoderLayer, sparse_layers
from ._masks import qkv_activation_masks, step_t_mask
from ._networks import SBTClassificationNet, SBTLastStepNet, patch_tokens
from ._norm import NORMS, MaskedBatchNorm
from ._rng import stable_uniform

__all__ = [
    "ATTENTION_MODES",
    "NORMS",
    "MaskedBatchNorm",
    "PositionalEncoding",
    "SBTClassificationNet",
    "SBTEncoder",
    "SBTEncoderLayer",
    "SBTLastStepNet",
    "SparseBinaryLinear",
    "SparseMultiheadAttention",
    "patch_tokens",
    "qkv_activation_masks",
    "sparse_layers",
    "stable_uniform",
    "step_t_mask",
]
