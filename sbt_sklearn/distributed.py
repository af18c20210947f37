"""Scale-out: hyperparameter search on a Dask cluster, data-parallel training with accelerate.

Two independent layers, as skorch recommends:

* **Many fits at once** (hyperparameter search, cross-validation): scikit-learn already runs
  the fits of :class:`~sklearn.model_selection.GridSearchCV` through joblib, and joblib can hand
  them to a Dask cluster. :func:`dask_backend` starts (or reuses) a ``dask.distributed`` client,
  limits torch to one thread per worker and activates joblib's ``"dask"`` backend. Needs the
  ``dask`` extra (``pip install "sbt-sklearn[dask]"``).
* **One fit on many devices** (data parallel): :func:`make_accelerated` turns any SBT estimator
  class into one whose skorch net uses :class:`skorch.hf.AccelerateMixin` with an
  :class:`accelerate.Accelerator`. Launch the same script once per device with
  ``accelerate launch`` or ``torchrun``; every process gets a shard of every mini-batch, DDP
  averages the gradients, and predictions are gathered on every process.
  :class:`AcceleratedSBTClassifier`, :class:`AcceleratedSBTForecaster` and
  :class:`AcceleratedSBTAnomalyDetector` are the ready-made classes. Needs the ``accelerate``
  extra.

Do not combine the two (a grid search whose every fit is a multi-process run): sklearn's
meta-estimators copy estimators, and a distributed fit must be entered by all processes.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import numbers

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.dataset import get_len, unpack_data
from skorch.hf import AccelerateMixin
from skorch.utils import multi_indexing

from .estimators import SBTAnomalyDetector, SBTClassifier, SBTForecaster

__all__ = [
    "dask_backend",
    "set_torch_threads",
    "AcceleratedNet",
    "make_accelerated",
    "AcceleratedSBTClassifier",
    "AcceleratedSBTForecaster",
    "AcceleratedSBTAnomalyDetector",
    "to_local",
]


# ---------------------------------------------------------------------------------------------
# Dask
# ---------------------------------------------------------------------------------------------
def _set_threads(n: int) -> int:
    torch.set_num_threads(n)
    return torch.get_num_threads()


def set_torch_threads(client, n_threads: int = 1) -> dict:
    """Set the number of torch intra-op threads on every worker of a Dask client.

    A Dask worker that runs several fits side by side, or several workers on one machine, each
    using all cores, oversubscribe the CPU; one thread per task is usually fastest.

    Parameters
    ----------
    client : dask.distributed.Client
        Connected client.
    n_threads : int, default=1
        Threads per worker process.

    Returns
    -------
    threads : dict
        Worker address -> thread count now in effect.
    """
    return client.run(_set_threads, int(n_threads))


@contextlib.contextmanager
def dask_backend(client=None, *, torch_threads: int | None = 1, n_workers: int = 2, threads_per_worker: int = 1,
                 **cluster_kwargs):
    """Run joblib-parallel scikit-learn code on a Dask cluster.

    Inside the ``with`` block, every ``n_jobs`` loop of scikit-learn (``GridSearchCV``,
    ``RandomizedSearchCV``, ``cross_validate``, ...) sends its fits to the cluster. Results are
    identical to a local run with the same ``random_state`` (each fit is seeded by the
    estimator's parameters, not by where it runs), provided the local run also uses
    ``torch_threads`` threads.

    Parameters
    ----------
    client : dask.distributed.Client or None, default=None
        An existing client (a real cluster). None starts a
        :class:`~dask.distributed.LocalCluster` bound to 127.0.0.1 without a dashboard, and
        closes it on exit, also when the block raises.
    torch_threads : int or None, default=1
        torch threads on every worker (see :func:`set_torch_threads`); None leaves them alone.
    n_workers, threads_per_worker : int, default=2, 1
        Size of the local cluster (ignored with ``client``). Worker processes, not threads:
        torch training holds the GIL for part of every step.
    **cluster_kwargs
        More :class:`~dask.distributed.LocalCluster` arguments (ignored with ``client``).

    Yields
    ------
    client : dask.distributed.Client
        The client in use.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sbt_sklearn import SBTClassifier
    >>> from sbt_sklearn.distributed import dask_backend
    >>> search = GridSearchCV(SBTClassifier(max_epochs=5, random_state=0),
    ...                       {"p": [0.25, 0.5, 0.75], "d": [16, 32]}, cv=3, n_jobs=-1)
    >>> with dask_backend(n_workers=2):  # doctest: +SKIP
    ...     search.fit(X, y)
    """
    try:
        import joblib
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('dask_backend needs dask.distributed: pip install "sbt-sklearn[dask]"') from exc

    with contextlib.ExitStack() as stack:
        if client is None:
            options = dict(host="127.0.0.1", n_workers=n_workers, threads_per_worker=threads_per_worker,
                           processes=True, dashboard_address=None)
            options.update(cluster_kwargs)
            cluster = stack.enter_context(LocalCluster(**options))
            client = stack.enter_context(Client(cluster))
        if torch_threads is not None:
            set_torch_threads(client, torch_threads)
        with joblib.parallel_backend("dask"):
            yield client


# ---------------------------------------------------------------------------------------------
# accelerate
# ---------------------------------------------------------------------------------------------
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
        from accelerate.data_loader import DataLoaderShard, DataLoaderDispatcher
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


class _AcceleratedNetDescriptor:
    """``net_`` of an accelerated estimator: every skorch net assigned to it is rebuilt as an
    :class:`AcceleratedNet` with the estimator's accelerator and ``device=None``.

    The value lives in the instance ``__dict__`` under ``net_``, so pickling, ``vars()`` and
    ``check_is_fitted`` see a plain attribute. The rebuild uses skorch's ``get_params``, exactly
    as :func:`sklearn.base.clone` does for skorch nets, so the estimators need no change.
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj, value):
        if isinstance(value, NeuralNet) and not isinstance(value, AccelerateMixin):
            value = _accelerate_net(value, obj._get_accelerator())
        obj.__dict__[self.name] = value

    def __delete__(self, obj):
        del obj.__dict__[self.name]


