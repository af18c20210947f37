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

The Dask layer is in ``_dask.py``, the accelerate layer in ``_accelerated_net.py`` (the skorch
net) and ``_accelerate.py`` (the estimator classes); dask and accelerate themselves are imported
only when they are used.

Do not combine the two (a grid search whose every fit is a multi-process run): sklearn's
meta-estimators copy estimators, and a distributed fit must be entered by all processes.
"""

from ._accelerate import (
    AcceleratedSBTAnomalyDetector,
    AcceleratedSBTClassifier,
    AcceleratedSBTForecaster,
    make_accelerated,
    to_local,
)
from ._accelerated_net import AcceleratedNet
from ._dask import dask_backend, set_torch_threads

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
