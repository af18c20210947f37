"""Paper-convention FLOPs / size accounting against the SBT paper's Table 6.

Gorbett, Shirazi, Ray, "Sparse Binary Transformers for Multivariate Time Series
Modeling", KDD 2023: Table 6, appendix Table 4 (size ratios) and appendix
Tables 8 and 9 (model-size selection).
"""

import dataclasses

import pytest

from sbt_sklearn.compression import (
    PAPER_TABLE6,
    ArchSpec,
    dense_baseline,
    format_table6,
    paper_flops,
    paper_flops_breakdown,
    paper_param_counts,
    paper_size_bits,
)
from sbt_sklearn.compression._paper import TABLE6_COLUMNS, Table6Row

ROWS = list(PAPER_TABLE6)
COUNT_COLUMNS = [c for c in TABLE6_COLUMNS if c not in ("m", "w", "d", "p")]


def as_printed(value, printed):
    """``value`` formatted with as many decimals as the string ``printed``."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return f"{value:.{decimals}f}"


def test_table_has_the_eleven_rows():
    assert ROWS == [
        "Heartbeat",
        "InsectWingbeat",
        "SpokenArabicDigits",
        "JapaneseVowels",
        "FaceDetection",
        "MSL",
        "SMAP",
        "SMD",
        "ECL",
        "Weather",
        "ETTm1",
    ]


# ----------------------------------------------------------------------------- Table 6 rows


@pytest.mark.parametrize("name", ROWS)
def test_architecture_columns(name):
    row = PAPER_TABLE6[name]
    ours = row.ours()
    for col in ("m", "w", "d", "p"):
        assert as_printed(ours[col], row.expected(col)) == row.expected(col), col
    # misprints are allowed only for the descriptive m / p columns
    assert set(row.errata) <= {"m", "p"}


@pytest.mark.parametrize("name", ROWS)
def test_parameter_counts_exact(name):
    row = PAPER_TABLE6[name]
    ours = row.ours()
    # exact integers of the re-derivation (spec B.9)
    assert ours["dense_params"] == row.reference["dense_params"]
    assert ours["sbt_binary_params"] == row.reference["sbt_binary_params"]
    # the printed thousands, to the printed digit
    assert as_printed(ours["dense_params_k"], row.printed["dense_params_k"]) == row.printed["dense_params_k"]
    assert as_printed(ours["sbt_params_k"], row.printed["sbt_params_k"]) == row.printed["sbt_params_k"]


@pytest.mark.parametrize("name", ROWS)
@pytest.mark.parametrize("column", COUNT_COLUMNS)
def test_printed_columns(name, column):
    row = PAPER_TABLE6[name]
    printed = row.printed[column]
    assert as_printed(row.ours()[column], printed) == printed


@pytest.mark.parametrize("name", ROWS)
def test_appendix_precise_values(name):
    """Size ratios of appendix Table 4 and MFLOPs of appendix Tables 8/9 (2 decimals)."""
    row = PAPER_TABLE6[name]
    assert "size_ratio" in row.precise
    ours = row.ours()
    for column, printed in row.precise.items():
        assert as_printed(ours[column], printed) == printed, column


@pytest.mark.parametrize("name", ROWS)
def test_dense_row_is_dense_baseline(name):
    row = PAPER_TABLE6[name]
    dense = row.dense
    assert dense == dense_baseline(row.sbt) == dense_baseline(dense)
    assert dense.keep == 1.0 and dense.attention == "full"
    # dense=True on the SBT spec and on the dense spec count the same model
    assert paper_flops(row.sbt, dense=True) == paper_flops(dense, dense=True)
    assert paper_size_bits(row.sbt, dense=True) == paper_size_bits(dense, dense=True)
    assert paper_param_counts(row.sbt, dense=True)["binary"] == 0


@pytest.mark.parametrize("name", ROWS)
def test_size_ratio_uses_total_bits(name):
    row = PAPER_TABLE6[name]
    ours = row.ours()
    assert ours["sbt_bits"] == paper_size_bits(row.sbt)["total"]
    assert ours["size_ratio"] == pytest.approx(ours["dense_bits"] / ours["sbt_bits"])
    assert ours["dense_bits"] == 32 * ours["dense_params"]


def test_task_settings_per_row():
    for row in PAPER_TABLE6.values():
        s = row.sbt
        if s.task == "anomaly":
            assert (s.keep, s.attention, s.norm, s.n_outputs) == (0.25, "step_t", "none", s.n_channels)
            assert row.dense.norm == "layer_time"
        elif s.task == "forecast":
            expected = (0.5, "step_t", "subnet_layer_time", s.n_channels)
            assert (s.keep, s.attention, s.norm, s.n_outputs) == expected
        else:
            assert (s.keep, s.k_a, s.attention, s.norm) == (0.5, 0.5, "qkv_mask", "batch")
            assert row.dense.pos_encoding == "learnable"
    classes = {n: PAPER_TABLE6[n].sbt.n_outputs for n in ROWS[:5]}
    assert classes == {
        "Heartbeat": 2,
        "InsectWingbeat": 10,
        "SpokenArabicDigits": 10,
        "JapaneseVowels": 9,
        "FaceDetection": 2,
    }
    assert (PAPER_TABLE6["InsectWingbeat"].sbt.n_layers, PAPER_TABLE6["InsectWingbeat"].sbt.n_heads) == (3, 8)


def test_arabic_flops_need_short_window():
    row = PAPER_TABLE6["SpokenArabicDigits"]
    assert row.flops_window == 65
    # at the printed w = 93 the counts are the spec's 4.62 / 2.08, not the paper's 2.8 / 1.3
    assert f"{paper_flops(row.sbt, dense=True) / 1e6:.2f}" == "4.62"
    assert f"{paper_flops(row.sbt) / 1e6:.2f}" == "2.08"

    def reproduces(w):
        dense, sbt = paper_flops(row.sbt, dense=True, window=w), paper_flops(row.sbt, window=w)
        return (f"{dense / 1e6:.1f}", f"{sbt / 1e6:.1f}", f"{dense / sbt:.1f}") == ("2.8", "1.3", "2.2")

    assert [w for w in range(40, 94) if reproduces(w)] == [65, 66]


def test_params_column_quirks():
    # the printed "Params (Binary)" is binary + BatchNorm gains for Arabic and FaceDetection
    for name, bn_gains in (("SpokenArabicDigits", 256), ("FaceDetection", 512)):
        row = PAPER_TABLE6[name]
        counts = paper_param_counts(row.sbt)
        assert counts["float"] == bn_gains
        assert row.sbt_params_count == "total"
        assert f"{counts['binary'] / 1e3:.1f}" != row.printed["sbt_params_k"]
    # Japanese Vowels prints 0.04 Mbit (binary bits only) while its ratio x52.85 needs the total
    jv = PAPER_TABLE6["JapaneseVowels"]
    bits = paper_size_bits(jv.sbt)
    assert bits == {"binary": 41_632, "float": 4_096, "total": 45_728}
    assert f"{bits['total'] / 1e6:.2f}" == "0.05" != jv.printed["sbt_mbit"]


def test_ecl_needs_keep_one_half():
    row = PAPER_TABLE6["ECL"]
    at_p075 = dataclasses.replace(row.sbt, keep=0.25)
    assert f"{paper_flops(row.sbt) / 1e6:.2f}" == "74.54"
    assert f"{paper_flops(at_p075) / 1e6:.2f}" != "74.54"


def test_format_table6():
    text = format_table6()
    lines = text.splitlines()
    assert len(lines) == 2 + len(PAPER_TABLE6)
    assert lines[0].startswith("| dataset |")
    assert " !" not in text  # no unexplained difference
    assert text.count("†") == 3  # ECL p, Weather m, ETTm1 m
    heartbeat = "| Heartbeat | 61 | 405 | 64 | 169.6 | 5.4 | 52.7 | 0.5 | 102.3 | 0.1 | 21.6 | 49.1 | 2.4 |"
    assert heartbeat in lines
    assert format_table6({"SMD": PAPER_TABLE6["SMD"]}).count("\n") == 2


# ----------------------------------------------------------------------------- appendix Tables 8 and 9

# (table-6 row, d, dense params K, dense MFLOPs, SBT params K, SBT MFLOPs), as printed in the
# model-size-selection tables; classification SBT params there are binary + BatchNorm gains.
SIZE_SELECTION = [
    ("Heartbeat", 16, "36.6", "11.81", "19.5", "4.95"),
    ("Heartbeat", 32, "76.9", "24.20", "43.1", "9.87"),
    ("Heartbeat", 128, "404.2", "124.73", "270.7", "52.45"),
    ("InsectWingbeat", 128, "555.5", "5.42", "420.9", "2.67"),
    ("InsectWingbeat", 256, "1503.5", "19.77", "1234.9", "9.80"),
    ("InsectWingbeat", 64, "229.0", "1.60", "161.3", "0.79"),
    ("InsectWingbeat", 400, "3040.0", "46.60", "2620.8", "23.16"),
    ("JapaneseVowels", 8, "17.7", "0.05", "8.9", "0.02"),
    ("JapaneseVowels", 16, "36.0", "0.12", "18.8", "0.06"),
    ("JapaneseVowels", 64, "166.9", "1.01", "99.9", "0.49"),
    ("ECL", 128, "348.2", "40.83", "345.1", "10.18"),
    ("ECL", 256, "956.0", "120.88", "951.6", "40.06"),
    ("ECL", 400, "1953.2", "258.03", "1947.2", "97.21"),
    ("Weather", 100, "188.0", "28.50", "185.6", "6.24"),
    ("Weather", 32, "44.2", "6.61", "42.5", "0.69"),
    ("Weather", 64, "102.7", "15.53", "100.6", "2.61"),
    ("Weather", 128, "268.7", "40.75", "266.0", "10.14"),
]


@pytest.mark.parametrize("name, d, dense_k, dense_mflops, sbt_k, sbt_mflops", SIZE_SELECTION)
def test_appendix_size_selection(name, d, dense_k, dense_mflops, sbt_k, sbt_mflops):
    spec = dataclasses.replace(PAPER_TABLE6[name].sbt, d=d)
    assert as_printed(paper_param_counts(spec, dense=True)["total"] / 1e3, dense_k) == dense_k
    assert as_printed(paper_flops(spec, dense=True) / 1e6, dense_mflops) == dense_mflops
    assert as_printed(paper_param_counts(spec)["total"] / 1e3, sbt_k) == sbt_k
    assert as_printed(paper_flops(spec) / 1e6, sbt_mflops) == sbt_mflops


# ----------------------------------------------------------------------------- hand-computed formulas


def test_step_t_sbt_by_hand():
    # m=2, w=4, d=4, h=2 (d'=2), ff=8, C=2, N=1, k=0.5, anomaly: step-T, no norm, fixed PE
    spec = ArchSpec(2, 4, 4, 2, n_layers=1, d_ff=8, task="anomaly")
    t = paper_flops_breakdown(spec)
    assert t["embedding"] == 4  # floor(0.5 * 2 * 4)
    assert t["pos_encoding"] == 16  # w * d
    assert t["qkv"] == 32  # w * floor(0.5 * 4 * 4)
    assert t["mha"] == 16 + 2 * (2 * 3 * 2 + 4)  # w*d + h*(2(w-1)d' + w) = 48
    assert (t["out_proj"], t["linear1"], t["linear2"], t["norms"]) == (8, 16, 16, 0)
    assert t["layer"] == 3 * 32 + 48 + 8 + 16 + 16 == 184
    assert t["decoder"] == 4
    assert t["total"] == paper_flops(spec) == 4 + 16 + 184 + 4 == 208
    # 8 + 4*16 + 2*32 + 8 binary weights, nothing in FP32
    assert paper_param_counts(spec) == {"binary": 144, "float": 0, "total": 144}
    assert paper_size_bits(spec) == {"binary": 144, "float": 0, "total": 144}


def test_forecast_subnet_layernorm_and_dense_by_hand():
    spec = ArchSpec(2, 4, 4, 2, n_layers=1, d_ff=8)  # forecast: step-T + SubnetLayerNorm(w)
    t = paper_flops_breakdown(spec)
    assert t["norms"] == 2 * 8  # 2 x floor(k_ln * d * w) = 2 x floor(0.5 * 16)
    assert t["total"] == 208 + 16
    # SubnetLayerNorm gain: w elements per norm, 1 bit each
    assert paper_param_counts(spec) == {"binary": 144 + 2 * 4, "float": 0, "total": 152}

    d = paper_flops_breakdown(spec, dense=True)  # K=1, full attention, LayerNorm(w)
    assert d["embedding"] == 8 and d["pos_encoding"] == 16
    assert d["qkv"] == 4 * 16
    assert d["mha"] == 16 + 2 * (2 * 16 * 2 + 16)  # w*d + h*(2 w^2 d' + w^2) = 176
    assert d["norms"] == 2 * (2 * 4 * 4)  # 2 x 2*d*w
    assert d["layer"] == 3 * 64 + 176 + 16 + 32 + 32 + 64 == 512
    assert d["total"] == 8 + 16 + 512 + 8 == 544
    # dense params: emb 8+4, QKV/out 4*(16+4), lin1 32+8, lin2 32+4, 2 LN(w) 2*(4+4), dec 8+2
    dense_params = 12 + 80 + 40 + 36 + 16 + 10
    assert paper_param_counts(spec, dense=True) == {"binary": 0, "float": dense_params, "total": dense_params}
    assert paper_size_bits(spec, dense=True)["total"] == 32 * 194


def test_qkv_mask_classification_by_hand():
    # m=2, w=5, d=4, h=2 (d'=2), ff=8, C=3, N=1, k=k_a=0.5, BatchNorm, fixed PE
    spec = ArchSpec(2, 5, 4, 3, n_layers=1, d_ff=8, task="classification")
    t = paper_flops_breakdown(spec)
    # floor(k_a w d) + 3 w d + h (floor(w k_a)^2 d' + w^2 + w floor(w k_a) d'), floor(2.5) = 2
    assert t["mha"] == 10 + 60 + 2 * (4 * 2 + 25 + 5 * 2 * 2) == 176
    assert t["norms"] == 0  # BatchNorm is not counted
    assert t["total"] == 4 + 20 + (3 * 40 + 176 + 8 + 16 + 16) + 6 == 366
    masked = dataclasses.replace(spec, attention_keep=0.2)  # floor(w k_a) = 1
    assert paper_flops_breakdown(masked)["mha"] == 4 + 60 + 2 * (1 * 2 + 25 + 5 * 1 * 2) == 138
    # binary 8 + 4*16 + 2*32 + 12; 2 BatchNorm gains of d elements at 32 bits
    assert paper_param_counts(spec) == {"binary": 148, "float": 8, "total": 156}
    assert paper_size_bits(spec) == {"binary": 148, "float": 256, "total": 404}

    # dense: learnable PE (0 FLOPs, 1024 x d params), full attention, biases
    d = paper_flops_breakdown(spec, dense=True)
    assert d["pos_encoding"] == 0
    assert d["mha"] == 20 + 2 * (2 * 25 * 2 + 25) == 270
    assert d["total"] == 8 + 0 + (3 * 80 + 270 + 16 + 32 + 32) + 12 == 610
    dense_params = 12 + 1024 * 4 + (80 + 40 + 36 + 2 * 8) + (12 + 3)
    assert paper_param_counts(spec, dense=True)["total"] == dense_params == 4295


def test_linear_terms_are_floored():
    spec = ArchSpec(3, 2, 5, 1, n_layers=1, n_heads=1, d_ff=3, keep=0.3, task="anomaly")
    t = paper_flops_breakdown(spec)
    assert t["embedding"] == 4  # floor(0.3 * 15 = 4.5)
    assert t["qkv"] == 2 * 7  # w * floor(0.3 * 25 = 7.5)
    assert t["decoder"] == 1  # floor(0.3 * 5 = 1.5)


def test_window_override_and_dense_options():
    spec = ArchSpec(2, 4, 4, 2, n_layers=1, d_ff=8, task="anomaly")
    longer = dataclasses.replace(spec, window=6)
    assert paper_flops(spec, window=6) == paper_flops(longer)
    assert paper_flops(spec, dense=True, window=6) == paper_flops(longer, dense=True)
    # as_baseline=False keeps the spec's own attention / norm / PE, only K = 1
    own = paper_flops_breakdown(spec, dense=True, as_baseline=False)
    assert own["mha"] == 48 and own["norms"] == 0 and own["qkv"] == 64
    assert paper_param_counts(spec, dense=True, as_baseline=False)["total"] == 12 + 156 + 10


def test_sbt_extrapolations():
    # SBT with a plain LayerNorm(w): FLOPs 2*d*w per norm, gain charged at 32 bits
    spec = ArchSpec(2, 4, 4, 2, n_layers=1, d_ff=8, norm="layer_time")
    assert paper_flops_breakdown(spec)["norms"] == 2 * 2 * 4 * 4
    assert paper_param_counts(spec) == {"binary": 144, "float": 8, "total": 152}
    # SBT with a learnable PE: 0 FLOPs, 1024*d FP32 parameters
    spec = ArchSpec(2, 4, 4, 3, n_layers=1, d_ff=8, task="classification", pos_encoding="learnable")
    assert paper_flops_breakdown(spec)["pos_encoding"] == 0
    assert paper_param_counts(spec)["float"] == 1024 * 4 + 2 * 4


def test_dense_baseline_per_task():
    for task, norm, pe in (
        ("forecast", "layer_time", "fixed"),
        ("anomaly", "layer_time", "fixed"),
        ("classification", "batch", "learnable"),
    ):
        dense = dense_baseline(ArchSpec(3, 10, 8, 3, task=task, keep=0.25, attention_keep=0.1))
        assert (dense.attention, dense.norm, dense.pos_encoding) == ("full", norm, pe)
        assert (dense.keep, dense.attention_keep) == (1.0, None)


def test_archspec_defaults_and_validation():
    spec = ArchSpec(12, 200, 100, 12)
    assert (spec.task, spec.attention, spec.norm, spec.pos_encoding) == (
        "forecast",
        "step_t",
        "subnet_layer_time",
        "fixed",
    )
    assert (spec.head_dim, spec.k_a, spec.n_layers, spec.n_heads, spec.d_ff) == (50, 0.5, 2, 2, 256)
    assert ArchSpec(3, 10, 8, 3, task="anomaly").norm == "none"
    assert ArchSpec(3, 10, 8, 3, task="classification", keep=0.75).k_a == 0.75
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.d = 3
    with pytest.raises(ValueError, match="divide"):
        ArchSpec(3, 10, 9, 3)
    with pytest.raises(ValueError, match="task"):
        ArchSpec(3, 10, 8, 3, task="regression")
    with pytest.raises(ValueError, match="attention"):
        ArchSpec(3, 10, 8, 3, attention="sparse")
    with pytest.raises(ValueError, match="norm"):
        ArchSpec(3, 10, 8, 3, norm="layer")
    with pytest.raises(ValueError, match="pos_encoding"):
        ArchSpec(3, 10, 8, 3, pos_encoding="rotary")
    with pytest.raises(ValueError, match="keep"):
        ArchSpec(3, 10, 8, 3, keep=0.0)
    with pytest.raises(ValueError, match="attention_keep"):
        ArchSpec(3, 10, 8, 3, attention_keep=1.5)
    with pytest.raises(ValueError, match="window"):
        ArchSpec(3, 0, 8, 3)
    with pytest.raises(TypeError):
        paper_flops("not a spec")
    with pytest.raises(ValueError, match="window"):
        paper_flops(spec, window=0)


def test_table6row_validation():
    printed = dict(zip(TABLE6_COLUMNS, ["1"] * len(TABLE6_COLUMNS)))
    spec = ArchSpec(3, 10, 8, 3)
    with pytest.raises(ValueError, match="errata"):
        Table6Row("x", spec, printed, errata={"sbt_mflops": "1"})
    with pytest.raises(ValueError, match="printed"):
        Table6Row("x", spec, {"m": "3"})
    row = Table6Row("x", spec, printed)
    with pytest.raises(TypeError):
        row.printed["m"] = "4"
