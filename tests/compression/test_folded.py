"""Folded inference: plain torch layers that predict what the estimators predict."""

import importlib.util
from functools import cache

import numpy as np
import pytest
import torch
from _outputs import main_output
from torch import nn

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from sbt_sklearn.compression import FoldedSBT, fold_network
from sbt_sklearn.nn import SBTClassificationNet, SBTLastStepNet, SparseBinaryLinear

TINY = dict(d=8, n_heads=2, n_layers=2, d_ff=16, max_epochs=1, random_state=0)
HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


@cache
def _X():
    return np.random.default_rng(0).normal(size=(20, 3, 12)).astype(np.float32) * 3.0 + 5.0


@cache
def fitted(kind, **extra):
    X = _X()
    if kind == "classifier":
        return SBTClassifier(**TINY, **extra).fit(X, (X[:, 0, -1] > 5).astype(int))
    if kind == "forecaster":
        return SBTForecaster(**TINY, **extra).fit(X, X[:, :, -1] * 0.5)
    return SBTAnomalyDetector(**TINY, **extra).fit(X)


CASES = [
    ("classifier", {}),
    ("classifier", {"attention": "full", "norm": "layer", "pos_encoding": "learnable"}),
    ("classifier", {"attention": "step_t", "topk_scope": "global", "p": 0.75}),
    ("forecaster", {}),
    ("forecaster", {"target": "relative", "norm": "batch"}),
    ("forecaster", {"target": "value", "binary": False, "p": 0.0, "attention": "full"}),
    ("forecaster", {"target": "value"}),
    ("forecaster", {"target": "delta", "linear_base": None}),
    ("anomaly", {}),
    ("anomaly", {"rarity": "marginal"}),
    ("anomaly", {"target": "reconstruct", "error_weighting": "none", "norm": "layer"}),
]


@pytest.mark.parametrize("kind, extra", CASES)
def test_folded_model_predicts_what_the_estimator_predicts(kind, extra):
    est = fitted(kind, **extra)
    folded = est.export_folded()
    assert isinstance(folded, FoldedSBT)
    X = _X()
    with torch.inference_mode():
        got = folded(torch.from_numpy(X)).numpy()
    want = main_output(est, X)
    assert got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_folded_layers_hold_one_plain_weight_per_layer():
    est = fitted("forecaster")
    folded = est.export_folded()
    kinds = {type(m).__module__.split(".")[0] for m in folded.modules()}
    assert kinds <= {"torch", "sbt_sklearn"}
    assert not any(isinstance(m, SparseBinaryLinear) for m in folded.modules())
    layer = est.module_.encoder.layers[0].lin1
    w = folded.layers[0].lin1.weight
    assert torch.equal(w, layer.effective_weight().detach())
    alpha = layer.alpha()
    values = torch.unique(w.abs())
    assert len(values) == 2 and values[0] == 0 and abs(values[1].item() - alpha) < 1e-6  # {0, alpha}
    assert int((w != 0).sum()) == layer.n_keep
    assert sum(p.numel() for p in folded.parameters() if p.requires_grad) == 0


def test_folded_core_takes_standardised_network_input():
    est = fitted("anomaly")
    core = est.export_folded(transforms=False)
    x = torch.randn(4, est.n_timesteps_, est.n_channels_)
    est.module_.eval()
    with torch.no_grad():
        np.testing.assert_allclose(core(x).numpy(), est.module_(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("attention, norm, channels", [
    ("step_t", "layer", 3), ("step_t", "none", 11), ("step_t", "batch", 3), ("full", "none", 3),
    ("qkv_mask", "batch", 3),
])
@pytest.mark.parametrize("net_cls", [SBTClassificationNet, SBTLastStepNet])
def test_fold_network_matches_the_network(net_cls, attention, norm, channels):
    """Every attention mode; step-T with the first layer folded into the embedding (3 channels <= d)
    and without (11 channels > d)."""
    torch.manual_seed(0)
    net = net_cls(channels, 2, d=8, n_layers=2, d_ff=16, attention=attention, norm=norm, max_len=15, seed=3)
    with torch.no_grad():
        for layer in net.modules():
            if isinstance(layer, nn.BatchNorm1d):
                layer.running_mean.uniform_(-1, 1)
                layer.running_var.uniform_(0.5, 2)
                layer.weight.uniform_(0.5, 2)
                layer.bias.uniform_(-1, 1)
    net.eval()
    x = torch.randn(5, 15, channels)
    folded = fold_network(net)
    assert folded.fuse_first == (attention == "step_t" and channels <= 8)
    with torch.no_grad():
        np.testing.assert_allclose(folded(x).numpy(), net(x).numpy(), atol=1e-5)


def test_step_t_fast_path_equals_the_explicitly_masked_attention():
    net = SBTLastStepNet(3, 3, d=8, n_layers=2, d_ff=16, attention="step_t", seed=1).eval()
    folded = fold_network(net)
    for layer in net.encoder.layers:
        layer.attn.fast_step_t = False  # the reference: full w x w scores with the step-T mask
    x = torch.randn(4, 30, 3)
    with torch.no_grad():
        np.testing.assert_allclose(folded(x).numpy(), net(x).numpy(), atol=1e-5)


def test_torch_export_runs_with_torch_alone(tmp_path):
    est = fitted("forecaster")
    x = torch.from_numpy(_X())
    program = torch.export.export(est.export_folded(), (x,), dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    path = tmp_path / "folded.pt2"
    torch.export.save(program, str(path))
    module = torch.export.load(str(path)).module()
    for batch in (x[:1], x):
        np.testing.assert_allclose(module(batch).numpy(), est.predict(batch.numpy()), rtol=1e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_export_runs_with_torch_alone(tmp_path):
    est = fitted("anomaly", rarity="marginal")  # the rarity term too
    path = tmp_path / "folded.pt"
    torch.jit.script(est.export_folded()).save(str(path))
    scripted = torch.jit.load(str(path))
    X = _X()
    np.testing.assert_allclose(scripted(torch.from_numpy(X)).numpy(), est.score_samples(X), rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not HAS_ONNX, reason="needs the optional onnx and onnxruntime packages")
@pytest.mark.parametrize("kind, extra", [("classifier", {}), ("forecaster", {}), ("anomaly", {}),
                                         ("anomaly", {"rarity": "marginal"})])
def test_onnx_export_checked_with_onnxruntime(kind, extra, tmp_path):
    import onnx
    import onnxruntime

    est = fitted(kind, **extra)
    path = est.export_onnx(tmp_path / "model.onnx")
    onnx.checker.check_model(onnx.load(path))
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    X = _X()
    for batch in (X[:1], X):
        (got,) = session.run(None, {"x": batch})
        np.testing.assert_allclose(got, main_output(est, batch), rtol=1e-5, atol=1e-5)
