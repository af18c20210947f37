"""``AcceleratedNet``: a skorch net trained through an accelerate ``Accelerator``, with sharded SBT batches.

accelerate is imported inside the methods that need it (the ``accelerate`` extra).
"""

from __future__ import annotations

import numpy as np
import torch
from skorch import NeuralNet
from skorch.dataset import get_len, unpack_data
from skorch.hf import AccelerateMixin
from skorch.utils import multi_indexing

__all__ = ["AcceleratedNet"]


class _DistributedLoader:
    """Wrap a batch iterator: move batches to the accelerator's device and, for training, keep
    this process's contiguous share of every mini-batch.

    Every process builds the same loader from the same seed, so all see the same batches in the
    same order; process ``r`` of ``w`` keeps the ``r``-th of ``w`` near-equal parts. The global
    batch size stays ``batch_size`` (as accelerate's ``split_batches=True``). Each process's
    loss is scaled by ``w * n_r / n`` (its share ``n_r`` of the ``n`` samples), so that the
    gradients DDP averages equal those of one process on the whole batch, up to float rounding,
    also for uneven shares. A process whose share is empty (a final batch with fewer samples
    than processes) trains on one repeated sample with weight 0: DDP needs every process in
    every step.
    """

    def __init__(self, loader, net, shard: bool):
        self.loader, self.net, self.shard = loader, net, shard

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name):  # dataset, batch_size, ... of the wrapped loader
        if name in ("loader", "net", "shard"):
            raise AttributeError(name)
        return getattr(self.loader, name)

    def __iter__(self):
        from accelerate.utils import send_to_device

        acc = self.net.accelerator
        world, rank, device = acc.num_processes, acc.process_index, acc.device
        try:
            for batch in self.loader:
                if self.shard and world > 1:
                    Xi, yi = unpack_data(batch)
                    n = get_len(Xi)
                    bounds = np.linspace(0, n, world + 1).round().astype(int)
                    lo, hi = int(bounds[rank]), int(bounds[rank + 1])
                    self.net._loss_scale_ = world * (hi - lo) / n
                    part = slice(lo, hi) if hi > lo else slice(0, 1)
                    batch = (multi_indexing(Xi, part), None if yi is None else multi_indexing(yi, part))
                yield send_to_device(batch, device)
        finally:
            self.net._loss_scale_ = 1.0


def _is_prepared_loader(iterator) -> bool:
    try:
        from accelerate.data_loader import DataLoaderDispatcher, DataLoaderShard
    except ImportError:  # pragma: no cover
        return False
    return isinstance(iterator, (DataLoaderShard, DataLoaderDispatcher))


class AcceleratedNet(AccelerateMixin, NeuralNet):
    """skorch :class:`~skorch.NeuralNet` trained through an :class:`accelerate.Accelerator`.

    :class:`skorch.hf.AccelerateMixin` with the adjustments the SBT estimators need:

    * the SBT batch loaders are sharded across processes (see ``_DistributedLoader``) and their
      batches moved to ``accelerator.device`` (accelerate only does this for torch DataLoaders);
    * predictions are computed on a share of every batch per process and gathered, so
      ``predict`` is a collective call: run it on every process;
    * criteria without trainable parameters are not passed to ``accelerator.prepare`` (on CPU,
      accelerate would wrap the parameter-free loss in DistributedDataParallel, which raises);
    * learning-rate schedulers are stepped once per call as in a single-process fit (the global
      batch is split, not multiplied, so the number of optimizer steps does not change).

    Parameters
    ----------
    *args, **kwargs
        As :class:`skorch.NeuralNet`, plus ``accelerator`` (required) and ``unwrap_after_train``
        from :class:`~skorch.hf.AccelerateMixin`. Keep ``device=None``.
    """

    def _initialize_accelerator(self):
        hidden = [name for name in self._criteria
                  if isinstance(getattr(self, name + "_", None), torch.nn.Module)
                  and not any(p.requires_grad for p in getattr(self, name + "_").parameters())]
        criteria = self._criteria
        self._criteria = [name for name in criteria if name not in hidden]
        try:
            super()._initialize_accelerator()
        finally:
            self._criteria = criteria
        for name in hidden:  # class weights and other buffers still belong on the device
            setattr(self, name + "_", getattr(self, name + "_").to(self.accelerator.device))
        return self

    def _initialize_callbacks(self):
        # skorch's PrintLog ignores ``verbose`` for any sink but ``print``; the mixin's "auto" sink
        # (accelerator.print) would log every epoch even with verbose=0
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            self.callbacks__print_log__sink = print
        return super()._initialize_callbacks()

    def on_train_end(self, net, X=None, y=None, **kwargs):  # noqa: D102
        super().on_train_end(net, X=X, y=y, **kwargs)
        if self.unwrap_after_train:
            self._release_optimizers()
        return self

    def _release_optimizers(self) -> None:
        """Unwrap the optimizers too and drop the accelerator's references to them.

        The mixin unwraps modules only; an ``AcceleratedOptimizer`` (referenced by the net, its
        learning-rate scheduler and the accelerator) cannot be pickled, so neither could the
        fitted estimator.
        """
        from accelerate.optimizer import AcceleratedOptimizer

        inner = {}
        for name in self._optimizers:
            optimizer = getattr(self, name + "_", None)
            if isinstance(optimizer, AcceleratedOptimizer):
                inner[id(optimizer)] = optimizer.optimizer
                setattr(self, name + "_", optimizer.optimizer)
        for _, callback in self.callbacks_:
            scheduler = getattr(callback, "lr_scheduler_", None)
            if id(getattr(scheduler, "optimizer", None)) in inner:
                scheduler.optimizer = inner[id(scheduler.optimizer)]
        acc = self.accelerator
        acc._optimizers = [o for o in getattr(acc, "_optimizers", []) if id(o) not in inner]
        ours = {id(getattr(self, name + "_", None)) for name in self._modules + self._criteria}
        acc._models = [m for m in getattr(acc, "_models", [])
                       if id(m) not in ours and id(getattr(m, "module", None)) not in ours]

    def get_iterator(self, dataset, training=False):  # noqa: D102
        iterator = super().get_iterator(dataset, training=training)
        if _is_prepared_loader(iterator):
            return iterator
        return _DistributedLoader(iterator, self, shard=training)

    def get_loss(self, y_pred, y_true, X=None, training=False):  # noqa: D102
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        scale = getattr(self, "_loss_scale_", 1.0)
        return loss * scale if training and scale != 1.0 else loss

    def evaluation_step(self, batch, training=False):  # noqa: D102
        world = self.accelerator.num_processes
        if world == 1:
            from accelerate.utils import send_to_device

            return NeuralNet.evaluation_step(self, send_to_device(batch, self.accelerator.device), training=training)
        from accelerate.utils import recursively_apply, send_to_device

        Xi, _ = unpack_data(batch)
        Xi = send_to_device(Xi, self.accelerator.device)  # batches that did not come from get_iterator
        n = get_len(Xi)
        size = -(-n // world)
        start = self.accelerator.process_index * size
        # equal-sized shares (all_gather needs them); indices past the end repeat the last row
        idx = torch.arange(start, start + size).clamp(max=n - 1)
        output = NeuralNet.evaluation_step(self, (multi_indexing(Xi, idx), None), training=training)
        output = self.accelerator.gather(output)
        return recursively_apply(lambda t: t[:n], output)
