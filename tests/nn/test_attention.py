"""Attention modes: the fast step-T path equals the explicit masked computation; Q/K/V masks."""

import math

import pytest
import torch

from sbt_sklearn.nn import SBTLastStepNet, SparseMultiheadAttention, qkv_activation_masks, step_t_mask


def test_step_t_mask_layout():
    m = step_t_mask(4)
    expected = torch.tensor(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [1, 1, 1, 0]], dtype=torch.bool
    )
    assert torch.equal(m, expected)


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def _assert_same_grads(g_fast, g_slow):
    """The same parameters got gradients, and the same gradients."""
    assert g_fast.keys() == g_slow.keys() and g_fast
    for name in g_fast:
        torch.testing.assert_close(g_fast[name], g_slow[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("binary", [True, False])
def test_fast_step_t_attention_equals_masked(binary):
    torch.manual_seed(0)
    attn = SparseMultiheadAttention(12, 3, mode="step_t", p=0.5, binary=binary, seed=4)
    x = torch.randn(5, 9, 12, requires_grad=True)
    r = torch.randn(5, 9, 12)
    out_fast = attn(x)
    (out_fast * r).sum().backward()
    g_fast, gx_fast = _grads(attn), x.grad.clone()
    attn.zero_grad()
    x.grad = None
    attn.fast_step_t = False
    out_slow = attn(x)
    (out_slow * r).sum().backward()
    torch.testing.assert_close(out_fast, out_slow, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x.grad, gx_fast, rtol=1e-5, atol=1e-6)
    g_slow = _grads(attn)
    _assert_same_grads(g_fast, g_slow)


@pytest.mark.parametrize("n_layers", [1, 2])
def test_fast_step_t_encoder_equals_masked_full_computation(n_layers):
    torch.manual_seed(1)
    net = SBTLastStepNet(4, 4, d=16, n_heads=2, n_layers=n_layers, d_ff=24, p=0.5, norm="layer", seed=7)
    x = torch.randn(6, 15, 4)
    r = torch.randn(6, 4)
    out_fast = net(x)  # fast path, final layer for the last step only
    (out_fast * r).sum().backward()
    g_fast = _grads(net)

    net.zero_grad()
    for m in net.modules():
        if isinstance(m, SparseMultiheadAttention):
            m.fast_step_t = False
    z = net.encoder(x, last_only=False)  # every step, explicit (T, T) mask
    out_slow = net.decoder(z[:, -1])
    (out_slow * r).sum().backward()
    g_slow = _grads(net)
    torch.testing.assert_close(out_fast, out_slow, rtol=1e-5, atol=1e-6)
    _assert_same_grads(g_fast, g_slow)


def test_past_steps_only_see_themselves_and_last_step_sees_no_self():
    attn = SparseMultiheadAttention(8, 2, mode="step_t", seed=0).eval()
    x = torch.randn(2, 6, 8)
    with torch.no_grad():
        base = attn(x)
        y = x.clone()
        y[:, 2] += 5.0  # change one past step
        out = attn(y)
        changed = (out - base).abs().amax(dim=(0, 2)) > 0
        assert changed.tolist() == [False, False, True, False, False, True]
        y = x.clone()
        y[:, -1] += 5.0  # change the last step: its own query changes, no key/value of it is used
        out = attn(y)
        torch.testing.assert_close(out[:, :-1], base[:, :-1])


def test_step_t_with_one_step_outputs_zero_attention():
    attn = SparseMultiheadAttention(8, 2, mode="step_t", binary=False, p=0.0, seed=0)
    torch.nn.init.zeros_(attn.out_proj.bias)
    x = torch.randn(3, 1, 8)
    fast = attn(x)
    attn.fast_step_t = False
    slow = attn(x)
    assert torch.equal(fast, torch.zeros_like(fast)) and torch.equal(slow, fast)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_qkv_masks_exact_rate_and_prefix_stable(p):
    head_dim = 16
    m = qkv_activation_masks(40, head_dim, 1 - p, seed=3)
    assert m.shape == (3, 40, head_dim) and m.dtype == torch.bool
    assert (m.sum(-1) == round((1 - p) * head_dim)).all()
    assert not torch.equal(m[0], m[1])  # independent masks for Q, K and V
    longer = qkv_activation_masks(60, head_dim, 1 - p, seed=3)
    assert torch.equal(longer[:, :40], m)


def test_qkv_mask_is_shared_by_heads_and_applied_to_activations():
    torch.manual_seed(0)
    attn = SparseMultiheadAttention(12, 3, mode="qkv_mask", p=0.5, max_len=10, seed=1)
    x = torch.randn(4, 10, 12)
    q, k, v = attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)
    mask = attn.qkv_mask.float()  # (3, T, d'): no head axis, so every head gets the same mask
    assert mask.shape == (3, 10, 4)

    def heads(t, m):  # (B, T, d) -> (B, h, T, d') with the same (T, d') mask for each head
        return t.view(4, 10, 3, 4).transpose(1, 2) * m

    qh, kh, vh = heads(q, mask[0]), heads(k, mask[1]), heads(v, mask[2])
    w = torch.softmax(qh @ kh.transpose(-1, -2) / math.sqrt(4), dim=-1)
    expected = attn.out_proj((w @ vh).transpose(1, 2).reshape(4, 10, 12))
    torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-6)


