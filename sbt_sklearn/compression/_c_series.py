"""C code that turns an exported anomaly detector's window scores into series scores, step by step.

The detector's ``score_series`` smooths the scores of consecutive windows (``smooth_``): a moving
mean over ``k`` steps, or the multi-scale rule (moving means over 1, 5, 10, 25 and 50 steps, each
mapped to its level in the tail of the training series' scores, averaged; see
:mod:`sbt_sklearn.anomaly._multiscale`). With ``rarity_="max"`` the multi-scale rule smooths and
calibrates the error and the rarity each on its own (two streams) and keeps the larger. On a
device the windows arrive one at a time, so the C code keeps the last scores of each stream in a
ring and running sums: ``<name>_series_score(&state, out)`` takes each ``<name>_predict`` output
in turn and returns the series score of that step. It uses no allocation and no library beyond
``stdint.h``.
"""

from __future__ import annotations

from ._c_export import _Emitter

__all__ = ["series_scorer_c"]


def series_scorer_c(name: str, smooth, series_threshold: float, *, scales=(), tails=None,
                    tail_levels=None, streams: int = 1) -> tuple[str, list[str], int, int]:
    """(source, header lines, flash bytes, RAM bytes of one state) of the series scorer.

    Parameters
    ----------
    name : str
        The C prefix of the exported model.
    smooth : int or "multiscale"
        The detector's ``smooth_``.
    series_threshold : float
        The detector's ``series_threshold_`` (anomaly-score units: higher = more anomalous).
    scales : sequence of int
        The moving-average lengths of the multi-scale rule (multi-scale only).
    tails : ndarray of shape (n_scales, n_knots), (2, n_scales, n_knots) or None
        The detector's ``scale_tails_`` (multi-scale only; two streams: the error's, then the
        rarity's).
    tail_levels : ndarray of shape (n_knots,) or None
        The level (``-log`` upper-tail probability) of each quantile in ``tails``.
    streams : {1, 2}, default=1
        1: the series score smooths the window's score (``out[0]``); 2 (``rarity_="max"``,
        multi-scale): it smooths the error (``out[1]``) and the rarity (``out[2]``) each on its
        own and keeps the larger.
    """
    upper = name.upper()
    multiscale = smooth == "multiscale"
    scales = tuple(int(k) for k in scales) if multiscale else (int(smooth),)
    ring = max(scales)
    n_scales = len(scales)
    em = _Emitter(name)  # the model's float tables, written and counted as the network's are
    lines = [
        f"static const int32_t {name}_scales[{n_scales}] = {{{', '.join(str(k) for k in scales)}}};",
    ]
    if multiscale:
        knots = tails.shape[-1]
        tails_t = em.floats(tails, "scale_tail")  # stream s, scale i: knots [(s * scales + i) * knots, ...)
        levels_t = em.floats(tail_levels, "tail_level")
        lines += [
            *em.lines,
            "",
            f"static double {name}_level_at(const float *q, int32_t i)",
            "{",
            "    /* the level of quantile i; tied quantiles all take the first one's (smallest) level */",
            "    while (i > 0 && q[i - 1] == q[i]) {",
            "        --i;",
            "    }",
            f"    return (double){levels_t}[i];",
            "}",
            "",
            f"static double {name}_level(double x, const float *q)",
            "{",
            "    /* -log upper-tail probability of x among the training quantiles q: linear between them, */",
            "    /* the first level below, growing on by the last level per width of the range beyond */",
            "    int32_t i = 0;",
            "    double gap, frac, width, beyond, y0, y1;",
            f"    while (i < {knots - 2} && (double)q[i + 1] < x) {{  /* the last quantile below x */",
            "        ++i;",
            "    }",
            "    gap = (double)q[i + 1] - (double)q[i];",
            "    frac = gap > 0.0 ? (x - (double)q[i]) / gap : 0.0;",
            "    frac = frac < 0.0 ? 0.0 : (frac > 1.0 ? 1.0 : frac);",
            f"    width = (double)q[{knots - 1}] - (double)q[0];",
            f"    beyond = x > (double)q[{knots - 1}] ? x - (double)q[{knots - 1}] : 0.0;",
            f"    beyond *= width > 0.0 ? {name}_level_at(q, {knots - 1}) / width : 1.0;",
            f"    y0 = {name}_level_at(q, i);",
            f"    y1 = {name}_level_at(q, i + 1);",
            "    return y0 + (y1 - y0) * frac + beyond;",
            "}",
        ]
    inputs = "-(double)out[0]" if streams == 1 else "(double)out[1], (double)out[2]"
    lines += [
        "",
        f"void {name}_series_reset({name}_series_t *state)",
        "{",
        "    int32_t i;",
        f"    for (i = 0; i < {streams * ring}; ++i) {{",
        "        state->ring[i] = 0.0;",
        "    }",
        f"    for (i = 0; i < {streams * n_scales}; ++i) {{",
        "        state->sum[i] = 0.0;",
        "    }",
        "    state->seen = 0;",
        "    state->head = 0;",
        "}",
        "",
        f"float {name}_series_score({name}_series_t *state, const float *out)",
        "{",
        f"    double anomaly[{streams}] = {{{inputs}}}, total, mean, best = 0.0;",
        "    int32_t s, i, k, n;",
        f"    for (s = 0; s < {streams}; ++s) {{",
        "        total = 0.0;",
        f"        for (i = 0; i < {n_scales}; ++i) {{",
        f"            k = {name}_scales[i];",
        f"            state->sum[s * {n_scales} + i] += anomaly[s];",
        "            if (state->seen >= k) {  /* the score k steps back leaves this scale's window */",
        f"                state->sum[s * {n_scales} + i] -= state->ring[s * {ring} + "
        f"(state->head - k + {ring}) % {ring}];",
        "            }",
        "            n = state->seen + 1 < k ? state->seen + 1 : k;",
        f"            mean = state->sum[s * {n_scales} + i] / (double)n;",
        "            total += "
        + (f"{name}_level(mean, {tails_t} + (s * {n_scales} + i) * {knots});" if multiscale else "mean;"),
        "        }",
        f"        state->ring[s * {ring} + state->head] = anomaly[s];",
        f"        total /= {n_scales}.0;",
        "        best = s == 0 || total > best ? total : best;  /* the larger stream */",
        "    }",
        f"    state->head = (state->head + 1) % {ring};",
        f"    if (state->seen < {ring}) {{",
        "        state->seen += 1;",
        "    }",
        "    return (float)(-best);",
        "}",
        "",
        f"int {name}_series_is_anomaly(float series_score)",
        "{",
        f"    return -(double)series_score > {upper}_SERIES_THRESHOLD;",
        "}",
    ]
    ram = 8 * streams * (ring + n_scales) + 8
    what = "window score" if streams == 1 else "errors and rarities"
    header = [
        f"#define {upper}_SERIES_THRESHOLD {float(series_threshold)!r}",
        "",
        f"/* the running state of {name}_series_score: the last {ring} {what} and one sum per scale */",
        "typedef struct {",
        f"    double ring[{streams * ring}];",
        f"    double sum[{streams * n_scales}];",
        "    int32_t seen;",
        "    int32_t head;",
        f"}} {name}_series_t;",
        "",
        "/* start a series (call before its first window) */",
        f"void {name}_series_reset({name}_series_t *state);",
        f"/* the series score (score_series, smooth={smooth!r}: higher = more normal) of the step whose window",
        f"   {name}_predict just scored into out; call once per window, in time order */",
        f"float {name}_series_score({name}_series_t *state, const float *out);",
        "/* 1 when a series score is beyond the fitted series threshold (series_threshold_); else 0 */",
        f"int {name}_series_is_anomaly(float series_score);",
    ]
    return "\n".join(lines) + "\n", header, em.flash + 4 * n_scales, ram
