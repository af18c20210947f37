"""Dependency-free C inference for a trained SBT network: one ``.c`` and one ``.h``, C99.

:func:`c_sources` writes the runtime (``_c/runtime.c``: bit-serial sparse-binary linear layers,
norms, streamed step-T attention with an online softmax, attention over rows held in memory)
followed by the model: every sparse-binary layer as its mask bits, the sign bits of its kept
weights and one float gain; FP32 layers (the dense twin) as float arrays; the scaler, norm
parameters, Q/K/V activation masks (bits), the forecaster's linear base and the task's output.
Binary layers are never folded into float matrices.

The generated code has no heap and reads nothing but its arguments and its constant tables; its
working memory is one static float array whose size the header states (it grows with the window
only where attention needs every row in memory: classification and non-step-T attention).
"""

from __future__ import annotations

import math
import re
from importlib import resources

import numpy as np
import torch

from ..nn import SBTClassificationNet, SBTLastStepNet
from ._c_rarity import rarity_c
from ._folded import INPUT_MODES, OUTPUT_MODES, qkv_masks

__all__ = ["UNBOUNDED_STEPS", "c_sources", "check_c_name", "needs_max_steps"]

_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "_Bool _Complex _Imaginary".split()
)
_ATTENTION = {"full": 0, "step_t": 1, "qkv_mask": 2}
_INPUT = {"none": 0, "append_zero": 1, "relative_append_zero": 2, "zero_last": 3, "keep_last": 4}
#: the most input rows a streamed model accepts (its working memory does not depend on them)
UNBOUNDED_STEPS = 2**31 - 2


