"""SBT estimator classes that train data-parallel through an accelerate ``Accelerator``.

:func:`make_accelerated` builds an estimator class whose skorch net is an
:class:`~sbt_sklearn.distributed.AcceleratedNet` (``_accelerated_net.py``); the three ready-made
classes are built with it, and :func:`to_local` turns a fitted one back into the plain estimator.
accelerate is imported only where it is used (the ``accelerate`` extra).
"""

from __future__ import annotations

import copy
import inspect
import numbers

from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.hf import AccelerateMixin

from ..estimators import SBTAnomalyDetector, SBTClassifier, SBTForecaster
from ._accelerated_net import AcceleratedNet

__all__ = [
    "make_accelerated",
    "AcceleratedSBTClassifier",
    "AcceleratedSBTForecaster",
    "AcceleratedSBTAnomalyDetector",
    "to_local",
]


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
        "__module__": __package__,  # sbt_sklearn.distributed, the public home of the ready-made classes
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
