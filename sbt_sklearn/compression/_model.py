"""Deprecated size accounting of a built SBT network (``sbt_sklearn.compression.size_summary``).

Its ``bits_paper`` charges 32 bits per gain and bias, which is neither the SBT paper's convention
nor the honest one of :func:`~sbt_sklearn.compression.network_report`; use an estimator's
``compression_report()`` or :func:`~sbt_sklearn.compression.honest_counts` instead.
"""

from __future__ import annotations

from torch import nn

from ..nn import SparseBinaryLinear

__all__ = ["size_summary"]


def size_summary(module: nn.Module) -> dict:
    """Count binary weights, kept weights and float values of an SBT network (deprecated).

    .. deprecated:: 0.1.0.dev0
       Use an estimator's ``compression_report()`` or
       :func:`~sbt_sklearn.compression.honest_counts`.

    Parameters
    ----------
    module : torch.nn.Module
        A network built from :class:`~sbt_sklearn.nn.SparseBinaryLinear` layers.

    Returns
    -------
    dict
        ``binary_weights`` (weights of sign-binary layers), ``kept_weights``, ``kept_fraction``,
        ``float_values`` (every other value inference needs: gains, biases, norm parameters and
        statistics, learnable positional tables), ``bits_paper`` (the SBT paper's convention: one
        bit per binary weight plus 32 bits per float value), ``bits_dense`` (32 bits per value of
        the dense FP32 twin of the same shape: full weights, biases, norms) and ``size_ratio``.

    Examples
    --------
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> from sbt_sklearn.compression._model import size_summary
    >>> s = size_summary(SBTLastStepNet(7, 7, d=64, p=0.5))
    >>> s["binary_weights"], s["kept_fraction"]
    (99200, 0.5)
    """
    binary = kept = floats = dense = 0
    layers = [m for m in module.modules() if isinstance(m, SparseBinaryLinear)]
    layer_params = set()
    for layer in layers:
        n = layer.weight.numel()
        layer_params.update(id(t) for t in (layer.weight, layer.scores, layer.bias) if t is not None)
        bias = layer.bias.numel() if layer.bias is not None else 0
        dense += n + (bias or layer.out_features)  # the FP32 twin carries a bias per output
        if layer.binary:
            binary += n
            kept += layer.n_keep
            floats += 1 + bias  # the gain alpha (+ bias if any)
        else:
            kept += layer.n_keep
            floats += n + bias
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if id(t) in layer_params or name.endswith(("weight_sign", "weight_abs", "qkv_mask", "num_batches_tracked")):
            continue
        floats += t.numel()
        dense += t.numel()
    total = sum(m.weight.numel() for m in layers)
    bits_paper = binary + 32 * floats
    return {
        "binary_weights": binary,
        "kept_weights": kept,
        "kept_fraction": kept / total if total else 1.0,
        "float_values": floats,
        "bits_paper": bits_paper,
        "bits_dense": 32 * dense,
        "size_ratio": 32 * dense / bits_paper if bits_paper else float("nan"),
    }
