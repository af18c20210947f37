"""Compression report: parameters, bits and FLOPs of an SBT network against its dense twin.

Two conventions are reported side by side.

Paper convention
    The rules of Gorbett et al. (2023) for their Table 6 (:mod:`sbt_sklearn.compression._paper`):
    1 bit per binarized weight, 32 bits per norm gain (and learnable positional table); gains
    alpha, biases and norm shifts free; FLOPs with only Q, K and V multiplied by the window. The
    dense side is the paper's dense baseline (:func:`~sbt_sklearn.compression.dense_baseline`).
    Our ``norm="layer"`` normalises over ``d`` (the paper's forecasting models over the window):
    its FLOPs are counted as the paper's dense LayerNorm (``2*d*w``) and its gains are charged
    ``d`` per norm.

Honest convention
    Everything inference needs is charged: 1 bit per mask entry, 32 bits per float value
    (gains, biases, norm parameters and running statistics, learnable positional tables, the
    kept weights of FP32 layers) and 64 bits for the seed that regenerates the signs (and the
    Q/K/V activation masks). FLOPs are the non-zero multiply-adds our folded inference performs
    for one sample: every per-step linear times the number of steps it runs on (all steps,
    except that the step-T fast path projects the query of the last step only and that a
    last-step network computes its final layer and decoder for the last step only), attention
    scores and weighted sums (counted exactly on the kept Q/K/V activations), 2 operations per
    attention score for scaling and softmax, norms (LayerNorm 2 per value, batch norm 1) and the
    positional encoding. The dense side is the FP32 twin of the same shape (``binary=False``,
    ``p=0``, biases on every linear, full attention) counted the same way, its final layer
    also restricted to the last step.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..nn import SBTLastStepNet, SparseBinaryLinear
from ._folded import fuses_first_layer, qkv_masks
from ._paper import LEARNABLE_PE_MAX_LEN, ArchSpec, paper_flops, paper_param_counts

__all__ = ["CompressionReport", "network_report", "honest_counts", "honest_flops"]

_QUANTITIES = (
    ("binary_params", "binary parameters"),
    ("float_params", "float parameters"),
    ("size_bits", "size (bits)"),
    ("flops", "FLOPs per sample"),
)


@dataclasses.dataclass
class CompressionReport:
    """Parameters, size and FLOPs of a model and its dense twin under two conventions.

    Attributes
    ----------
    model : dict
        What was counted (estimator, network, shape, prune rate...).
    paper : dict
        ``{quantity: {"sbt": ..., "dense": ...}}`` under the paper's convention.
    honest : dict
        The same under the honest convention, plus ``mask_bits``.
    file_bytes : dict
        ``{"sbt": bytes of the saved model file, "dense": bytes of the dense twin's float32
        safetensors state_dict}`` (``None`` where not measured).

    Examples
    --------
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> from sbt_sklearn.compression import network_report
    >>> kwargs = dict(d=64, p=0.5, attention="step_t", norm="layer")
    >>> report = network_report(SBTLastStepNet(7, 7, **kwargs), kwargs, window=200, task="forecast")
    >>> report.to_dict()["paper"]["binary_params"]["sbt"]
    99200
    >>> print(str(report).splitlines()[0])  # doctest: +ELLIPSIS
    Compression report: SBTLastStepNet ...
    """

    model: dict
    paper: dict
    honest: dict
    file_bytes: dict

    def to_dict(self) -> dict:
        """All numbers as a JSON-serialisable dict, with ``ratio = dense / sbt`` per quantity."""
        def with_ratio(block):
            out = {}
            for key, pair in block.items():
                pair = dict(pair)
                s, d = pair.get("sbt"), pair.get("dense")
                numbers = all(isinstance(v, (int, float)) for v in (s, d))
                pair["ratio"] = d / s if numbers and s else None
                out[key] = pair
            return out

        return {
            "model": dict(self.model),
            "paper": with_ratio(self.paper),
            "honest": with_ratio(self.honest),
            "file_bytes": with_ratio({"file": self.file_bytes})["file"],
        }

    def __str__(self) -> str:
        d = self.to_dict()
        m = self.model
        keys = ("n_channels", "window", "horizon", "patch_len", "d", "n_layers", "p", "attention", "norm")
        shape = ", ".join(f"{k}={m[k]}" for k in keys if k in m)
        lines = [f"Compression report: {m.get('estimator') or m.get('network')} ({shape})",
                 f"{'':34}{'SBT':>14}{'dense twin':>16}{'dense/SBT':>12}"]

        def row(label, pair):
            s, dn, r = pair["sbt"], pair["dense"], pair["ratio"]
            fmt = lambda v: "-" if v is None else f"{v:,.0f}"  # noqa: E731
            ratio = f"{r:.2f}x" if r else ""
            lines.append(f"  {label:32}{fmt(s):>14}{fmt(dn):>16}{ratio:>12}")

        lines.append("paper convention (Gorbett et al. 2023, Table 6 rules; dense = the paper's baseline)")
        for key, label in _QUANTITIES:
            row(label, d["paper"][key])
        lines.append("honest convention (masks, gains, norms, biases charged; linears x steps run; "
                     "dense = FP32 twin, full attention)")
        for key, label in _QUANTITIES + (("mask_bits", "  of which mask bits"),):
            row(label, d["honest"][key])
        lines.append("measured")
        row("file bytes (ours vs float32 st)", d["file_bytes"])
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def _nnz(layer: SparseBinaryLinear) -> int:
    return int(layer.n_keep)


def _step_t_folded_nnz(a) -> tuple[int, int, int]:
    """Structural non-zeros of the folded step-T products (see :func:`fold_network`).

    Returns those of ``W_o W_v`` (past rows), and, summed over heads, of ``W_q,h^T W_k,h`` and
    ``W_o,h W_v,h`` (the last query). An entry counts when at least one of its terms has both
    factors non-zero (an exact cancellation of sign-binary terms is not counted as a saving).
    """
    with torch.no_grad():
        q, k, v, o = ((m.effective_weight().detach() != 0).double() for m in (a.q_proj, a.k_proj, a.v_proj,
                                                                            a.out_proj))
        heads = torch.arange(v.shape[0]).reshape(a.n_heads, a.head_dim)
        qk = sum(int(torch.count_nonzero(q[h].T @ k[h])) for h in heads)
        vo_heads = sum(int(torch.count_nonzero(o[:, h] @ v[h])) for h in heads)
        return int(torch.count_nonzero(o @ v)), qk, vo_heads


def honest_flops(net: nn.Module, window: int) -> dict:
    """Non-zero multiply-adds (and softmax/norm operations) of one sample, as our inference runs.

    Step-T attention is counted as the folded model (:func:`fold_network`) computes it: a past
    step's output is one product with ``W_o W_v`` (in the first layer, ``x_t + attn(x_t)`` is
    one product of the raw input row with ``((I + W_o W_v) W_e)^T`` plus a per-step bias
    table, when the input has no more channels than ``d``); the last query's scores are
    ``(x_T W_q,h^T W_k,h) . x_t`` and its output ``sum_h (w_h x) (W_o,h W_v,h)^T``, so no key or
    value projection of the past steps is computed. The products of folded weights are counted
    by their structural non-zeros.

    Parameters
    ----------
    net : SBTClassificationNet or SBTLastStepNet
        The network (its current masks are counted).
    window : int
        Number of steps the network sees (a network with patch tokens sees
        ``ceil(window / patch_len)`` tokens).

    Returns
    -------
    dict
        Terms ``embedding``, ``pos_encoding``, ``projections`` (Q, K, V, out), ``attention``
        (scores and weighted sums), ``softmax``, ``feed_forward``, ``norms``, ``head``
        (pooling and decoder) and ``total``.

    Examples
    --------
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> from sbt_sklearn.compression import honest_flops
    >>> honest_flops(SBTLastStepNet(7, 7, d=64), 200)["total"] > 0
    True
    """
    enc = net.encoder
    T = -(-int(window) // int(getattr(net, "patch_len", 1)))  # tokens: one per patch of steps
    last_step = isinstance(net, SBTLastStepNet)
    nq = int(getattr(net, "n_queries", 1))  # query rows of a multi-horizon forecaster (in the window)
    t = dict.fromkeys(("embedding", "pos_encoding", "projections", "attention", "softmax", "feed_forward",
                       "norms", "head"), 0)
    d = enc.d
    t["embedding"] = T * _nnz(enc.embed)
    t["pos_encoding"] = T * d
    n = len(enc.layers)
    for i, layer in enumerate(enc.layers):
        a = layer.attn
        h, dh = a.n_heads, a.head_dim
        last = last_step and i == n - 1
        rows = nq if last else T
        if a.mode == "step_t":
            keys = T - nq
            vo, qk, vo_heads = _step_t_folded_nnz(a)
            if i == 0 and fuses_first_layer(a.mode, last, enc.embed.in_features, d):  # x_t ((I + W_o W_v) W_e)^T + B_t
                with torch.no_grad():
                    ovx = (a.out_proj.effective_weight() != 0).double() @ (a.v_proj.effective_weight() != 0).double()
                    fused = (torch.eye(d, dtype=torch.float64) + ovx) @ (enc.embed.effective_weight() != 0).double()
                vo = int(torch.count_nonzero(fused))
                t["pos_encoding"] += T * d
            t["projections"] += nq * (qk + vo_heads) + (0 if last else T * vo)
            t["attention"] += nq * 2 * h * keys * d
            t["softmax"] += nq * 2 * h * keys
        else:
            rq = nq if last else T
            t["projections"] += rq * _nnz(a.q_proj) + T * (_nnz(a.k_proj) + _nnz(a.v_proj)) + rows * _nnz(a.out_proj)
            if a.mode == "qkv_mask":
                m = qkv_masks(a, T).to(torch.int64)  # (3, T, d')
                mq = m[0, T - nq :] if last else m[0]
                t["projections"] += 3 * T * d if not last else (nq + 2 * T) * d  # zeroing the masked activations
                t["attention"] += h * int((mq.sum(0) * m[1].sum(0)).sum()) + h * rq * int(m[2].sum())
            else:
                t["attention"] += 2 * h * rq * T * dh
            t["softmax"] += 2 * h * rq * T
        t["feed_forward"] += rows * (_nnz(layer.lin1) + _nnz(layer.lin2))
        for norm in (layer.norm1, layer.norm2):
            if isinstance(norm, nn.LayerNorm):
                t["norms"] += rows * 2 * d
            elif isinstance(norm, nn.modules.batchnorm._BatchNorm):
                t["norms"] += rows * d
    t["head"] = (nq if last_step else 1) * _nnz(net.decoder) + (0 if last_step else T * d)
    t["total"] = sum(t.values())
    return t


def honest_counts(net: nn.Module) -> dict:
    """Values inference needs, by kind (honest convention).

    Parameters
    ----------
    net : torch.nn.Module
        A network built from :class:`~sbt_sklearn.nn.SparseBinaryLinear` layers.

    Returns
    -------
    dict
        ``binary_params`` (sign-binary weights, regenerated from the seed), ``mask_bits`` (one
        per entry of every pruned layer), ``float_params`` (gains, biases, kept FP32 weights,
        norm parameters and statistics, learnable tables), ``seed_bits`` and ``size_bits``.

    Examples
    --------
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> from sbt_sklearn.compression import honest_counts
    >>> c = honest_counts(SBTLastStepNet(7, 7, d=64, norm="none"))
    >>> c["binary_params"], c["float_params"]
    (99200, 14)
    """
    binary = mask_bits = floats = 0
    owned = set()
    regenerated = False
    for layer in net.modules():
        if not isinstance(layer, SparseBinaryLinear):
            continue
        owned.update(id(p) for p in (layer.weight, layer.scores, layer.bias) if p is not None)
        bias = 0 if layer.bias is None else layer.bias.numel()
        if layer.scores is not None:
            mask_bits += layer.weight.numel()
        if layer.binary:
            binary += layer.weight.numel()
            floats += 1 + bias
            regenerated = True
        else:
            floats += layer.n_keep + bias
    for name, tensor in list(net.named_parameters()) + list(net.named_buffers()):
        if id(tensor) in owned or name.endswith(("num_batches_tracked", "weight_sign", "weight_abs")):
            continue
        if name.endswith("qkv_mask"):
            regenerated = True
            continue
        floats += tensor.numel()
    seed_bits = 64 if regenerated else 0
    return {"binary_params": binary, "mask_bits": mask_bits, "float_params": floats, "seed_bits": seed_bits,
            "size_bits": mask_bits + 32 * floats + seed_bits}


def _paper_spec(module_kwargs: dict, net: nn.Module, window: int, task: str) -> ArchSpec:
    norm = {"batch": "batch", "none": "none", "layer": "layer_time",
            "layer_plain": "layer_time"}[module_kwargs.get("norm", "batch")]
    p = float(getattr(net, "p", module_kwargs.get("p", 0.5)))
    return ArchSpec(
        n_channels=int(net.encoder.embed.in_features), window=int(window), d=int(module_kwargs.get("d", 64)),
        n_outputs=int(net.decoder.out_features), n_layers=int(module_kwargs.get("n_layers", 2)),
        n_heads=int(module_kwargs.get("n_heads", 2)), d_ff=int(module_kwargs.get("d_ff", 256)), task=task,
        attention=module_kwargs.get("attention", "full"), norm=norm,
        pos_encoding=module_kwargs.get("pos_encoding", "fixed"), keep=max(1.0 - p, 1e-12),
    )


def _paper_numbers(spec: ArchSpec, module_kwargs: dict, binary: bool) -> dict:
    """Paper-convention counts for our architecture (LayerNorm over d, our learnable table length)."""
    N, d, w = spec.n_layers, spec.d, spec.window
    max_len = int(module_kwargs.get("max_len", 512))
    if binary:
        counts = paper_param_counts(spec)
        fl = counts["float"]
        if spec.norm == "layer_time":  # our LayerNorm gains have d entries, not w
            fl += 2 * N * (d - w)
        if spec.pos_encoding == "learnable":
            fl += (max_len - LEARNABLE_PE_MAX_LEN) * d
        sbt = {"binary_params": counts["binary"], "float_params": fl, "size_bits": counts["binary"] + 32 * fl,
               "flops": paper_flops(spec)}
    else:  # an FP32 model: every parameter at 32 bits
        counts = paper_param_counts(spec, dense=True, as_baseline=False)
        fl = counts["total"]
        if spec.norm == "layer_time":
            fl += 2 * 2 * N * (d - w)
        if spec.pos_encoding == "learnable":
            fl += (max_len - LEARNABLE_PE_MAX_LEN) * d
        sbt = {"binary_params": 0, "float_params": fl, "size_bits": 32 * fl, "flops": paper_flops(spec)}
    dense_counts = paper_param_counts(spec, dense=True)
    dense = {"binary_params": 0, "float_params": dense_counts["total"], "size_bits": 32 * dense_counts["total"],
             "flops": paper_flops(spec, dense=True)}
    return {k: {"sbt": sbt[k], "dense": dense[k]} for k in sbt}


def dense_twin(net: nn.Module, module_kwargs: dict) -> nn.Module:
    """The FP32 twin of ``net``: same class and shape, ``binary=False``, ``p=0``, full attention."""
    kwargs = dict(module_kwargs, binary=False, p=0.0, attention="full")
    n_in = net.encoder.embed.in_features // int(getattr(net, "patch_len", 1))
    n_out = net.decoder.out_features
    return type(net)(n_in, n_out, **{k: v for k, v in kwargs.items() if k not in ("n_channels", "n_classes",
                                                                                  "n_outputs")}).eval()


def _state_file_bytes(module: nn.Module) -> int:
    from safetensors.torch import save

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    return len(save(state))


def network_report(net: nn.Module, module_kwargs: dict, *, window: int, task: str, file_bytes: int | None = None,
                   estimator: str | None = None, extras: dict | None = None) -> CompressionReport:
    """Compression report of a network (see :class:`CompressionReport`).

    Parameters
    ----------
    net : SBTClassificationNet or SBTLastStepNet
        The network.
    module_kwargs : dict
        The keyword arguments it was built with (``d``, ``n_layers``, ``norm``, ``attention``...).
    window : int
        Number of steps the network sees per sample (with patch tokens, the counts are for
        ``ceil(window / patch_len)`` tokens).
    task : {"classification", "forecast", "anomaly"}
        Task (selects the paper's dense baseline).
    file_bytes : int or None, default=None
        Measured size of the model file, if known.
    estimator : str or None, default=None
        Name to show.
    extras : dict of str to (int, int), or None, default=None
        Float32 parts of the estimator outside the network, as ``name: (float parameters,
        operations per sample)``: the forecaster's ``linear_base`` (its multiply-adds), the
        anomaly detector's ``score_tables`` (histogram edges and tail knots of the rarity
        term; its comparisons and arithmetic). Each is charged to both sides of the honest
        convention (the dense twin of the estimator has it too), under its name in the FLOPs
        breakdown, and its bytes to the dense file.

    Returns
    -------
    CompressionReport
        The report.

    Examples
    --------
    >>> from sbt_sklearn.nn import SBTLastStepNet
    >>> from sbt_sklearn.compression import network_report
    >>> kwargs = dict(d=50, p=0.75, attention="step_t", norm="none")
    >>> r = network_report(SBTLastStepNet(25, 25, **kwargs), kwargs, window=50, task="anomaly").to_dict()
    >>> r["paper"]["size_bits"]["sbt"], round(r["paper"]["flops"]["ratio"], 2)  # SMAP, Table 6
    (73700, 6.13)
    """
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            if hasattr(net, "_before_forward"):
                net._before_forward()  # global top-k: current keep counts
            binary = any(isinstance(m, SparseBinaryLinear) and m.binary for m in net.modules())
            tokens = -(-int(window) // int(getattr(net, "patch_len", 1)))
            spec = _paper_spec(module_kwargs, net, tokens, task)  # a token's inputs are its channels
            paper = _paper_numbers(spec, module_kwargs, binary)
            twin = dense_twin(net, module_kwargs)
            ours_c, twin_c = honest_counts(net), honest_counts(twin)
            ours_f, twin_f = honest_flops(net, window), honest_flops(twin, window)
    finally:
        net.train(was_training)
    extra_floats = 0
    for name, (n_floats, n_ops) in (extras or {}).items():
        extra_floats += int(n_floats)
        for counts in (ours_c, twin_c):
            counts["float_params"] += int(n_floats)
            counts["size_bits"] += 32 * int(n_floats)
        for flops in (ours_f, twin_f):
            flops[name] = int(n_ops)
            flops["total"] += int(n_ops)
    honest = {k: {"sbt": ours_c[k], "dense": twin_c[k]} for k in ("binary_params", "float_params", "size_bits",
                                                                  "mask_bits")}
    honest["flops"] = {"sbt": ours_f["total"], "dense": twin_f["total"]}
    honest["flops_breakdown"] = {"sbt": {k: v for k, v in ours_f.items() if k != "total"},
                                 "dense": {k: v for k, v in twin_f.items() if k != "total"}}
    model = {
        "estimator": estimator, "network": type(net).__name__, "task": task,
        "n_channels": int(net.encoder.embed.in_features) // int(getattr(net, "patch_len", 1)),
        "n_outputs": spec.n_outputs, "window": int(window), "patch_len": int(getattr(net, "patch_len", 1)),
        "d": spec.d,
        "n_heads": spec.n_heads, "n_layers": spec.n_layers, "d_ff": spec.d_ff,
        "p": round(1.0 - spec.keep, 12), "binary": binary, "attention": spec.attention,
        "norm": module_kwargs.get("norm"), "pos_encoding": spec.pos_encoding,
    }
    if int(getattr(net, "n_queries", 1)) > 1:  # a multi-horizon forecaster: its window counts the query rows
        model["horizon"] = int(net.n_queries)
    files = {"sbt": file_bytes, "dense": _state_file_bytes(twin) + 4 * extra_floats}
    return CompressionReport(model=model, paper=paper, honest=honest, file_bytes=files)