def check_c_name(name) -> str:
    """Validate ``name`` as the prefix of the generated C identifiers and file names."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,40}", name) or name in _C_KEYWORDS:
        raise ValueError(f"name must be a C identifier of at most 41 characters (letters, digits, _), not a C "
                         f"keyword; got {name!r}")
    if name.startswith("sbt_") and name[4:].split("_")[0] in ("linear", "norm", "embed", "forward", "head",
                                                               "input", "std", "add", "finish"):
        raise ValueError(f"name {name!r} collides with the runtime's internal functions")
    return name


def _attention(net) -> str:
    return net.encoder.layers[0].attn.mode if len(net.encoder.layers) else "full"


def _streamed(net) -> bool:
    """Step-T attention in a last-step network: computed row by row, memory independent of the window."""
    return isinstance(net, SBTLastStepNet) and _attention(net) == "step_t"


def needs_max_steps(net) -> bool:
    """Whether the C code of ``net`` has a longest window (rows held in memory or per-step tables)."""
    return not _streamed(net) or net.encoder.pos.learnable


class _Emitter:
    """Collects the constant tables of a model and counts their bytes."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.lines, self.flash, self._n = prefix, [], 0, 0

    def _name(self, what: str) -> str:
        self._n += 1
        return f"{self.prefix}_{what}{self._n}"

    def floats(self, values, what: str) -> str:
        arr = np.asarray(values, dtype=np.float32).reshape(-1)
        if not np.isfinite(arr).all():
            raise ValueError(f"cannot export {what}: it holds NaN or infinite values")
        name = self._name(what)
        body = ",\n".join(", ".join(_float(v) for v in arr[i : i + 8]) for i in range(0, len(arr), 8))
        self.lines.append(f"static const float {name}[{max(1, len(arr))}] = {{\n{body or '0.0f'}\n}};")
        self.flash += 4 * len(arr)
        return name

    def bits(self, flags, what: str, spare: int = 0) -> str:
        flat = np.asarray(flags, dtype=bool).reshape(-1)
        n_words = max(1, (len(flat) + 31) // 32) + spare
        padded = np.zeros(n_words * 32, dtype=bool)
        padded[: len(flat)] = flat
        words = np.packbits(padded, bitorder="little").view("<u4")
        name = self._name(what)
        body = ",\n".join(", ".join(f"0x{int(w):08x}u" for w in words[i : i + 8]) for i in range(0, len(words), 8))
        self.lines.append(f"static const uint32_t {name}[{n_words}] = {{\n{body}\n}};")
        self.flash += 4 * n_words
        return name


def _float(v) -> str:
    text = f"{float(v):.9g}"
    if "e" not in text and "." not in text and "n" not in text:
        text += ".0"
    return text + "f"


def _linear(em: _Emitter, layer, factor: float = 1.0) -> str:
    """A C initializer of ``sbt_linear_t`` for a :class:`~sbt_sklearn.nn.SparseBinaryLinear`."""
    w = layer.effective_weight().detach().cpu().double() * factor
    n_out, n_in = w.shape
    bias = "NULL" if layer.bias is None else em.floats(layer.bias.detach().cpu().double() * factor, "bias")
    if not layer.binary:
        return f"{{{n_in}, {n_out}, NULL, NULL, 0.0f, {em.floats(w, 'weight')}, {bias}}}"
    kept = (w != 0).numpy()
    magnitudes = np.unique(w.abs().numpy()[kept].astype(np.float32))
    if len(magnitudes) > 1:
        raise ValueError("a sign-binary layer has more than one weight magnitude; it cannot be stored as bits")
    gain = float(magnitudes[0]) if len(magnitudes) else 0.0
    signs = (w.numpy() < 0)[kept]
    return (f"{{{n_in}, {n_out}, {em.bits(kept, 'mask')}, {em.bits(signs, 'sign')}, {_float(gain)}, NULL, "
            f"{bias}}}")


def _norm(em: _Emitter, norm) -> str:
    if isinstance(norm, torch.nn.LayerNorm):
        a = em.floats(norm.weight.detach().cpu(), "ln_gain") if norm.weight is not None else "NULL"
        b = em.floats(norm.bias.detach().cpu(), "ln_bias") if norm.bias is not None else "NULL"
        return f"{{1, {a}, {b}, {_float(norm.eps)}}}"
    if isinstance(norm, torch.nn.modules.batchnorm._BatchNorm):  # eval mode: an affine map per width
        inv = torch.rsqrt(norm.running_var.double() + norm.eps)
        weight = norm.weight.double() if norm.weight is not None else torch.ones_like(inv)
        bias = norm.bias.double() if norm.bias is not None else torch.zeros_like(inv)
        scale = weight * inv
        shift = bias - norm.running_mean.double() * scale
        return f"{{2, {em.floats(scale, 'bn_scale')}, {em.floats(shift, 'bn_shift')}, 0.0f}}"
    return "{0, NULL, NULL, 0.0f}"


def c_sources(net, *, name: str, mean, scale, input_mode: str, output_mode: str, max_steps: int | None = None,
              channel_weights=None, base=None, offset: float | None = None, description: str = "",
              output_doc: str = "", rarity=None, rarity_max: bool = False) -> tuple[str, str, dict]:
    """The C source and header of a trained network with its task's transforms.

    Parameters
    ----------
    net : SBTClassificationNet or SBTLastStepNet
        The trained network (not modified).
    name : str
        Prefix of the public identifiers (``<name>_predict``, ``<NAME>_N_CHANNELS``...).
    mean, scale : array-like of shape (n_channels,)
        The training scaler: the C code takes raw rows.
    input_mode, output_mode : str
        The task's transforms, as for :func:`~sbt_sklearn.compression.fold_network`
        (``"rescale"``, ``"rescale_level"``, ``"softmax"``, ``"neg_weighted_error"``,
        ``"neg_weighted_error_delta"``).
    max_steps : int or None, default=None
        Longest window (observed rows) accepted. Needed where rows are held in memory
        (classification, attention other than step-T) or tables are per step (learnable
        positions, Q/K/V masks); a streamed step-T model with fixed positions takes any length.
    channel_weights : array-like or None
        Per-channel error weights of the anomaly outputs.
    base : tuple of (weight, bias) or None
        The forecaster's linear base.
    offset : float or None
        The anomaly detector's ``offset_`` (a window is an outlier where ``score - offset < 0``).
    rarity : tuple or None
        The anomaly detector's rarity tables (``_rarity_tables()``): the output is then its
        combined score, followed by the weighted error and the rarity (three outputs).
    rarity_max : bool
        With ``rarity``: the ``rarity="max"`` combination (the larger level), else ``"marginal"``.
    description, output_doc : str
        Text for the header's comment.

    Returns
    -------
    source, header : str
        The ``.c`` and ``.h`` text (the source includes ``"<name>.h"``).
    sizes : dict
        ``flash_bytes`` (constant tables), ``ram_bytes`` (static working memory), ``max_steps``.
    """
    name = check_c_name(name)
    if not isinstance(net, (SBTClassificationNet, SBTLastStepNet)):
        raise TypeError(f"C export needs an SBTClassificationNet or SBTLastStepNet, got {type(net).__name__}")
    if input_mode not in INPUT_MODES or output_mode not in OUTPUT_MODES or output_mode == "raw":
        raise ValueError(f"unsupported transforms {input_mode!r} / {output_mode!r}")
    enc = net.encoder
    attention = _attention(net)
    last_step = isinstance(net, SBTLastStepNet)
    streamed = _streamed(net)
    extra = 1 if input_mode in ("append_zero", "relative_append_zero") else 0
    if max_steps is None:
        if needs_max_steps(net):
            raise ValueError("max_steps is needed: this model holds every row in memory or has per-step tables")
        max_steps = UNBOUNDED_STEPS
    max_steps = int(max_steps)
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1; got {max_steps}")
    patch = int(getattr(net, "patch_len", 1))  # steps per token (the classifier's patch tokens)
    rows = -(-(max_steps + extra) // patch)  # network rows (tokens)
    if enc.pos.learnable and rows > enc.pos.max_len:
        raise ValueError(f"max_steps={max_steps} needs {rows} positions but the learnable table has {enc.pos.max_len}")
    n_inputs = int(enc.embed.in_features)  # a network row: patch rows of n_channels
    n_channels = n_inputs // patch
    d, n_heads, n_layers = int(enc.d), int(enc.layers[0].attn.n_heads), len(enc.layers)
    d_ff = int(enc.layers[0].lin1.out_features)
    n_out = int(net.decoder.out_features)
    hid = max(d, d_ff)
    work = (8 * d + hid + 2 * n_heads + n_inputs) if streamed else (5 * rows * d + rows + d + hid + n_inputs)

    was_training = net.training
    net.eval()
    em = _Emitter(f"{name}_t")
    try:
        with torch.no_grad():
            net._before_forward()
            embed = _linear(em, enc.embed, math.sqrt(enc.d))
            pos = em.floats(enc.pos.table.detach().cpu()[:rows], "pos") if enc.pos.learnable else "NULL"
            layers = []
            for layer in enc.layers:
                a = layer.attn
                qkv = em.bits(qkv_masks(a, rows).numpy(), "qkv") if a.mode == "qkv_mask" else "NULL"
                parts = [_linear(em, m) for m in (a.q_proj, a.k_proj, a.v_proj, a.out_proj, layer.lin1, layer.lin2)]
                parts += [_norm(em, layer.norm1), _norm(em, layer.norm2), qkv]
                layers.append("{" + ", ".join(parts) + "}")
            decoder = _linear(em, net.decoder)
            gate = getattr(net, "output_gate", None)
            gate = "NULL" if gate is None else em.floats(gate.detach().cpu(), "gate")
    finally:
        net.train(was_training)
    mean_t = em.floats(mean, "mean")
    scale_t = em.floats(scale, "scale")
    base_lags = 0
    if base is not None:
        base_w, base_b = (np.asarray(v, dtype=np.float32) for v in base)
        base_lags = base_w.shape[0] // n_channels
        base_w_t, base_b_t = em.floats(base_w, "base_weight"), em.floats(base_b, "base_bias")
    cw = None
    if output_mode.startswith("neg_weighted"):
        cw = em.floats(np.ones(n_out) if channel_weights is None else channel_weights, "channel_weights")
    rarity_functions, rarity_lines = [], None
    if rarity is not None and cw is not None:
        rarity_functions, rarity_lines = rarity_c(em, name, rarity, rarity_max)
    min_steps = max(1, base_lags, 2 if output_mode == "neg_weighted_error_delta" else 1)
    upper = name.upper()
    ram = 4 * (work + 3 * n_channels + n_out)
    n_api_out = (1 if rarity_lines is None else 3) if output_mode.startswith("neg_weighted") else n_out

    net_init = (f"static const sbt_layer_t {name}_layers[{max(1, n_layers)}] = {{\n    "
                + ",\n    ".join(layers or ["{0}"]) + "\n};\n"
                f"static const sbt_net_t {name}_net = {{{n_inputs}, {d}, {n_heads}, {n_layers}, {d_ff}, {n_out}, "
                f"{_ATTENTION[attention]}, {rows}, {embed}, {pos}, {name}_layers, {decoder}, {gate}}};")
    rows_fn, rows_ctx = ("sbt_patch_row", "&tokens") if patch > 1 else ("sbt_input_row", "&in")
    forward = (f"sbt_forward_step_t(&{name}_net, n, {rows_fn}, {rows_ctx}, {name}_work, raw);" if streamed else
               f"sbt_forward_full(&{name}_net, n, {rows_fn}, {rows_ctx}, {0 if last_step else 1}, {name}_work, raw);")
    base_tables = (base_w_t, base_b_t) if base_lags else None
    out_lines = _output_code(output_mode, name, n_channels, n_out, base_tables, base_lags, cw, rarity_lines)
    source = "\n".join([
        f"/* {name}.c: generated by sbt_sklearn (see {name}.h). C99; <math.h>, <stdint.h>, <stddef.h>. */",
        f'#include "{name}.h"',
        "#include <math.h>",
        "#include <stddef.h>",
        "#include <stdint.h>",
        "",
        f"#define SBT_USE_STEP_T {int(streamed)}",
        f"#define SBT_USE_FULL {int(not streamed)}",
        f"#define SBT_USE_BASE {int(base is not None)}",
        f"#define SBT_PATCH {patch}",
        "",
        _runtime(),
        "/* ---- the model ---------------------------------------------------------------------- */",
        *em.lines,
        net_init,
        f"static float {name}_work[{work}];",
        f"static float {name}_last[{n_channels}];",
        f"static float {name}_raw[{n_out}];",
        *([f"static float {name}_tmp[{2 * n_channels}];"] if base_lags or cw else []),
        "",
        *rarity_functions,
        f"int {name}_predict(const float *x, int32_t n_steps, int32_t start, int32_t capacity, float *out)",
        "{",
        "    sbt_input_t in;",
        *(["    sbt_patch_input_t tokens;"] if patch > 1 else []),
        f"    float *raw = {name}_raw;",
        "    int32_t n, c;",
        "    if (x == NULL || out == NULL) {",
        "        return -1;",
        "    }",
        f"    if (n_steps < {upper}_MIN_STEPS || n_steps > {upper}_MAX_STEPS) {{",
        "        return -2;",
        "    }",
        "    if (capacity < n_steps || start < 0 || start >= capacity) {",
        "        return -3;",
        "    }",
        "    in.x = x;",
        "    in.n_steps = n_steps;",
        "    in.start = start;",
        "    in.capacity = capacity;",
        f"    in.n_channels = {n_channels};",
        f"    in.mode = {_INPUT[input_mode]};",
        f"    in.mean = {mean_t};",
        f"    in.scale = {scale_t};",
        f"    in.last = {name}_last;",
        f"    sbt_std_row(&in, n_steps - 1, {name}_last);",
        f"    n = n_steps + {extra};",
        *([f"    n = (n + {patch - 1}) / {patch};", "    tokens.in = &in;", f"    tokens.patch = {patch};"]
          if patch > 1 else []),
        f"    {forward}",
        *out_lines,
        "    return 0;",
        "}",
    ])
    if offset is not None:
        source += (f"\n\nint {name}_is_anomaly(float score)\n{{\n"
                   f"    return (double)score - {upper}_OFFSET < 0.0;\n}}\n")
    else:
        source += "\n"
    sizes = {"flash_bytes": int(em.flash), "ram_bytes": int(ram), "max_steps": int(max_steps),
             "min_steps": int(min_steps), "streamed": bool(streamed)}
    header = _header(name, description, output_doc, n_channels, n_api_out, min_steps, max_steps, sizes, offset,
                     streamed)
    return source, header, sizes


def _output_code(output_mode: str, name: str, n_channels: int, n_out: int, base_tables, base_lags: int,
                 channel_weights, rarity_lines=None) -> list[str]:
    """C lines after the network: the linear base (tables ``base_tables``), then the task's output
    (for an anomaly score with a rarity term, ``rarity_lines`` after the weighted error)."""
    tmp = f"{name}_tmp"
    lines = []
    if base_tables is not None:
        lines.append(f"    sbt_add_base(&in, {base_lags}, {base_tables[0]}, {base_tables[1]}, {tmp}, raw);")
    if output_mode == "softmax":
        lines += [
            "    {",
            "        float mx = raw[0], sum = 0.0f;",
            f"        for (c = 1; c < {n_out}; ++c) {{",
            "            mx = raw[c] > mx ? raw[c] : mx;",
            "        }",
            f"        for (c = 0; c < {n_out}; ++c) {{",
            "            out[c] = expf(raw[c] - mx);",
            "            sum += out[c];",
            "        }",
            f"        for (c = 0; c < {n_out}; ++c) {{",
            "            out[c] /= sum;",
            "        }",
            "    }",
        ]
    elif output_mode in ("rescale", "rescale_level"):
        level = f" + {name}_last[c]" if output_mode == "rescale_level" else ""
        lines += [
            f"    for (c = 0; c < {n_channels}; ++c) {{",
            f"        out[c] = (float)((double)(raw[c]{level}) * (double)in.scale[c] + (double)in.mean[c]);",
            "    }",
        ]
    else:  # minus the weighted squared error of the last step
        lines += [
            "    {",
            "        double err = 0.0;",
        ]
        if output_mode == "neg_weighted_error_delta":
            lines += [f"        sbt_std_row(&in, n_steps - 2, {tmp});",
                      f"        for (c = 0; c < {n_channels}; ++c) {{",
                      f"            {tmp}[c] = {name}_last[c] - {tmp}[c];",
                      "        }"]
        else:
            lines += [f"        for (c = 0; c < {n_channels}; ++c) {{",
                      f"            {tmp}[c] = {name}_last[c];",
                      "        }"]
        lines += [
            f"        for (c = 0; c < {n_out}; ++c) {{",
            f"            double e = (double)raw[c] - (double){tmp}[c];",
            f"            err += e * e * (double){channel_weights}[c];",
            "        }",
            f"        err /= {n_out}.0;",
            *(["        out[0] = (float)(-err);"] if rarity_lines is None else rarity_lines),
            "    }",
        ]
    return lines


def _runtime() -> str:
    return resources.files("sbt_sklearn.compression").joinpath("_c/runtime.c").read_text(encoding="utf-8")


def _header(name, description, output_doc, n_channels, n_out, min_steps, max_steps, sizes, offset, streamed) -> str:
    upper = name.upper()
    guard = f"{upper}_H"
    ram = ("does not grow with the window (streamed step-T attention, online softmax)" if streamed else
           f"sized for windows of up to {upper}_MAX_STEPS rows")
    lines = [
        f"/* {name}.h: generated by sbt_sklearn. Dependency-free C99 inference of a fitted SBT model.",
        " *",
        *(f" * {line}" if line else " *" for line in description.splitlines()),
        " *",
        " * Input: x points at `capacity` rows of N_CHANNELS floats each (row-major, time along rows, the",
        " * raw values as given to the Python estimator); row t of the window (t = 0 oldest ... n_steps - 1",
        " * newest) is x[((start + t) % capacity) * N_CHANNELS + c]. A plain array is start = 0,",
        " * capacity = n_steps; a ring buffer passes its oldest row's index as start. x is read in place.",
        " *",
        f" * Output: {output_doc}",
        " *",
        f" * Returns 0, or -1 (NULL pointer), -2 (n_steps outside [{upper}_MIN_STEPS, {upper}_MAX_STEPS]),",
        " * -3 (capacity < n_steps, or start outside [0, capacity)).",
        " *",
        f" * Memory: {upper}_FLASH_BYTES of constant tables (masks and signs as bits, one float gain per",
        f" * sparse-binary layer, scaler, norms, biases of FP32 layers) and {upper}_RAM_BYTES of static working",
        f" * memory, which {ram}. No heap. Not reentrant: one call at a time.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stdint.h>",
        "",
        f"#define {upper}_N_CHANNELS {n_channels}",
        f"#define {upper}_N_OUTPUTS {n_out}",
        f"#define {upper}_MIN_STEPS {min_steps}",
        f"#define {upper}_MAX_STEPS {max_steps}",
        f"#define {upper}_FLASH_BYTES {sizes['flash_bytes']}",
        f"#define {upper}_RAM_BYTES {sizes['ram_bytes']}",
    ]
    if offset is not None:
        lines.append(f"#define {upper}_OFFSET {float(offset)!r}")
    lines += [
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"int {name}_predict(const float *x, int32_t n_steps, int32_t start, int32_t capacity, float *out);",
    ]
    if offset is not None:
        lines.append(f"/* 1 when score (from {name}_predict) is below the fitted threshold: an outlier; else 0 */")
        lines.append(f"int {name}_is_anomaly(float score);")
    lines += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
    return "\n".join(lines)
