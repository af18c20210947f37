"""Encoder and task networks: padding invariance, determinism, global top-k, norms."""

import subprocess
import sys
import textwrap

import pytest
import torch

from sbt_sklearn.nn import SBTClassificationNet, SBTEncoder, SBTLastStepNet, sparse_layers
from sbt_sklearn.sparsity import n_kept


def _padded_batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 12, 3, generator=g)
    pad = torch.zeros(4, 12, dtype=torch.bool)
    pad[0, 7:] = True
    pad[2, 10:] = True
    return x, pad


@pytest.mark.parametrize("attention", ["full", "qkv_mask"])
@pytest.mark.parametrize("norm", ["batch", "layer", "none"])
@pytest.mark.parametrize("training", [True, False])
def test_padded_positions_cannot_change_the_output(attention, norm, training):
    net = SBTClassificationNet(3, 5, d=16, n_heads=2, n_layers=2, d_ff=32, attention=attention, norm=norm,
                               max_len=12, seed=0)
    net.train(training)
    x, pad = _padded_batch()
    base = net(x, pad)
    y = x.clone()
    y[pad] = torch.randn(int(pad.sum()), 3) * 1e3
    torch.testing.assert_close(net(y, pad), base)
    assert torch.isfinite(base).all()


@pytest.mark.parametrize("attention", ["full", "qkv_mask"])
def test_padded_sample_equals_the_unpadded_sample_in_eval(attention):
    net = SBTClassificationNet(3, 5, d=16, n_layers=2, d_ff=32, attention=attention, max_len=12, seed=1).eval()
    x, pad = _padded_batch()
    with torch.no_grad():
        padded = net(x[:1], pad[:1])
        short = net(x[:1, :7])
    torch.testing.assert_close(padded, short, rtol=1e-5, atol=1e-6)


def test_same_seed_same_model_and_outputs_different_seed_differs():
    kw = dict(d=16, n_layers=2, d_ff=32, attention="step_t", norm="layer")
    a, b, c = (SBTLastStepNet(3, 3, seed=seed, **kw) for seed in (11, 11, 12))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    x = torch.randn(5, 20, 3)
    assert torch.equal(a(x), b(x))
    # every sparse-binary layer draws its own stream (no deep-copied clones)
    weights = [m.weight for m in sparse_layers(a) if m.weight.shape == (16, 16)]
    assert len(weights) == 8
    assert all(not torch.equal(weights[0], w) for w in weights[1:])


def test_global_topk_keeps_the_global_fraction():
    net = SBTClassificationNet(3, 4, d=16, n_layers=2, d_ff=32, p=0.75, attention="full", topk_scope="global")
    net.train()
    net(torch.randn(2, 5, 3))
    layers = sparse_layers(net)
    total = sum(m.weight.numel() for m in layers)
    kept = sum(int(m.mask().sum()) for m in layers)
    assert kept == n_kept(total, 0.75)
    fractions = {round(int(m.mask().sum()) / m.weight.numel(), 3) for m in layers}
    assert len(fractions) > 1  # layers differ, unlike the layerwise default
    all_scores = torch.cat([m.scores.detach().abs().flatten() for m in layers])
    kept_scores = torch.cat([m.scores.detach().abs()[m.mask()] for m in layers])
    assert kept_scores.min() >= torch.topk(all_scores, kept).values[-1]


def test_setting_p_on_the_network_updates_every_layer():
    net = SBTLastStepNet(3, 3, d=16, n_layers=1, d_ff=32, p=0.5)
    net.p = 0.9
    assert all(m.p == 0.9 for m in sparse_layers(net))
    assert all(int(m.mask().sum()) == n_kept(m.weight.numel(), 0.9) for m in sparse_layers(net))


def test_dense_twin_has_only_fp32_parameters_and_biases():
    net = SBTLastStepNet(3, 3, d=16, n_layers=2, d_ff=32, p=0.0, binary=False, attention="full")
    assert all(m.scores is None for m in net.modules() if hasattr(m, "keep_override"))
    assert sparse_layers(net) == []
    names = [n for n, _ in net.named_parameters()]
    assert any(n.endswith("bias") for n in names) and not any(n.endswith("scores") for n in names)


def test_sbt_layer_count_matches_the_paper():
    net = SBTClassificationNet(12, 9, d=32, n_layers=2)
    assert len(sparse_layers(net)) == 2 + 6 * 2  # embedding, decoder, Q K V out lin1 lin2 per layer


def test_learnable_positional_encoding_length_limit():
    enc = SBTEncoder(2, d=8, n_layers=1, d_ff=8, pos_encoding="learnable", max_len=10)
    assert enc(torch.randn(1, 10, 2)).shape == (1, 10, 8)
    with pytest.raises(ValueError, match="exceed"):
        enc(torch.randn(1, 11, 2))


def test_bad_norm_and_scope_are_rejected():
    with pytest.raises(ValueError, match="norm"):
        SBTEncoder(2, d=8, norm="group")
    with pytest.raises(ValueError, match="topk_scope"):
        SBTEncoder(2, d=8, topk_scope="model")


def test_nn_and_sparsity_import_without_sklearn_skorch_sktime():
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"sklearn", "skorch", "sktime"}:
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import torch
        import sbt_sklearn.nn, sbt_sklearn.sparsity
        net = sbt_sklearn.nn.SBTLastStepNet(2, 2, d=8, n_layers=1, d_ff=8)
        net(torch.randn(1, 5, 2)).sum().backward()
        loaded = [m for m in sys.modules if m.split(".")[0] in {"sklearn", "skorch", "sktime"}]
        assert not loaded, loaded
        print("ok")
        """
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"
