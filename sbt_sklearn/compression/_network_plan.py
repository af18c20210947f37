"""Model files: a file's network checked and sized from its arguments, before it is built.

Part of the model-file format described in :mod:`sbt_sklearn.compression._format`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..nn import SBTClassificationNet, SBTLastStepNet
from ..nn._attention import ATTENTION_MODES
from ..nn._norm import NORMS
from ._limits import _MAX_DIM, MAX_LAYERS, SBTFileError, _bad

__all__ = ["NetworkPlan", "check_network_tensors", "plan_network"]


# --------------------------------------------------------------------------------------------
# Network plans: a file's network checked and sized from its arguments, before it is built
# --------------------------------------------------------------------------------------------
#: the networks a model file may describe, and the name of each one's output-size argument
_NETWORKS = {"SBTClassificationNet": (SBTClassificationNet, "n_classes"),
             "SBTLastStepNet": (SBTLastStepNet, "n_outputs")}
#: Python objects of a built network besides its tensors: a fixed part, and per encoder layer
#: (measured: about 30 KB per layer, whatever its width)
_NET_BASE_BYTES, _NET_LAYER_BYTES = 1 << 20, 64 << 10
#: temporaries while a network is built and restored, per element: of the largest sparse-binary
#: layer (random weights drawn through float64: 24 bytes per weight; mask decoding and top-k need
#: less), of a learnable positional table (8 bytes per entry measured), and of the Q/K/V
#: activation masks of *every* attention layer (sorted through int64 keys: 72 bytes per mask entry
#: of one projection measured). The last are counted for every layer because the heap does not
#: reuse them: building 16 layers of 20,000-step masks peaked at 130 MiB with glibc's default
#: allocator, 19 MiB with a fixed mmap threshold.
_BUILD_PER_WEIGHT, _BUILD_PER_QKV, _BUILD_PER_POS = 32, 72, 12
#: the allocator's share on top of the tensors: the peak resident memory of building networks of
#: 10-360 MB measured up to 1.19 times their tensors and temporaries (freed float64 temporaries
#: fragment the heap between the layers' tensors)
_ALLOCATOR_SLACK = 1.25
#: choices of the string arguments
_CHOICES = {"attention": ATTENTION_MODES, "norm": NORMS, "pos_encoding": ("fixed", "learnable"),
            "topk_scope": ("layer", "global")}


@dataclass(frozen=True)
class NetworkPlan:
    """A network that a model file describes, checked and sized before it is built.

    Attributes
    ----------
    kwargs : dict
        Every keyword argument of the network: the file's, and the defaults of those it omits.
    n_inputs : int
        Input channels.
    n_outputs : int
        Output size (classes, or outputs of the last step).
    sparse_numels : tuple of int
        Weights of each sparse-binary layer that has scores, in the order of the file's
        sparse-layer table.
    persistent_bytes : int
        Bytes of the built network's parameters and buffers.
    peak_bytes : int
        Upper bound of the memory that building and restoring the network takes: its tensors,
        the largest temporaries and its Python objects.
    state_shapes : dict of str to (tuple, str)
        Shape and numpy dtype of every entry of the built network's ``state_dict``.
    """

    kwargs: dict
    n_inputs: int
    n_outputs: int
    sparse_numels: tuple
    persistent_bytes: int
    peak_bytes: int
    state_shapes: dict


def _network_args(module_name, kwargs) -> dict:
    """The file's network arguments completed with the network's defaults; unknown or missing ones refused."""
    if module_name not in _NETWORKS:
        raise SBTFileError(f"invalid model file: unknown network class {str(module_name)[:60]!r}")
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise _bad("bad network arguments")
    params = list(inspect.signature(_NETWORKS[module_name][0].__init__).parameters.values())[1:]
    unknown = sorted(set(kwargs) - {q.name for q in params})
    if unknown:
        raise _bad(f"unknown network arguments {[u[:40] for u in unknown[:5]]} for {module_name}")
    args = {}
    for q in params:
        if q.name in kwargs:
            args[q.name] = kwargs[q.name]
        elif q.default is inspect.Parameter.empty:
            raise _bad(f"the network argument {q.name!r} is missing")
        else:
            args[q.name] = q.default
    return args


def _count_arg(args: dict, name: str, low: int = 1, high: int = _MAX_DIM) -> int:
    value = args[name]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or not low <= value <= high:
        raise _bad(f"network argument {name}={str(value)[:40]} is not an integer in [{low}, {high}]")
    return int(value)


def _check_network_args(args: dict) -> None:
    """Types and ranges of every argument (the sizes are checked by :func:`_count_arg` when read)."""
    p = args["p"]
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, Real) or not 0.0 <= float(p) <= 1.0:
        raise _bad(f"network argument p={str(p)[:40]} is not a prune rate in [0, 1]")
    for name in ("binary", "output_gate"):
        if name in args and not isinstance(args[name], (bool, np.bool_)):
            raise _bad(f"network argument {name}={str(args[name])[:40]} is not a boolean")
    for name, choices in _CHOICES.items():
        if not isinstance(args[name], str) or args[name] not in choices:
            raise _bad(f"network argument {name}={str(args[name])[:40]!r} is not one of {list(choices)}")
    _count_arg(args, "seed", 0, (1 << 64) - 1)


def _linear_bytes(out_features: int, in_features: int, binary: bool, dense: bool) -> int:
    """Parameters and buffers of one SparseBinaryLinear."""
    n = out_features * in_features
    if binary:  # frozen weight, its sign and magnitude, scores; no bias
        return 16 * n
    return (4 if dense else 8) * n + 4 * out_features  # weight (and scores), bias


def plan_network(module_name, kwargs) -> NetworkPlan:
    """Check the network a model file describes and compute its memory, without building it.

    Every argument of :class:`~sbt_sklearn.nn.SBTClassificationNet` or
    :class:`~sbt_sklearn.nn.SBTLastStepNet` is checked (type, range, known name), at most
    :data:`MAX_LAYERS` encoder layers are accepted, and the bytes of every parameter and buffer
    are counted from the layer shapes, with the temporaries building takes: nothing is
    allocated and no random number is drawn.

    Parameters
    ----------
    module_name : str
        ``"SBTClassificationNet"`` or ``"SBTLastStepNet"``.
    kwargs : dict
        The network's keyword arguments, as stored in the file.

    Returns
    -------
    NetworkPlan
        The completed arguments, the sparse-binary layers' sizes and the memory.

    Raises
    ------
    SBTFileError
        For an unknown network or argument, a missing one, or one of the wrong type or range.

    Examples
    --------
    >>> from sbt_sklearn.compression._format import plan_network
    >>> plan = plan_network("SBTClassificationNet", {"n_channels": 3, "n_classes": 4, "d": 16, "d_ff": 32,
    ...                                              "n_layers": 1, "max_len": 20})
    >>> plan.sparse_numels, plan.persistent_bytes
    ((48, 256, 256, 256, 256, 512, 512, 64), 35568)
    """
    args = _network_args(module_name, kwargs)
    _check_network_args(args)
    c = _count_arg(args, "n_channels")
    # the classifier's embedding takes patch_len rows of channels per token
    c_in = c * _count_arg(args, "patch_len") if "patch_len" in args else c
    if c_in > _MAX_DIM:
        raise _bad(f"network arguments n_channels={c} and patch_len={args['patch_len']} make an embedding of "
                   f"{c_in} inputs, more than {_MAX_DIM}")
    o = _count_arg(args, _NETWORKS[module_name][1])
    d, h, f = _count_arg(args, "d"), _count_arg(args, "n_heads"), _count_arg(args, "d_ff")
    n_layers, max_len = _count_arg(args, "n_layers", 1, MAX_LAYERS), _count_arg(args, "max_len")
    if "n_queries" in args:  # a multi-horizon forecaster's query rows are part of its max_len
        _count_arg(args, "n_queries", 1, max_len)
    if d % h:
        raise _bad(f"network argument d={d} is not divisible by n_heads={h}")
    binary, p = bool(args["binary"]), float(args["p"])
    dense = not binary and p == 0.0
    shapes = [(d, c_in)] + n_layers * [(d, d), (d, d), (d, d), (d, d), (f, d), (d, f)] + [(o, d)]
    persistent = sum(_linear_bytes(out, inp, binary, dense) for out, inp in shapes)
    norm_bytes = {"batch": 16 * d + 8, "layer": 8 * d}.get(args["norm"], 0)
    qkv = 3 * max_len * (d // h) if args["attention"] == "qkv_mask" else 0  # a bool mask per attention layer
    table = max_len * d if args["pos_encoding"] == "learnable" else 0
    persistent += n_layers * (2 * norm_bytes + qkv) + 4 * table + (4 * o if args.get("output_gate") else 0)
    transient = max(_BUILD_PER_WEIGHT * max(out * inp for out, inp in shapes), _BUILD_PER_POS * table) \
        + n_layers * _BUILD_PER_QKV * qkv // 3
    peak = math.ceil(_ALLOCATOR_SLACK * (persistent + transient)) + _NET_BASE_BYTES + _NET_LAYER_BYTES * n_layers
    numels = tuple(out * inp for out, inp in shapes) if not dense else ()
    return NetworkPlan(args, c, o, numels, persistent, peak, _state_shapes(args, c, o, shapes))


def _state_shapes(args: dict, c: int, o: int, shapes: list) -> dict:
    """``state_dict`` entry -> (shape, dtype) of the network ``args`` describes (linear ``shapes`` in order)."""
    d, n_layers, max_len = int(args["d"]), int(args["n_layers"]), int(args["max_len"])
    binary, p = bool(args["binary"]), float(args["p"])
    names = ["encoder.embed"] + [f"encoder.layers.{i}.{part}" for i in range(n_layers)
                                 for part in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "lin1",
                                              "lin2")] + ["decoder"]
    out = {}
    for name, shape in zip(names, shapes):
        out[f"{name}.weight"] = (shape, "float32")
        if binary or p > 0:
            out[f"{name}.scores"] = (shape, "float32")
        if not binary:
            out[f"{name}.bias"] = ((shape[0],), "float32")
    if args["pos_encoding"] == "learnable":
        out["encoder.pos.table"] = ((max_len, d), "float32")
    norm_entries = {"batch": ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"),
                    "layer": ("weight", "bias")}.get(args["norm"], ())
    for i in range(n_layers):
        if args["attention"] == "qkv_mask":
            out[f"encoder.layers.{i}.attn.qkv_mask"] = ((3, max_len, d // int(args["n_heads"])), "bool")
        for norm in ("norm1", "norm2"):
            for entry in norm_entries:
                out[f"encoder.layers.{i}.{norm}.{entry}"] = ((), "int64") if entry == "num_batches_tracked" \
                    else ((d,), "float32")
    if args.get("output_gate"):
        out["output_gate"] = ((o,), "float32")
    return out


def check_network_tensors(plan: NetworkPlan, meta, tensors: dict) -> None:
    """Check, before building the network, that the file's layer table and tensors fit ``plan``.

    The table must list exactly the network's sparse-binary layers, each Rice-coded mask must
    be shorter than the layer's packed bits would be (the writer keeps the shorter code) and
    every keep count at most the layer's size, and the masks must add up to the mask tensor.
    Every stored state tensor (``state.<key>``) must be an entry of the network's ``state_dict``
    with its shape and dtype, and stored scores (``scores.<layer>``) those of a sparse layer.

    Parameters
    ----------
    plan : NetworkPlan
        The network, from :func:`plan_network`.
    meta : dict
        The network metadata written by :func:`pack_module`.
    tensors : dict of str to ndarray
        The file's tensors.

    Raises
    ------
    SBTFileError
        If they do not fit.
    """
    if not isinstance(meta, dict):
        raise _bad("bad network metadata")
    codes, _, overrides, _, rice_nbytes = _layer_table(meta.get("sparse_layers"), len(plan.sparse_numels))
    _mask_blob_sizes(_masks_tensor(tensors), codes, rice_nbytes, overrides, plan.sparse_numels)
    for key, value in tensors.items():
        if key == "sbt.masks":
            continue
        kind, _, name = key.partition(".")
        entry = plan.state_shapes.get(name if kind == "state" else f"{name}.scores" if kind == "scores" else "")
        if entry is None and kind == "state" and name.endswith(".prune_mask") and not plan.kwargs["binary"]:
            # dense PALS prunes an FP32 layer's weights through a boolean buffer the built network lacks
            weight = plan.state_shapes.get(name[: -len(".prune_mask")] + ".weight")
            entry = None if weight is None else (weight[0], "bool")
        if entry is None:
            raise SBTFileError(f"invalid model file: tensor {key[:60]!r} does not belong to the network")
        if tuple(value.shape) != entry[0] or value.dtype != np.dtype(entry[1]):
            raise SBTFileError(f"invalid model file: shape/dtype mismatch for {key[:60]!r}: file "
                               f"{value.dtype}{list(value.shape)}, network {entry[1]}{list(entry[0])}")


def _masks_tensor(tensors: dict) -> np.ndarray:
    masks = tensors.get("sbt.masks")
    if masks is None or masks.dtype != np.uint8 or masks.ndim != 1:
        raise _bad("missing or malformed mask tensor")
    return masks


def _mask_blob_sizes(masks: np.ndarray, codes: str, rice_nbytes: list, overrides: list, numels) -> list[int]:
    """Bytes of each layer's coded mask in ``masks``, checked against the layers' sizes."""
    rice_sizes, sizes = iter(rice_nbytes), []
    for code, override, numel in zip(codes, overrides, numels):
        packed = (numel + 7) // 8
        size = next(rice_sizes) if code == "r" else packed
        if size > packed:
            raise _bad("a Rice-coded mask is longer than the packed bits of its layer")
        if override is not None and override > numel:
            raise _bad("a keep count exceeds the size of its layer")
        sizes.append(size)
    if sum(sizes) != masks.size:
        raise _bad("mask sizes in the layer table do not add up to the mask tensor")
    return sizes


def _unsqueeze(value, n: int) -> list:
    return list(value) if isinstance(value, list) else [value] * n


def _int_list(value, n: int | None, what: str) -> list:
    if not isinstance(value, list) or (n is not None and len(value) != n) or not all(
            v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) for v in value):
        raise _bad(f"bad {what} in the sparse-layer table")
    return value


def _layer_table(table, n: int):
    """Validated columns (codes, prune rates, overrides, Rice parameters, Rice sizes) of the table."""
    if not isinstance(table, dict) or table.get("n") != n:
        raise SBTFileError("invalid model file: its sparse-binary layers do not match the network it describes")
    codes = table.get("coding")
    if not isinstance(codes, str) or len(codes) != n or set(codes) - {"b", "r"}:
        raise _bad("bad mask codes in the sparse-layer table")
    ps = _unsqueeze(table.get("p"), n)
    if len(ps) != n or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0
                               for v in ps):
        raise _bad("bad prune rates in the sparse-layer table")
    overrides = _int_list(_unsqueeze(table.get("keep_override"), n), n, "keep-count overrides")
    n_rice = codes.count("r")
    ks = _int_list(table.get("rice_k"), n_rice, "Rice parameters")
    nbytes = _int_list(table.get("rice_nbytes"), n_rice, "Rice sizes")
    if any(v is None for v in ks + nbytes):
        raise _bad("bad Rice columns in the sparse-layer table")
    return codes, [float(v) for v in ps], overrides, ks, nbytes
