"""PALS controller decisions on crafted loss sequences, and the published dense update."""

import math

import pytest
import torch

from sbt_sklearn.sparsity import PALSController, dense_pals_update_, pals_zeta

T = 300  # total steps; decisions stop at step 200


def _shrunk(p, step, gamma=1.1):
    return 1 - (1 - p) * (1 - pals_zeta(step, T) * (gamma - 1))


def _expanded(p, step, gamma=1.1):
    return 1 - min(1.0, (1 - p) * (1 + pals_zeta(step, T) * (gamma - 1)))


def test_zeta_is_a_cosine_from_half_to_five_thousandths():
    assert pals_zeta(0, T) == 0.5 and pals_zeta(T, T) == 0.005
    values = [pals_zeta(s, T) for s in range(0, T + 1, 10)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert pals_zeta(T // 2, T) == pytest.approx((0.5 + 0.005) / 2)


def test_shrink_while_the_loss_stays_within_tolerance():
    ctl = PALSController(0.5, T)
    d = ctl.step(20, 1.0)  # no best loss yet: always within tolerance
    assert d.decision == "shrink" and ctl.p == pytest.approx(_shrunk(0.5, 20))
    p = ctl.p
    d = ctl.step(40, 1.05)  # worse, but <= 1.1 * best
    assert d.decision == "shrink" and ctl.p == pytest.approx(_shrunk(p, 40))
    assert ctl.best_loss == 1.0 and ctl.best_p == 0.5  # best stays at the first (lower) loss


def test_expand_when_the_loss_degrades_at_a_sparser_level_never_beyond_best_density():
    ctl = PALSController(0.5, T)
    ctl.step(20, 1.0)  # best: loss 1.0 at p=0.5
    ctl.step(40, 1.0)
    p = ctl.p
    assert p > 0.5
    d = ctl.step(60, 2.0)  # much worse than 1.1 * best and sparser than the best level
    assert d.decision == "expand"
    assert ctl.p == pytest.approx(max(0.5, _expanded(p, 60)))
    assert ctl.p >= ctl.best_p
    # an expansion that would overshoot the best density stops exactly at it
    ctl2 = PALSController(0.5, T, pals_gamma=10.0)
    ctl2.step(20, 1.0)  # a huge shrink, clamped at p_max = 0.9
    assert ctl2.p == 0.9
    ctl2.step(40, 5.0)  # kept fraction x (1 + ~4.4): would go far below p=0.5
    assert ctl2.history[-1].decision == "expand" and ctl2.p == 0.5


def test_stable_when_the_loss_degrades_at_or_below_the_best_sparsity():
    ctl = PALSController(0.5, T)
    ctl.step(20, 1.0)
    ctl.p = 0.5  # back at the best level
    d = ctl.step(40, 3.0)
    assert d.decision == "stable" and ctl.p == 0.5


def test_cap_p_max_is_never_exceeded_and_stops_shrinking():
    ctl = PALSController(0.85, T, p_max=0.9, pals_gamma=2.0)
    ctl.step(20, 1.0)
    assert ctl.p == 0.9  # clamped at the cap
    d = ctl.step(40, 0.9)  # within tolerance, but at the cap
    assert d.decision == "stable" and ctl.p == 0.9


def test_floor_forces_shrinking_whatever_the_loss():
    ctl = PALSController(0.1, T)
    ctl.step(20, 1.0)
    p = ctl.p
    d = ctl.step(40, 100.0)  # far worse, but sparsity is below the 0.2 floor
    assert p < 0.2 and d.decision == "shrink" and ctl.p > p


def test_no_change_after_two_thirds_of_training():
    ctl = PALSController(0.5, T)
    assert ctl.stop_step == 200
    ctl.step(180, 1.0)
    p = ctl.p
    for step, loss in [(200, 0.5), (220, 9.0), (300, 0.1)]:
        d = ctl.step(step, loss)
        assert d.decision == "frozen" and ctl.p == p
    assert ctl.best_loss == 0.1  # the best checkpoint is still tracked


def test_best_sparsity_is_the_one_measured_before_the_update():
    ctl = PALSController(0.5, T)
    ctl.step(20, 1.0)
    p_before = ctl.p
    ctl.step(40, 0.5)
    assert ctl.best_p == p_before and ctl.best_loss == 0.5


def test_due_every_interval_and_state_round_trip():
    ctl = PALSController(0.5, T, interval=7)
    assert [s for s in range(1, 30) if ctl.due(s)] == [7, 14, 21, 28]
    for s, loss in [(7, 1.0), (14, 0.9), (21, 2.0)]:
        ctl.step(s, loss)
    other = PALSController(0.2, 10)
    other.load_state_dict(ctl.state_dict())
    assert other.p == ctl.p and other.best_p == ctl.best_p and other.history == ctl.history
    assert [h.decision for h in other.history] == ["shrink", "shrink", "expand"]


def test_same_losses_same_trajectory():
    losses = [1.0, 0.9, 0.95, 1.3, 0.8, 0.85, 2.0, 0.7]
    runs = []
    for _ in range(2):
        ctl = PALSController(0.5, T, interval=20)
        runs.append([(d.decision, d.p_after) for d in (ctl.step(20 * (i + 1), v) for i, v in enumerate(losses))])
    assert runs[0] == runs[1]


def test_invalid_controller_arguments():
    with pytest.raises(ValueError, match="p_init"):
        PALSController(1.5, T)
    with pytest.raises(ValueError, match="pals_gamma"):
        PALSController(0.5, T, pals_gamma=1.0)


@pytest.mark.parametrize("decision, net", [("shrink", -1), ("stable", 0), ("expand", +1)])
def test_dense_update_moves_the_active_count_by_zeta_gamma(decision, net):
    torch.manual_seed(0)
    w = torch.randn(40, 25)
    mask = torch.rand(40, 25) < 0.6
    w[~mask] = 0.0
    grad = torch.randn(40, 25)
    n = int(mask.sum())
    zeta, gamma = 0.3, 1.2
    before = mask.clone()
    dense_pals_update_(w, mask, grad, decision, zeta, gamma)
    if decision == "shrink":
        r = math.ceil(zeta * gamma * n)
        expected = n - r + int(r / gamma)
    elif decision == "expand":
        r = math.ceil(zeta * n)
        expected = n - r + int(r * gamma)
    else:
        expected = n
    assert int(mask.sum()) == expected
    assert (int(mask.sum()) - n) * net >= 0
    grown = mask & ~before
    assert (w[grown] == 0).all()  # regrown weights start at zero
    # the regrown entries have the largest |grad| among the entries left inactive
    if grown.any() and (~mask).any():
        assert grad[grown].abs().min() >= grad[~mask].abs().max()


def test_dense_update_prunes_the_smallest_magnitudes():
    w = torch.tensor([[0.1, -5.0, 0.2, 3.0]])
    mask = torch.ones(1, 4, dtype=torch.bool)
    dense_pals_update_(w, mask, torch.zeros(1, 4), "shrink", zeta=0.5, gamma=1.0 + 1e-9)
    # r = ceil(0.5 * 4) = 2 smallest removed, int(2 / gamma) = 1 regrown among the zeros
    assert int(mask.sum()) == 3 and bool(mask[0, 1]) and bool(mask[0, 3])