def _accelerate_net(net: NeuralNet, accelerator) -> AcceleratedNet:
    if getattr(net, "initialized_", False):
        raise ValueError("cannot accelerate an initialized skorch net")
    params = net.get_params(deep=False)
    params.update(device=None, accelerator=accelerator)
    return AcceleratedNet(**params)


class _AcceleratedEstimatorMixin:
    """Methods shared by the classes that :func:`make_accelerated` creates."""

    net_ = _AcceleratedNetDescriptor()

    def _get_accelerator(self):
        """The accelerator of this fit (``accelerator``, or a default one created once)."""
        if self.accelerator is not None:
            self.accelerator_ = self.accelerator
        elif getattr(self, "accelerator_", None) is None:
            from accelerate import Accelerator

            self.accelerator_ = Accelerator()
        return self.accelerator_

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        if self.pals:
            raise ValueError(f"{type(self).__name__} does not support pals=True yet: the PALS callback "
                             "changes the network's prune rate in place, which DistributedDataParallel "
                             "does not forward; train with a fixed p")

    def _seeds(self):
        """As the base class, but every process uses the seed of process 0.

        With an integer ``random_state`` all processes agree already; otherwise process 0 draws
        the seed and broadcasts it, so that all processes shuffle the batches identically.
        """
        acc = self._get_accelerator()
        if acc.num_processes == 1 or isinstance(self.random_state, numbers.Integral):
            return super()._seeds()
        from accelerate.utils import broadcast_object_list

        seed = [int(check_random_state(self.random_state).randint(0, 2**31 - 1))]
        broadcast_object_list(seed, from_process=0)
        random_state, self.random_state = self.random_state, seed[0]
        try:
            return super()._seeds()
        finally:
            self.random_state = random_state


