"""C code of an anomaly detector's value-rarity score (``rarity="marginal"`` or ``"max"``).

The Python score is :mod:`sbt_sklearn.anomaly._typicality`: the rarity of the window's last row
(minus the log histogram density of each rarity channel's standardised value, summed), the
``-log`` upper-tail levels of the error and of the rarity among the training windows, and their
combination (``"marginal"``: ``max(0, T_e + log 0.05) + T_v``; ``"max"``: ``max(T_e, T_v)``).
The C code computes the same in double precision from the same tables (histogram edges, stored
in float16 by the model and exact in float; tail knots in float32), so it agrees with
``score_samples`` to the rounding of the network's output. ``<name>_predict`` then writes three
outputs: the score, the weighted error and the rarity (the series scorer smooths the last two
separately under ``"max"``).
"""

from __future__ import annotations

import math

import numpy as np

from ..anomaly._typicality import ERROR_TAIL, WIDTH_FLOOR

__all__ = ["rarity_c"]


def rarity_c(em, name: str, tables, larger: bool) -> tuple[list[str], list[str]]:
    """(functions, output lines) of the rarity score; the tables are emitted through ``em``.

    Parameters
    ----------
    em : _Emitter
        Collects and counts the constant tables.
    name : str
        The C prefix of the exported model.
    tables : tuple
        ``(channel indices, value bins (c, n_edges), error tail (2, k), rarity tail (2, k))``,
        the detector's ``_rarity_tables()``.
    larger : bool
        ``rarity_="max"`` (the larger level) rather than ``"marginal"`` (the sum).

    Returns
    -------
    functions : list of str
        Static C functions placed before ``<name>_predict``.
    output : list of str
        The lines inside ``<name>_predict`` that turn the weighted error ``err`` (double) and the
        standardised last row ``<name>_last`` into ``out[0..2]``.
    """
    channels, bins, error_tail, rarity_tail = (np.asarray(t) for t in tables)
    n_rarity, n_edges = bins.shape
    index_lines = ", ".join(str(int(c)) for c in channels)
    bins_t = em.floats(bins, "value_bins")  # channel j: edges [j * n_edges, (j + 1) * n_edges)
    tails = {}
    for what, knots in (("error_tail", error_tail), ("rarity_tail", rarity_tail)):
        tails[what] = (em.floats(knots[0], what + "_x"), em.floats(knots[1], what + "_y"), int(knots.shape[1]))
    em.flash += 4 * n_rarity
    functions = [
        f"static const int32_t {name}_rarity_channels[{n_rarity}] = {{{index_lines}}};",
        "",
        f"static double {name}_tail(double x, const float *xs, const float *ys, int32_t k)",
        "{",
        "    /* -log upper-tail probability of x among the training values: linear between the knots, */",
        "    /* the first level below them, growing on by the last level per width of the knots beyond */",
        "    int32_t i = -1, j;",
        "    double frac, beyond = 0.0;",
        "    for (j = 0; j < k; ++j) {",
        "        i += x >= (double)xs[j];",
        "    }",
        "    i = i < 0 ? 0 : (i > k - 2 ? k - 2 : i);",
        "    frac = (x - (double)xs[i]) / ((double)xs[i + 1] - (double)xs[i]);",
        "    frac = frac < 0.0 ? 0.0 : (frac > 1.0 ? 1.0 : frac);",
        "    if (x > (double)xs[k - 1]) {",
        "        beyond = (x - (double)xs[k - 1]) * ((double)ys[k - 1] / ((double)xs[k - 1] - (double)xs[0]));",
        "    }",
        "    return (double)ys[i] + ((double)ys[i + 1] - (double)ys[i]) * frac + beyond;",
        "}",
        "",
        f"static double {name}_rarity(const float *last)",
        "{",
        "    /* minus the log histogram density of each rarity channel's standardised value, summed */",
        "    double total = 0.0, v, width, outside;",
        "    const float *edges;",
        "    int32_t j, b, i;",
        f"    for (j = 0; j < {n_rarity}; ++j) {{",
        f"        v = (double)last[{name}_rarity_channels[j]];",
        f"        edges = {bins_t} + j * {n_edges};",
        "        i = -1;",
        f"        for (b = 0; b < {n_edges - 1}; ++b) {{",
        "            i += v >= (double)edges[b];",
        "        }",
        f"        i = i < 0 ? 0 : (i > {n_edges - 2} ? {n_edges - 2} : i);",
        "        width = (double)edges[i + 1] - (double)edges[i];",
        f"        width = width < {WIDTH_FLOOR!r} ? {WIDTH_FLOOR!r} : width;",
        "        outside = (double)edges[0] - v > 0.0 ? (double)edges[0] - v : 0.0;",
        f"        outside += v - (double)edges[{n_edges - 1}] > 0.0 ? v - (double)edges[{n_edges - 1}] : 0.0;",
        f"        total += log({float(n_edges - 1)!r} * width) + outside / width;",
        "    }",
        "    return total;",
        "}",
        "",
    ]
    (ex, ey, ek), (rx, ry, rk) = tails["error_tail"], tails["rarity_tail"]
    combine = ("anomaly = t_e > t_v ? t_e : t_v;" if larger else
               f"anomaly = (t_e + {math.log(ERROR_TAIL)!r} > 0.0 ? t_e + {math.log(ERROR_TAIL)!r} : 0.0) + t_v;")
    output = [
        "        {",
        f"            double rarity = {name}_rarity({name}_last), anomaly;",
        f"            double t_e = {name}_tail(err, {ex}, {ey}, {ek}), t_v = {name}_tail(rarity, {rx}, {ry}, {rk});",
        f"            {combine}",
        "            out[0] = (float)(-anomaly);",
        "            out[1] = (float)err;",
        "            out[2] = (float)rarity;",
        "        }",
    ]
    return functions, output
