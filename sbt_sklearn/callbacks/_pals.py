"""skorch glue for PALS: step the torch-only controller during training."""

from __future__ import annotations

import copy
import math

import torch
from skorch.callbacks import Callback

from ..nn import sparse_layers
from ..nn._biprop import SparseBinaryLinear
from ..sparsity import PALSController, dense_pals_update_, pals_zeta

__all__ = ["PALSCallback"]


class PALSCallback(Callback):
    """Adapt the sparsity of the network every ``interval`` training steps with PALS.

    Parameters
    ----------
    valid_dataset : torch Dataset
        Held-out windows whose loss drives the decisions (its batches come from the net's
        ``iterator_valid``); keep it small, it is evaluated at every decision.
    pals_lambda, pals_gamma : float, default=1.1
        Loss tolerance and rate factor (see :class:`~sbt_sklearn.sparsity.PALSController`).
    interval : int, default=20
        Training steps between decisions.
    p_max : float, default=0.9
        Highest sparsity.
    mode : {"biprop", "dense"}, default="biprop"
        ``"biprop"`` moves the prune rate of every sparse-binary layer (PALS-Biprop);
        ``"dense"`` runs the published PALS on FP32 layers (magnitude pruning, gradient regrowth).

    Attributes
    ----------
    controller_ : PALSController
        The controller of the current fit.
    best_p_ : float
        Sparsity of the checkpoint with the best validation loss (restored at the end of training).
    """

    def __init__(self, valid_dataset, *, pals_lambda=1.1, pals_gamma=1.1, interval=20, p_max=0.9, mode="biprop"):
        self.valid_dataset = valid_dataset
        self.pals_lambda = pals_lambda
        self.pals_gamma = pals_gamma
        self.interval = interval
        self.p_max = p_max
        self.mode = mode

    def on_train_begin(self, net, X=None, y=None, **kwargs):  # noqa: D102
        module = net.module_
        n_batches = len(net.get_iterator(X, training=True))
        self.total_steps_ = max(1, net.max_epochs * n_batches)
        if self.mode == "dense":
            self.layers_ = [m for m in module.modules() if isinstance(m, SparseBinaryLinear)]
            for layer in self.layers_:
                layer.enable_prune_mask()
                layer.track_dense_grad = True
            p_init = self._dense_sparsity()
        else:
            self.layers_ = sparse_layers(module)
            p_init = module.p
        self.controller_ = PALSController(
            p_init, self.total_steps_, pals_lambda=self.pals_lambda, pals_gamma=self.pals_gamma,
            interval=self.interval, p_max=self.p_max,
        )
        self.step_ = 0
        self.best_loss_, self.best_p_, self.best_state_ = math.inf, p_init, None

    def _dense_sparsity(self) -> float:
        total = sum(layer.weight.numel() for layer in self.layers_)
        return 1.0 - sum(int(layer.prune_mask.sum()) for layer in self.layers_) / total

    @torch.no_grad()
    def _validation_loss(self, net) -> float:
        module = net.module_
        was_training = module.training
        module.eval()
        total, count = 0.0, 0
        for batch in net.get_iterator(self.valid_dataset, training=False):
            Xi, yi = batch
            y_pred = net.infer(Xi)
            n = len(yi)
            total += float(net.get_loss(y_pred, yi, X=Xi, training=False)) * n
            count += n
        module.train(was_training)
        return total / max(count, 1)

    def on_batch_end(self, net, batch=None, training=None, **kwargs):  # noqa: D102
        if not training:
            return
        self.step_ += 1
        ctl = self.controller_
        if not ctl.due(self.step_):
            return
        loss = self._validation_loss(net)
        if loss < self.best_loss_:  # the model as it is now was measured at the current sparsity
            self.best_loss_, self.best_p_ = loss, ctl.p
            self.best_state_ = copy.deepcopy(net.module_.state_dict())
        record = ctl.step(self.step_, loss)
        if self.mode == "dense":
            zeta = pals_zeta(self.step_, self.total_steps_)
            for layer in self.layers_:
                dense_pals_update_(layer.weight.data, layer.prune_mask, layer.dense_grad, record.decision,
                                   zeta, self.pals_gamma)
            ctl.p = self._dense_sparsity()
            record.p_after = ctl.p
        elif record.decision in ("shrink", "expand"):
            net.module_.p = ctl.p

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        net.history.record("pals_p", self.controller_.p)

    def on_train_end(self, net, **kwargs):  # noqa: D102
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
            if self.mode == "biprop":
                net.module_.p = self.best_p_
        for layer in getattr(self, "layers_", []):
            layer.track_dense_grad = False
            layer.dense_grad = None
        # drop references to data and checkpoints: a pickled model must not carry the windows
        # (a pickled sliding-window view is a full copy) or a second copy of the weights
        self.valid_dataset = None
        self.best_state_ = None
        self.layers_ = []

    def history(self) -> list[dict]:
        """The decisions of the last fit as a list of dicts (step, p, val_loss, decision, p_after)."""
        return [vars(d).copy() for d in self.controller_.history]
