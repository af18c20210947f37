"""Model files: what of a network to store, and how to rebuild it from the file.

Part of the model-file format described in :mod:`sbt_sklearn.compression._format`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..nn import SparseBinaryLinear
from ._limits import SBTFileError, _bad
from ._mask_coding import decode_mask, encode_mask
from ._network_plan import _layer_table, _mask_blob_sizes, _masks_tensor

__all__ = ["pack_module", "unpack_module"]


# --------------------------------------------------------------------------------------------
# Networks: what to store, how to rebuild
# --------------------------------------------------------------------------------------------
def _sparse_layers(module: torch.nn.Module) -> list[tuple[str, SparseBinaryLinear]]:
    return [(n, m) for n, m in module.named_modules() if isinstance(m, SparseBinaryLinear) and m.scores is not None]


def _regen_digest(state: dict, keys: list[str]) -> str:
    h = hashlib.sha256()
    for key in sorted(keys):
        t = state[key].detach().cpu().contiguous()
        h.update(key.encode() + b"\0" + str(t.dtype).encode() + repr(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def _squeeze(column: list):
    """A column as one value when all its entries are equal (and it is not empty)."""
    return column[0] if column and all(v == column[0] and type(v) is type(column[0]) for v in column) else column


def pack_module(module: torch.nn.Module, fresh: torch.nn.Module, *, include_scores: bool = False):
    """Split a trained SBT network into metadata and the few tensors a file must hold.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network (any device).
    fresh : torch.nn.Module
        The same network class built again with the same keyword arguments (on the CPU): every
        tensor equal to its freshly built value is regenerated at load time instead of stored.
    include_scores : bool, default=False
        Also store the float32 scores of every sparse-binary layer (needed only to continue
        training; inference needs the masks).

    Returns
    -------
    meta : dict
        The network part of the metadata: the sparse-layer table (number of layers; prune rate,
        keep-count override and mask code per layer, one value when all layers agree; Rice
        parameters and byte counts of the Rice-coded masks only), the digest of the regenerated
        tensors and the network's prune rate.
    tensors : dict of str to ndarray
        ``sbt.masks`` (coded masks of all sparse layers, concatenated), ``state.<key>`` for
        stored state tensors and, optionally, ``scores.<layer>``.

    Raises
    ------
    ValueError
        If the frozen weights of a sign-binary layer differ from their seed-regenerated values.
    """
    if hasattr(module, "_before_forward"):  # global top-k: the keep counts an eval forward would use
        was_training = module.training
        module.eval()
        with torch.no_grad():
            module._before_forward()
        module.train(was_training)
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    fresh_state = fresh.state_dict()
    layers = _sparse_layers(module)
    skip, regen, tensors = set(), [], {}
    codes, ps, overrides, rice_k, rice_nbytes, blobs = [], [], [], [], [], []
    for name, layer in layers:
        prefix = f"{name}." if name else ""
        skip.add(prefix + "scores")
        with torch.no_grad():
            mask = layer.mask().cpu().numpy().reshape(-1)
        payload, coding, k = encode_mask(mask)
        blobs.append(payload)
        codes.append(coding[0])
        if coding == "rice":
            rice_k.append(k)
            rice_nbytes.append(len(payload))
        ps.append(float(layer.p))
        overrides.append(layer.keep_override)
        if layer.binary:
            wkey = prefix + "weight"
            if not torch.equal(state[wkey].float(), fresh_state[wkey]):
                raise ValueError(
                    f"the frozen weights of layer {name!r} differ from the values regenerated from its seed; "
                    "the model cannot be stored compactly (were its weights modified?)"
                )
        if include_scores:
            tensors[f"scores.{name}"] = state[prefix + "scores"].float().numpy()
    for key, value in state.items():
        if key in skip:
            continue
        ref = fresh_state.get(key)
        if ref is not None and key.endswith("qkv_mask") and value.dim() == 3 and ref.dim() == 3 \
                and value.shape[1] > ref.shape[1] and value.shape[0::2] == ref.shape[0::2]:
            value = value[:, : ref.shape[1]]  # a buffer extended for longer windows: its prefix regenerates
        if ref is not None and ref.dtype == value.dtype and ref.shape == value.shape and torch.equal(ref, value):
            regen.append(key)
        else:
            tensors[f"state.{key}"] = value.contiguous().numpy()
    tensors["sbt.masks"] = np.frombuffer(b"".join(blobs), dtype=np.uint8).copy()
    table = {"n": len(layers), "p": _squeeze(ps), "keep_override": _squeeze(overrides), "coding": "".join(codes),
             "rice_k": rice_k, "rice_nbytes": rice_nbytes}
    meta = {
        "sparse_layers": table,
        "regenerated_sha256": _regen_digest(fresh_state, regen),
        "network_p": getattr(module, "p", None) if isinstance(getattr(module, "p", None), float) else None,
        "scores": bool(include_scores),
    }
    return meta, tensors


def _enable_prune_masks(module: torch.nn.Module, tensors: dict) -> bool:
    """Give every FP32 layer whose magnitude-pruning mask the file stores (dense PALS) its buffer."""
    enabled = False
    for key in tensors:
        if key.startswith("state.") and key.endswith(".prune_mask"):
            layer = module.get_submodule(key[len("state."):-len(".prune_mask")])
            if getattr(layer, "binary", True) or not hasattr(layer, "enable_prune_mask"):
                raise SBTFileError(f"invalid model file: tensor {key[:60]!r} does not belong to the network")
            if layer.prune_mask is None:
                layer.enable_prune_mask()
                enabled = True
    return enabled


def unpack_module(module: torch.nn.Module, meta: dict, tensors: dict) -> None:
    """Restore a freshly built network in place from :func:`pack_module`'s output.

    The frozen weights and other regenerated tensors are checked against the stored digest,
    and every mask is decoded and set (scores become the 0/1 mask, or the stored scores); the
    gains follow from the regenerated weights and the masks.

    Parameters
    ----------
    module : torch.nn.Module
        A network built with the stored class and keyword arguments.
    meta : dict
        The network metadata written by :func:`pack_module`.
    tensors : dict of str to ndarray
        The file's tensors.

    Raises
    ------
    SBTFileError
        If the file does not match the network or any check fails.
    """
    if not isinstance(meta, dict):
        raise _bad("bad network metadata")
    state = module.state_dict()
    layers = _sparse_layers(module)
    codes, ps, overrides, ks, rice_nbytes = _layer_table(meta.get("sparse_layers"), len(layers))
    include_scores = meta.get("scores")
    if not isinstance(include_scores, bool):
        raise _bad("bad 'scores' flag")
    masks_blob = _masks_tensor(tensors)
    nbytes = _mask_blob_sizes(masks_blob, codes, rice_nbytes, overrides, [layer.weight.numel() for _, layer in layers])

    if _enable_prune_masks(module, tensors):  # dense PALS: the buffers exist once enabled
        state = module.state_dict()
    stored = {}
    expected = {"sbt.masks"}
    for key, value in tensors.items():
        if key.startswith("state."):
            skey = key[len("state."):]
            ref = state.get(skey)
            if ref is None:
                raise SBTFileError(f"invalid model file: tensor {skey!r} does not belong to the network")
            if tuple(value.shape) != tuple(ref.shape) or value.dtype != ref.cpu().numpy().dtype:
                raise SBTFileError(
                    f"invalid model file: shape/dtype mismatch for {skey!r}: file {value.dtype}{list(value.shape)}, "
                    f"network {ref.dtype}{list(ref.shape)}"
                )
            stored[skey] = value
            expected.add(key)
        elif key.startswith("scores.") and include_scores:
            expected.add(key)
    extra = set(tensors) - expected
    if extra:
        raise SBTFileError(f"invalid model file: unexpected tensors {sorted(extra)[:3]}")

    score_keys = {(f"{name}." if name else "") + "scores" for name, _ in layers}
    regen = [k for k in state if k not in stored and k not in score_keys]
    if _regen_digest(state, regen) != meta.get("regenerated_sha256"):
        raise SBTFileError(
            "the frozen weights regenerated from the seed differ from those the model was trained with "
            "(the file is corrupted, or this numpy / sbt_sklearn generates a different random stream)"
        )

    with torch.no_grad():
        for key, value in stored.items():
            state[key].copy_(torch.from_numpy(np.array(value)))
        network_p = meta.get("network_p")
        if isinstance(network_p, (int, float)) and not isinstance(network_p, bool) and hasattr(module, "_p"):
            if not 0.0 <= network_p <= 1.0:
                raise _bad("network prune rate out of range")
            module._p = float(network_p)
        offset, rice_ks = 0, iter(ks)
        for i, (name, layer) in enumerate(layers):
            payload = masks_blob[offset : offset + nbytes[i]].tobytes()
            offset += nbytes[i]
            layer.p = ps[i]
            layer.keep_override = overrides[i]
            coding, k = ("rice", next(rice_ks)) if codes[i] == "r" else ("bits", 0)
            mask = decode_mask(payload, coding, k, layer.weight.numel(), layer.n_keep)
            mask_t = torch.from_numpy(mask.reshape(tuple(layer.weight.shape)))
            if include_scores:
                scores = tensors.get(f"scores.{name}")
                if scores is None or scores.dtype != np.float32 or tuple(scores.shape) != tuple(layer.scores.shape):
                    raise _bad(f"missing or malformed scores of layer {name!r}")
                layer.scores.copy_(torch.from_numpy(np.array(scores)))
            else:
                layer.scores.copy_(mask_t.to(layer.scores.dtype))
            layer._cache = None
            if not torch.equal(layer.mask().cpu(), mask_t):
                raise SBTFileError(f"invalid model file: the scores of layer {name!r} do not select its stored mask")
    module.eval()
