"""compression_report: the paper's Table 6 numbers for its shapes, honest counts checked by hand."""

import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from sbt_sklearn.compression import (
    PAPER_TABLE6,
    ArchSpec,
    CompressionReport,
    fold_network,
    honest_counts,
    honest_flops,
    network_report,
    paper_flops,
)
from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet


def _module_for(row):
    """Our network of the row's shape, with the paper's SBT choices (forecasting: LayerNorm over d)."""
    s = row.sbt
    kwargs = dict(d=s.d, n_heads=s.n_heads, n_layers=s.n_layers, d_ff=s.d_ff, p=round(1 - s.keep, 10),
                  attention=s.attention, norm={"subnet_layer_time": "layer"}.get(s.norm, s.norm),
                  max_len=s.window)
    if s.task == "classification":
        return SBTClassificationNet(s.n_channels, s.n_outputs, **kwargs), kwargs
    return SBTLastStepNet(s.n_channels, s.n_outputs, **kwargs), kwargs


@pytest.mark.parametrize("name", list(PAPER_TABLE6))
def test_paper_convention_reproduces_table6(name):
    row = PAPER_TABLE6[name]
    net, kwargs = _module_for(row)
    report = network_report(net, kwargs, window=row.flops_window or row.sbt.window, task=row.sbt.task)
    paper, ours = report.to_dict()["paper"], row.ours()
    assert paper["float_params"]["dense"] == ours["dense_params"] == row.reference["dense_params"]
    assert paper["size_bits"]["dense"] == ours["dense_bits"]
    assert paper["flops"]["dense"] == ours["dense_flops"]
    if row.sbt.norm == "subnet_layer_time":
        # the paper's forecasting models prune a LayerNorm(w) gain (1 bit each, 2N*w elements);
        # ours normalise over d with FP32 gains: every other count is the paper's
        n_ln = 2 * row.sbt.n_layers * row.sbt.window
        assert paper["binary_params"]["sbt"] == row.reference["sbt_binary_params"] - n_ln
        spec = ArchSpec(row.sbt.n_channels, row.sbt.window, row.sbt.d, row.sbt.n_outputs, norm="layer_time")
        assert paper["flops"]["sbt"] == paper_flops(spec)
    else:
        assert paper["binary_params"]["sbt"] == row.reference["sbt_binary_params"]
        assert paper["size_bits"]["sbt"] == ours["sbt_bits"]
        assert paper["flops"]["sbt"] == ours["sbt_flops"]
        assert paper["size_bits"]["dense"] / paper["size_bits"]["sbt"] == pytest.approx(ours["size_ratio"])


def test_honest_counts_by_hand():
    # m=2, d=4, ff=8, one layer, no norm, 2 outputs, p=0.5, step-T, window 5
    net = SBTLastStepNet(2, 2, d=4, n_heads=2, n_layers=1, d_ff=8, p=0.5, attention="step_t", norm="none")
    c = honest_counts(net)
    n_weights = 2 * 4 + 4 * 4 * 4 + 4 * 8 * 2 + 4 * 2  # embed, q k v out, lin1 lin2, decoder
    assert c["binary_params"] == c["mask_bits"] == n_weights == 144
    assert c["float_params"] == 8  # one gain per layer, nothing else
    assert c["size_bits"] == 144 + 32 * 8 + 64
    f = honest_flops(net, 5)
    assert f["embedding"] == 5 * 4  # 8 weights, 4 kept, 5 steps
    # last (only) layer, folded step-T: x_T (W_q,h^T W_k,h) and sum_h (w_h x) (W_o,h W_v,h)^T; an
    # entry of a folded product costs one MAC when any of its two terms has both factors kept;
    # no projection of the 4 past steps at all
    a = net.encoder.layers[0].attn
    wq, wk, wv, wo = (m.mask().bool() for m in (a.q_proj, a.k_proj, a.v_proj, a.out_proj))
    heads = (slice(0, 2), slice(2, 4))
    qk = sum(bool((wq[hs, i] & wk[hs, j]).any()) for hs in heads for i in range(4) for j in range(4))
    vo_heads = sum(bool((wo[i, hs] & wv[hs, j]).any()) for hs in heads for i in range(4) for j in range(4))
    assert 0 < qk <= 32 and 0 < vo_heads <= 32
    assert f["projections"] == qk + vo_heads
    assert f["attention"] == 2 * 2 * 4 * 4  # heads x past steps x d for scores (q_h W_k,h . x_t) and sums
    assert f["feed_forward"] == 16 + 16 and f["head"] == 4 and f["norms"] == 0
    assert f["total"] == sum(v for k, v in f.items() if k != "total")


