"""Saving and loading fitted SBT estimators: the compact, code-free model file."""

from __future__ import annotations

import warnings
from importlib import import_module
from numbers import Integral

import numpy as np
import torch

from .._version import __version__
from ..compression._format import (
    _READABLE_VERSIONS,
    FORMAT_VERSION,
    SBTFileError,
    decode_json,
    encode_json,
    pack_module,
    read_file_bytes,
    read_model_bytes,
    unpack_module,
    write_file_atomic,
    write_model_bytes,
)

__all__ = ["PersistenceMixin", "SBTFileError"]

#: estimator classes a file may name (resolved in ``sbt_sklearn.estimators``, nothing else)
_ESTIMATORS = ("SBTClassifier", "SBTForecaster", "SBTAnomalyDetector")
#: network classes a file may name (resolved in ``sbt_sklearn.nn``)
_MODULES = ("SBTClassificationNet", "SBTLastStepNet")
#: loss classes a file may name (resolved in ``torch.nn``)
_CRITERIA = ("CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss",
             "BCEWithLogitsLoss", "BCELoss")
#: estimator attributes that are rebuilt rather than stored
_REBUILT = ("net_", "history_")


def _check_device(device) -> str:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return str(dev)


class PersistenceMixin:
    """Mixed into every SBT estimator: ``save`` / ``load`` (and ``to_bytes`` / ``from_bytes``)
    write and read a compact, code-free model file (safetensors + JSON metadata, see
    :mod:`sbt_sklearn.compression._format`)."""

    # -- files ----------------------------------------------------------------------------------
    def _model_file_parts(self, include_scores: bool = False, include_history: bool = False):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        net = self.net_
        module = net.module_
        module_cls = type(module)
        if module_cls.__name__ not in _MODULES or getattr(import_module("sbt_sklearn.nn"),
                                                           module_cls.__name__) is not module_cls:
            raise TypeError(f"cannot save a network of class {module_cls.__name__}; known: {_MODULES}")
        module_kwargs = dict(net.get_params_for("module"))
        crit = net.criterion if isinstance(net.criterion, type) else type(net.criterion)
        if crit.__name__ not in _CRITERIA or getattr(torch.nn, crit.__name__, None) is not crit:
            raise TypeError(f"cannot save a criterion of class {crit.__name__}; known: {_CRITERIA}")
        tensors, crit_kwargs = {}, {}
        for key, value in net.get_params_for("criterion").items():
            if isinstance(value, torch.Tensor):
                tensors[f"criterion.{key}"] = value.detach().cpu().contiguous().numpy()
            else:
                crit_kwargs[key] = value

        params = self.get_params(deep=False)
        if params.get("callbacks"):
            warnings.warn("callbacks cannot be stored in a model file; the loaded estimator has callbacks=None",
                          UserWarning, stacklevel=3)
            params["callbacks"] = None
        rs = params.get("random_state")
        if rs is not None and not (isinstance(rs, Integral) and not isinstance(rs, bool)):
            warnings.warn("a random_state instance cannot be stored; the loaded estimator has random_state=None "
                          "(its fitted model, including seed_, is unaffected)", UserWarning, stacklevel=3)
            params["random_state"] = None
        enc_params = {}
        for key, value in params.items():
            try:
                enc_params[key] = encode_json(value)
            except TypeError as exc:
                raise TypeError(f"cannot store hyperparameter {key}={value!r}: {exc}") from exc

        attributes = {}
        for name, value in vars(self).items():
            if name in params or name in _REBUILT or name.startswith("__"):
                continue
            if isinstance(value, np.ndarray) and value.dtype.kind in "biuf" and value.dtype.byteorder in "=<|":
                tensors[f"attr.{name}"] = np.ascontiguousarray(value)
                continue
            try:
                attributes[name] = encode_json(value)
            except TypeError as exc:
                if name.startswith("_"):
                    warnings.warn(f"private attribute {name!r} is not stored ({exc})", UserWarning, stacklevel=3)
                    continue
                raise TypeError(f"cannot store fitted attribute {name!r}: {exc}") from exc

        history = None
        if include_history and getattr(self, "history_", None) is not None:
            history = encode_json([{k: v for k, v in row.items() if k != "batches"} for row in self.history_])

        fresh = module_cls(**module_kwargs)
        net_meta, net_tensors = pack_module(module, fresh, include_scores=include_scores)
        tensors.update(net_tensors)
        net_meta.update(
            module=module_cls.__name__,
            kwargs=encode_json(module_kwargs),
            criterion=crit.__name__,
            criterion_kwargs=encode_json(crit_kwargs),
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "versions": {"sbt_sklearn": __version__, "torch": torch.__version__.split("+")[0],
                         "numpy": np.__version__},
            "estimator": type(self).__name__,
            "params": enc_params,
            "attributes": attributes,
            "network": net_meta,
        }
        if history is not None:
            meta["history"] = history
        return meta, tensors

    def to_bytes(self, *, include_scores: bool = False, include_history: bool = False) -> bytes:
        """The content :meth:`save` would write, as bytes.

        Parameters
        ----------
        include_scores : bool, default=False
            See :meth:`save`.
        include_history : bool, default=False
            See :meth:`save`.

        Returns
        -------
        bytes
            The model file.

        Examples
        --------
        >>> import numpy as np
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> blob = clf.to_bytes()
        >>> (SBTClassifier.from_bytes(blob).predict(X) == clf.predict(X)).all()
        np.True_
        """
        return write_model_bytes(*self._model_file_parts(include_scores, include_history))

    def save(self, path, *, include_scores: bool = False, include_history: bool = False) -> int:
        """Save the fitted estimator to a compact model file.

        The file is a safetensors file holding one compressed payload: JSON metadata
        (hyperparameters, fitted attributes such as classes, scalers, thresholds and seeds,
        package and format versions, the network) and the tensors. Sparse-binary layers are
        stored as their masks only (packed bits, or entropy coded when that is smaller); their
        frozen random weights are regenerated from the seed when loading and their gains
        recomputed. Norm parameters, biases and FP32 weights are stored as float tensors. A
        SHA-256 digest covers the payload.

        Parameters
        ----------
        path : str or path-like
            Destination (conventionally ``*.sbt``); written atomically.
        include_scores : bool, default=False
            Also store the float32 scores of the sparse layers. A model loaded without them
            predicts exactly the same, but its scores are the 0/1 masks, so further training
            of the loaded ``net_`` would start from flattened scores.
        include_history : bool, default=False
            Also store the per-epoch training history (``history_``, without per-batch rows).

        Returns
        -------
        int
            Number of bytes written.

        Warns
        -----
        UserWarning
            When ``callbacks`` or a ``random_state`` instance cannot be stored (they are saved
            as ``None``).

        See Also
        --------
        load : Read the file back.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.sbt")
        >>> n_bytes = clf.save(path)
        >>> loaded = SBTClassifier.load(path)
        >>> bool((loaded.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        return write_file_atomic(path, self.to_bytes(include_scores=include_scores, include_history=include_history))

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Load an estimator saved with :meth:`save`; runs no code from the file.

        Parameters
        ----------
        path : str or path-like
            The model file.
        device : str or torch.device, default="cpu"
            Where the loaded network lives and predicts; it also becomes the estimator's
            ``device`` hyperparameter. A model trained on a GPU loads on a CPU-only machine.

        Returns
        -------
        estimator
            The fitted estimator, predicting exactly as the saved one (on the same device type).

        Raises
        ------
        SBTFileError
            (a :class:`ValueError`) if the file is truncated, corrupted, modified, of an unknown
            format version, names an unknown class, does not match the network it describes, or
            holds a different estimator class than ``cls``.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> path = os.path.join(tempfile.mkdtemp(), "model.sbt")
        >>> _ = clf.save(path)
        >>> SBTClassifier.load(path).classes_.tolist()
        [False, True]
        """
        device = _check_device(device)  # before reading: a bad device fails fast
        return cls.from_bytes(read_file_bytes(path), device=device)

    @classmethod
    def from_bytes(cls, blob: bytes, *, device="cpu"):
        """Load an estimator from model-file bytes (see :meth:`load`).

        Parameters
        ----------
        blob : bytes
            The content of a model file.
        device : str or torch.device, default="cpu"
            Where the network lives and predicts.

        Returns
        -------
        estimator
            The fitted estimator.

        Examples
        --------
        >>> from sbt_sklearn import SBTClassifier
        >>> try:
        ...     SBTClassifier.from_bytes(b"garbage")
        ... except ValueError as exc:
        ...     print(type(exc).__name__)
        SBTFileError
        """
        device = _check_device(device)
        meta, tensors = read_model_bytes(blob)
        try:
            return cls._from_parts(meta, tensors, device)
        except SBTFileError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError, OverflowError,
                AssertionError) as exc:
            raise SBTFileError(f"invalid model file: {type(exc).__name__}: {exc}") from exc

    @classmethod
    def _resolve_class(cls, name):
        if not isinstance(name, str):
            raise SBTFileError("invalid model file: bad estimator class name")
        if name in _ESTIMATORS:
            est_cls = getattr(import_module("sbt_sklearn.estimators"), name)
            if issubclass(est_cls, cls):
                return est_cls
        if cls.__name__ == name and cls.__name__ not in ("PersistenceMixin", "SBTBase"):
            return cls  # a user subclass, named explicitly by the caller
        if name in _ESTIMATORS:
            raise SBTFileError(f"the file holds an {name}, not an {cls.__name__}; load it with {name}.load")
        raise SBTFileError(f"invalid model file: unknown estimator class {name[:60]!r}; known: {_ESTIMATORS}")

    @classmethod
    def _from_parts(cls, meta, tensors, device):
        from skorch.history import History

        if meta.get("format_version") not in _READABLE_VERSIONS:  # read_model_bytes checked it against the container
            raise SBTFileError("invalid model file: metadata and container disagree on the format version")
        est_cls = cls._resolve_class(meta.get("estimator"))
        params, attributes = meta["params"], meta["attributes"]
        if not isinstance(params, dict) or not isinstance(attributes, dict):
            raise SBTFileError("invalid model file: bad hyperparameters or fitted attributes")
        params = {k: decode_json(v) for k, v in params.items()}
        attributes = {k: decode_json(v) for k, v in attributes.items()}
        known = est_cls().get_params(deep=False)
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise SBTFileError(f"invalid model file: unknown hyperparameters {unknown[:5]} for {est_cls.__name__} "
                               "(saved by a newer sbt_sklearn?)")
        params["device"] = device
        est = est_cls(**params)

        tensor_attrs = [key[len("attr."):] for key in tensors if key.startswith("attr.")]
        for name in list(attributes) + tensor_attrs:
            if not isinstance(name, str) or not name or name in known or name in _REBUILT or name.startswith("__"):
                raise SBTFileError(f"invalid model file: bad attribute name {str(name)[:40]!r}")
        for name, value in attributes.items():
            setattr(est, name, value)
        for name in tensor_attrs:
            setattr(est, name, np.array(tensors[f"attr.{name}"]))

        net_meta = meta["network"]
        if not isinstance(net_meta, dict):
            raise SBTFileError("invalid model file: bad network metadata")
        module_name, crit_name = net_meta.get("module"), net_meta.get("criterion")
        if module_name not in _MODULES:
            raise SBTFileError(f"invalid model file: unknown network class {str(module_name)[:60]!r}")
        if crit_name not in _CRITERIA:
            raise SBTFileError(f"invalid model file: unknown criterion {str(crit_name)[:60]!r}")
        module_cls = getattr(import_module("sbt_sklearn.nn"), module_name)
        crit_cls = getattr(torch.nn, crit_name)
        kwargs = decode_json(net_meta["kwargs"])
        crit_kwargs = decode_json(net_meta["criterion_kwargs"])
        if not isinstance(kwargs, dict) or not isinstance(crit_kwargs, dict):
            raise SBTFileError("invalid model file: bad network arguments")
        for key in tensors:
            if key.startswith("criterion."):
                crit_kwargs[key[len("criterion."):]] = torch.from_numpy(np.array(tensors[key]))
        expected = {f"attr.{n}" for n in tensor_attrs} | {k for k in tensors if k.startswith("criterion.")}
        net_tensors = {k: v for k, v in tensors.items() if k not in expected}
        if any(k.startswith("attr.") for k in net_tensors):
            raise SBTFileError("invalid model file: unexpected attribute tensors")

        est.net_ = est._make_net(module_cls, kwargs, crit_cls, criterion_kwargs=crit_kwargs, device=device)
        est.net_.initialize()
        unpack_module(est.net_.module_, net_meta, net_tensors)
        history = meta.get("history")
        rows = decode_json(history) if history is not None else []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SBTFileError("invalid model file: bad history")
        est.net_.history_ = History(rows)
        est.history_ = est.net_.history_
        return est
