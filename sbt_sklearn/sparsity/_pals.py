"""PALS: the sparsity level chosen during training (Atashgahi et al., ECML-PKDD 2024).

Every ``interval`` training steps the controller reads the validation loss ``L`` and decides:

* **shrink** when the sparsity is below the floor, or when ``L <= lambda * L_best`` and ``S < S_max``;
* **expand** when ``L > lambda * L_best`` and ``S > S_best`` (sparser than the best model so far);
* **stable** otherwise.

``L_best`` and ``S_best`` are updated after the decision with the sparsity measured before it, as in
the authors' code. The update size is ``zeta_t * (gamma - 1)`` of the kept fraction, with ``zeta_t``
decayed by a cosine from 0.5 to 0.005 over training, and decisions stop after two thirds of training.

For sparse-binary models (PALS-Biprop, the proposal of algorithms.md C.3) the controller owns the
prune rate ``p`` of every Biprop layer: Biprop's per-forward top-k already performs PALS's prune/regrow
swap at a fixed density, so only the density needs to move. For FP32 models :func:`dense_pals_update_`
applies the published per-layer magnitude pruning and gradient regrowth.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

__all__ = ["PALSController", "PALSDecision", "pals_zeta", "dense_pals_update_"]


def pals_zeta(step: int, total_steps: int, start: float = 0.5, end: float = 0.005) -> float:
    """Cosine-decayed update size: ``start`` at step 0, ``end`` at ``total_steps``.

    Examples
    --------
    >>> from sbt_sklearn.sparsity import pals_zeta
    >>> pals_zeta(0, 100), round(pals_zeta(50, 100), 4), pals_zeta(100, 100)
    (0.5, 0.2525, 0.005)
    """
    frac = min(max(step / max(total_steps, 1), 0.0), 1.0)
    return end + (start - end) * (1.0 + math.cos(math.pi * frac)) / 2.0


@dataclass
class PALSDecision:
    """One PALS decision: when, at which sparsity, with which validation loss, and what it did."""

    step: int
    p: float
    val_loss: float
    decision: str
    p_after: float


class PALSController:
    """Adapt the prune rate ``p`` from the validation loss (PALS).

    Parameters
    ----------
    p_init : float
        Starting prune rate (sparsity) of the controlled layers.
    total_steps : int
        Number of training steps of the whole fit (``T``).
    pals_lambda : float, default=1.1
        Loss tolerance: shrink while ``L <= pals_lambda * L_best``.
    pals_gamma : float, default=1.1
        Rate factor: each decision moves the kept fraction by ``zeta_t * (pals_gamma - 1)``.
    interval : int, default=20
        Training steps between decisions.
    p_floor : float, default=0.2
        Below this sparsity the controller always shrinks (PALS's forced floor).
    p_max : float, default=0.9
        Highest sparsity reached by shrinking.
    stop_fraction : float, default=2/3
        Fraction of training after which the sparsity no longer changes.

    Attributes
    ----------
    p : float
        Current prune rate.
    best_loss, best_p : float
        Best validation loss seen and the sparsity it was measured at.
    history : list of PALSDecision
        Every decision in order.

    Examples
    --------
    >>> from sbt_sklearn.sparsity import PALSController
    >>> ctl = PALSController(p_init=0.5, total_steps=300)
    >>> ctl.step(20, val_loss=1.0).decision   # first loss: within tolerance of itself -> shrink
    'shrink'
    >>> round(ctl.p, 4)
    0.5247
    """

    def __init__(self, p_init, total_steps, *, pals_lambda=1.1, pals_gamma=1.1, interval=20, p_floor=0.2,
                 p_max=0.9, stop_fraction=2 / 3):
        if not 0.0 <= p_init <= 1.0:
            raise ValueError(f"p_init must be in [0, 1], got {p_init}")
        if pals_lambda < 1.0 or pals_gamma <= 1.0:
            raise ValueError("pals_lambda must be >= 1 and pals_gamma > 1")
        self.p = float(p_init)
        self.total_steps = int(total_steps)
        self.pals_lambda, self.pals_gamma = float(pals_lambda), float(pals_gamma)
        self.interval, self.p_floor, self.p_max = int(interval), float(p_floor), float(p_max)
        self.stop_step = int(stop_fraction * self.total_steps)
        self.best_loss = math.inf
        self.best_p = float(p_init)
        self.history: list[PALSDecision] = []

    def due(self, step: int) -> bool:
        """True when a decision (or, after the stop, an evaluation) is due at training step ``step``."""
        return step > 0 and step % self.interval == 0

    def step(self, step: int, val_loss: float) -> PALSDecision:
        """Decide shrink / expand / stable from ``val_loss`` at training step ``step``; update ``p``."""
        val_loss = float(val_loss)
        if not math.isfinite(val_loss):
            val_loss = math.inf
        p_before = self.p
        if step >= self.stop_step:
            decision = "frozen"
        else:
            zeta = pals_zeta(step, self.total_steps)
            rate = zeta * (self.pals_gamma - 1.0)
            keep = 1.0 - self.p
            tolerant = val_loss <= self.pals_lambda * self.best_loss
            if self.p < self.p_floor or (tolerant and self.p < self.p_max):
                decision = "shrink"
                self.p = min(self.p_max, 1.0 - keep * (1.0 - rate))
            elif not tolerant and self.p > self.best_p:
                decision = "expand"
                # grow density, but never beyond the density of the best model so far
                self.p = max(self.best_p, 1.0 - min(1.0, keep * (1.0 + rate)))
            else:
                decision = "stable"
        if val_loss < self.best_loss:
            self.best_loss, self.best_p = val_loss, p_before
        record = PALSDecision(step, p_before, val_loss, decision, self.p)
        self.history.append(record)
        return record

    def state_dict(self) -> dict:
        """Everything needed to resume the controller."""
        state = {k: v for k, v in vars(self).items() if k != "history"}
        state["history"] = [asdict(h) for h in self.history]
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        for k, v in state.items():
            if k != "history":
                setattr(self, k, v)
        self.history = [PALSDecision(**h) for h in state.get("history", [])]


@torch.no_grad()
def dense_pals_update_(weight: torch.Tensor, mask: torch.Tensor, grad: torch.Tensor | None, decision: str,
                       zeta: float, gamma: float) -> torch.Tensor:
    """Published PALS prune/regrow of one FP32 weight tensor (in place on ``mask`` and ``weight``).

    shrink removes ``ceil(zeta*gamma*n)`` of the ``n`` active weights with the smallest ``|W|`` and
    regrows ``int(r/gamma)``; stable removes and regrows ``ceil(zeta*n)``; expand removes
    ``ceil(zeta*n)`` and regrows ``int(r*gamma)`` (at most the number of inactive weights). Regrown
    entries are the inactive ones after the prune (just-pruned ones included, as in the authors' code)
    with the largest ``|grad|`` (RigL), random if no gradient is given, and start at zero. The net
    change of the active count is ``-zeta*(gamma-1)*n`` (shrink), 0 (stable), ``+zeta*(gamma-1)*n``
    (expand). Returns the updated boolean mask.
    """
    if decision not in ("shrink", "stable", "expand"):
        return mask
    flat_mask, flat_w = mask.view(-1), weight.view(-1)
    n_active = int(flat_mask.sum())
    if n_active == 0:
        return mask
    if decision == "shrink":
        removed = math.ceil(zeta * gamma * n_active)
        regrow = int(removed / gamma)
    elif decision == "expand":
        removed = math.ceil(zeta * n_active)
        regrow = int(removed * gamma)
    else:
        removed = regrow = math.ceil(zeta * n_active)
    removed = min(removed, n_active - 1)  # keep at least one weight
    if removed > 0:
        magnitude = flat_w.abs().masked_fill(~flat_mask, math.inf)
        drop = torch.topk(magnitude, removed, largest=False).indices
        flat_mask[drop] = False
    candidates = ~flat_mask  # every inactive entry, the ones just pruned included (as RigL/PALS code)
    regrow = min(regrow, int(candidates.sum()))
    if regrow > 0:
        if grad is not None:
            score = grad.view(-1).abs().masked_fill(~candidates, -1.0)
        else:
            score = torch.rand_like(flat_w).masked_fill(~candidates, -1.0)
        grow = torch.topk(score, regrow).indices
        flat_mask[grow] = True
        flat_w[grow] = 0.0
    return mask