@pytest.mark.parametrize("net_cls, attention, norm, channels", [
    (SBTLastStepNet, "step_t", "layer", 3), (SBTLastStepNet, "step_t", "layer", 10),
    (SBTLastStepNet, "full", "batch", 3), (SBTClassificationNet, "full", "none", 3),
])
def test_honest_matmul_flops_match_torch_flop_counter(net_cls, attention, norm, channels):
    """Without pruning, our count of linear and attention MACs is what torch counts on the folded model
    (step-T with 3 channels folds the first layer's past steps into the embedding; with 10 > d it does not)."""
    net = net_cls(channels, 2, d=8, n_heads=2, n_layers=2, d_ff=16, p=0.0, attention=attention, norm=norm).eval()
    folded = fold_network(net)
    assert folded.fuse_first == (attention == "step_t" and channels <= 8)
    with FlopCounterMode(display=False) as counter:
        folded(torch.randn(1, 12, channels))
    f = honest_flops(net, 12)
    macs = f["embedding"] + f["projections"] + f["attention"] + f["feed_forward"] + f["head"]
    if net_cls is SBTClassificationNet:
        macs -= 12 * 8  # the mean over steps is an addition, not a matmul
    assert counter.get_total_flops() == 2 * macs


def test_qkv_mask_attention_counts_only_kept_activations():
    net = SBTClassificationNet(3, 2, d=8, n_layers=1, d_ff=16, p=0.75, attention="qkv_mask", max_len=10)
    dense_like = SBTClassificationNet(3, 2, d=8, n_layers=1, d_ff=16, p=0.0, attention="full", max_len=10)
    masked, full = honest_flops(net, 10)["attention"], honest_flops(dense_like, 10)["attention"]
    # Q and K keep 1 of 4 head dims per step, V too: about 1/16 of the scores and 1/4 of the sums
    assert masked < 0.35 * full


def test_report_object_is_readable_and_serialisable():
    kwargs = dict(d=16, n_layers=1, d_ff=32, p=0.5, attention="step_t", norm="layer")
    report = network_report(SBTLastStepNet(3, 3, **kwargs), kwargs, window=20, task="forecast", file_bytes=1000)
    assert isinstance(report, CompressionReport)
    d = report.to_dict()
    json.dumps(d)
    for convention in ("paper", "honest"):
        for key in ("binary_params", "float_params", "size_bits", "flops"):
            assert set(d[convention][key]) == {"sbt", "dense", "ratio"}
    assert d["honest"]["flops"]["ratio"] > 1 and d["honest"]["size_bits"]["ratio"] > 10
    text = str(report)
    assert "paper convention" in text and "honest convention" in text and "FLOPs per sample" in text
    assert repr(report) == text


@pytest.mark.parametrize("est", [
    SBTClassifier(d=8, n_layers=1, d_ff=16, max_epochs=1, random_state=0),
    SBTForecaster(d=8, n_layers=1, d_ff=16, max_epochs=1, random_state=0),
    SBTAnomalyDetector(d=8, n_layers=1, d_ff=16, max_epochs=1, random_state=0, rarity="marginal"),
], ids=lambda e: type(e).__name__)
def test_every_estimator_reports(est):
    X = np.random.default_rng(0).normal(size=(16, 2, 9)).astype(np.float32)
    if isinstance(est, SBTClassifier):
        est.fit(X, X[:, 0, 0] > 0)
    elif isinstance(est, SBTForecaster):
        est.fit(X, X[:, :, -1])
    else:
        est.fit(X)
    d = est.compression_report().to_dict()
    assert d["file_bytes"]["sbt"] == len(est.to_bytes())
    window = 10 if isinstance(est, SBTForecaster) else 9  # the forecaster appends the row to predict
    assert d["model"]["window"] == window and d["model"]["estimator"] == type(est).__name__
    assert d["honest"]["binary_params"]["sbt"] == sum(
        m.weight.numel() for m in est.module_.modules() if getattr(m, "binary", False)
    )
    # parts outside the network are charged to both sides: the forecaster's linear base, the detector's
    # rarity tables (histogram edges and tail knots)
    net_only = honest_counts(est.module_)["float_params"]
    charged = d["honest"]["float_params"]["sbt"] - net_only
    if isinstance(est, SBTForecaster):
        assert charged == est.base_coef_.size + est.base_intercept_.size > 0
    elif isinstance(est, SBTAnomalyDetector):
        assert charged == est.value_bins_.size + est.error_tail_.size + est.rarity_tail_.size > 0
        assert d["honest"]["flops_breakdown"]["sbt"]["score_tables"] > 0
    else:
        assert charged == 0