def make_accelerated(estimator_cls: type, name: str | None = None) -> type:
    """A subclass of an SBT estimator class that trains through an accelerate ``Accelerator``.

    The new class takes every parameter of ``estimator_cls`` plus ``accelerator`` (an
    :class:`accelerate.Accelerator`; None creates a default one at fit time). ``device`` is
    ignored: the accelerator places the model. Everything else (``fit``, ``predict``,
    ``score``, ``get_params``, pickling) is unchanged, but in a multi-process run ``fit`` and
    every prediction method are collective: call them on every process with the same data.

    Parameters
    ----------
    estimator_cls : type
        :class:`~sbt_sklearn.SBTClassifier`, :class:`~sbt_sklearn.SBTForecaster`,
        :class:`~sbt_sklearn.SBTAnomalyDetector` or a subclass of one.
    name : str or None, default=None
        Class name; ``"Accelerated" + estimator_cls.__name__`` by default. To pickle instances,
        bind the class to this name at module level (as the ready-made classes are).

    Returns
    -------
    cls : type
        The accelerated estimator class.

    Notes
    -----
    Each process trains on its share of every mini-batch; DDP averages the gradients, so with
    ``norm="layer"`` (or ``"none"``) the model equals a single-process fit up to float
    rounding. With ``norm="batch"`` the normalisation statistics are per process, as in any
    DDP training. PALS (``pals=True``) is not supported yet.

    Examples
    --------
    A script ``train.py`` started with ``accelerate launch --num_processes 2 train.py`` (or
    ``torchrun --nproc_per_node 2 train.py``)::

        from accelerate import Accelerator
        from sbt_sklearn.distributed import AcceleratedSBTClassifier, to_local

        clf = AcceleratedSBTClassifier(accelerator=Accelerator(), p=0.5, random_state=0)
        clf.fit(X_train, y_train)              # every process, same data
        proba = clf.predict_proba(X_test)      # every process; gathered
        if clf.accelerator_.is_main_process:
            to_local(clf).save("model.sbt")    # a plain SBTClassifier
    """
    if not isinstance(estimator_cls, type) or not hasattr(estimator_cls, "_train"):
        raise TypeError(f"estimator_cls must be an SBT estimator class, got {estimator_cls!r}")
    name = name or f"Accelerated{estimator_cls.__name__}"
    base_init = estimator_cls.__init__
    signature = inspect.signature(base_init)
    params = list(signature.parameters.values())
    accelerator_param = inspect.Parameter("accelerator", inspect.Parameter.KEYWORD_ONLY, default=None)
    new_signature = signature.replace(parameters=[*params, accelerator_param])

    def __init__(self, *, accelerator=None, **kwargs):
        base_init(self, **kwargs)
        self.accelerator = accelerator

    __init__.__signature__ = new_signature
    __init__.__doc__ = base_init.__doc__
    namespace = {
        "__init__": __init__,
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": (f"{estimator_cls.__name__} trained through an ``accelerate.Accelerator`` "
                    f"(see :func:`sbt_sklearn.distributed.make_accelerated`).\n\n"
                    f"Parameters\n----------\n"
                    f"accelerator : accelerate.Accelerator or None, default=None\n"
                    f"    The accelerator; None creates ``Accelerator()`` in ``fit``.\n"
                    f"**params\n    Every parameter of :class:`~sbt_sklearn.{estimator_cls.__name__}`.\n"),
        "_parameter_constraints": {**estimator_cls._parameter_constraints, "accelerator": "no_validation"},
        "_local_class": estimator_cls,
    }
    return type(name, (_AcceleratedEstimatorMixin, estimator_cls), namespace)


AcceleratedSBTClassifier = make_accelerated(SBTClassifier)
AcceleratedSBTForecaster = make_accelerated(SBTForecaster)
AcceleratedSBTAnomalyDetector = make_accelerated(SBTAnomalyDetector)


def to_local(estimator):
    """A plain (single-process, CPU) copy of a fitted accelerated estimator.

    Use it on the main process after a distributed fit to save, pickle or serve the model
    without accelerate: the result is an instance of the original class
    (e.g. :class:`~sbt_sklearn.SBTClassifier`) with the same parameters, fitted attributes,
    weights and training history, and a plain skorch ``NeuralNet`` on the CPU.

    Parameters
    ----------
    estimator : estimator created by :func:`make_accelerated`
        Fitted.

    Returns
    -------
    local : estimator
        The single-process copy.
    """
    local_cls = getattr(type(estimator), "_local_class", None)
    if local_cls is None:
        raise TypeError(f"{type(estimator).__name__} is not an accelerated SBT estimator")
    net = estimator.net_  # raises AttributeError when not fitted
    params = {k: v for k, v in estimator.get_params(deep=False).items() if k != "accelerator"}
    params["device"] = "cpu"
    local = local_cls(**params)
    for key, value in vars(estimator).items():  # fitted state (public or private), not parameters
        if key not in params and key not in ("accelerator", "net_", "accelerator_", "history_"):
            local.__dict__[key] = copy.deepcopy(value)

    net_params = {k: v for k, v in net.get_params(deep=False).items()
                  if k not in ("accelerator", "unwrap_after_train", "callbacks__print_log__sink")}
    net_params["device"] = "cpu"
    plain = NeuralNet(**net_params)
    plain.initialize()
    module = estimator.accelerator_.unwrap_model(net.module_) if hasattr(estimator, "accelerator_") else net.module_
    plain.module_.load_state_dict({k: v.detach().cpu() for k, v in module.state_dict().items()})
    for attr in ("p",):  # plain attributes of the network that a fit may change
        if hasattr(module, attr):
            setattr(plain.module_, attr, getattr(module, attr))
    plain.history = copy.deepcopy(net.history)
    plain.train_split = None
    local.net_ = plain
    local.history_ = plain.history
    return local