def test_qkv_masks_survive_state_dict_round_trip_and_extension():
    a = SparseMultiheadAttention(8, 2, mode="qkv_mask", p=0.5, max_len=10, seed=1)
    a(torch.randn(1, 25, 8))  # a longer input extends the masks
    assert a.qkv_mask.shape == (3, 25, 4)
    state = a.state_dict()
    assert "qkv_mask" in state
    b = SparseMultiheadAttention(8, 2, mode="qkv_mask", p=0.5, max_len=10, seed=99)
    b.load_state_dict(state)
    assert torch.equal(a.qkv_mask, b.qkv_mask)
    x = torch.randn(2, 25, 8)
    torch.testing.assert_close(a(x), b(x))


def test_key_padding_is_never_attended():
    attn = SparseMultiheadAttention(8, 2, mode="full", seed=0)
    x = torch.randn(2, 7, 8)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[0, 5:] = True
    base = attn(x, pad)
    y = x.clone()
    y[0, 5:] = torch.randn(2, 8) * 100
    out = attn(y, pad)
    torch.testing.assert_close(out[0, :5], base[0, :5])
    torch.testing.assert_close(out[1], base[1])


def test_invalid_configuration_errors():
    with pytest.raises(ValueError, match="divisible"):
        SparseMultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="attention mode"):
        SparseMultiheadAttention(8, 2, mode="sparse")


@pytest.mark.parametrize("n_layers", [1, 2])
def test_multi_query_fast_path_equals_masked_full_computation(n_layers):
    """H query rows: the fast path (final layer for the queries only) equals the explicit
    (T, T) step-T mask over every row, in outputs and in every gradient."""
    torch.manual_seed(2)
    h = 3
    net = SBTLastStepNet(4, 4, d=16, n_heads=2, n_layers=n_layers, d_ff=24, p=0.5, norm="layer", seed=7,
                         n_queries=h, output_gate=True)
    x = torch.randn(6, 15, 4, requires_grad=True)
    r = torch.randn(6, h, 4)
    out_fast = net(x)
    assert out_fast.shape == (6, h, 4)
    (out_fast * r).sum().backward()
    g_fast, gx_fast = _grads(net), x.grad.clone()

    net.zero_grad()
    x.grad = None
    for m in net.modules():
        if isinstance(m, SparseMultiheadAttention):
            m.fast_step_t = False
    z = net.encoder(x, last_only=False, n_queries=h)  # every row, explicit mask
    out_slow = net.decoder(z[:, -h:]) * net.output_gate
    (out_slow * r).sum().backward()
    torch.testing.assert_close(out_fast, out_slow, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(x.grad, gx_fast, rtol=1e-5, atol=1e-6)
    g_slow = _grads(net)
    _assert_same_grads(g_fast, g_slow)


def test_queries_see_every_past_row_and_no_query():
    attn = SparseMultiheadAttention(8, 2, mode="step_t", seed=0).eval()
    x = torch.randn(2, 7, 8)
    with torch.no_grad():
        base = attn(x, n_queries=3)
        for row, expected in ((1, [False, True, False, False, True, True, True]),
                              (5, [False, False, False, False, False, True, False])):
            y = x.clone()
            y[:, row] += 5.0
            changed = ((attn(y, n_queries=3) - base).abs().amax(dim=(0, 2)) > 0).tolist()
            assert changed == expected, row
        assert attn(x, need_past=False, n_queries=3).shape == (2, 3, 8)


def test_unmasked_attention_trains_with_the_fused_kernel_and_infers_with_the_explicit_product():
    # with a gradient to compute, unmasked attention is torch's fused kernel; otherwise the explicit
    # softmax(q k^T / sqrt(d')) v, exactly. Both give the same values and gradients.
    from sbt_sklearn.nn._attention import _attend

    torch.manual_seed(1)
    q, k, v = (torch.randn(3, 2, n, 8, requires_grad=True) for n in (5, 11, 11))
    fused = _attend(q, k, v, None)
    assert fused.grad_fn is not None and "ScaledDotProduct" in type(fused.grad_fn).__name__
    r = torch.randn_like(fused)
    grads_fused = torch.autograd.grad((fused * r).sum(), (q, k, v))
    explicit = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1) @ v
    grads_explicit = torch.autograd.grad((explicit * r).sum(), (q, k, v))
    torch.testing.assert_close(fused, explicit, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_fused, grads_explicit):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        inferred = _attend(q, k, v, None)
    frozen = _attend(q.detach(), k.detach(), v.detach(), None)  # autograd on, nothing to differentiate
    torch.testing.assert_close(inferred, explicit.detach(), rtol=0, atol=0)
    torch.testing.assert_close(frozen, explicit.detach(), rtol=0, atol=0)
