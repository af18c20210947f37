"""Saving and loading fitted SBT estimators: the compact, code-free model file."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib import import_module
from numbers import Integral

import numpy as np
import torch

from .._version import __version__
from ..compression._format import (
    _READABLE_VERSIONS,
    FORMAT_VERSION,
    MAX_JSON_ARRAY_BYTES,
    MAX_JSON_DEPTH,
    ModelFileParts,
    NetworkPlan,
    SBTFileError,
    check_network_tensors,
    decode_json,
    encode_json,
    load_memory_budget,
    pack_module,
    parse_model_bytes,
    plan_network,
    read_file_bytes,
    unpack_module,
    write_file_atomic,
    write_model_bytes,
)
from ._file_attributes import ESTIMATOR_NETWORKS, FILE_ATTRIBUTES, check_file_attributes, listed_estimator
from ._threads import check_n_jobs

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
#: hyperparameters that every estimator passes to its network unchanged (SBTBase._module_kwargs):
#: a file's must equal its network's arguments (inference batches are sized from them)
_NETWORK_PARAMS = ("d", "n_heads", "n_layers", "d_ff", "p", "binary", "attention", "norm", "pos_encoding",
                   "topk_scope")
#: a memory budget that bounds nothing (for save's own check of the file it writes)
_NO_BUDGET = 1 << 62
#: exceptions that a malformed file can raise while an estimator is rebuilt from it (reported
#: as SBTFileError); anything else is a bug
_FILE_DEFECTS = (LookupError, TypeError, ValueError, AttributeError, RuntimeError, ArithmeticError, AssertionError)


def _check_max_memory(max_memory) -> int | None:
    if max_memory is None:
        return None
    if isinstance(max_memory, (bool, np.bool_)) or not isinstance(max_memory, Integral) or max_memory < 0:
        raise ValueError(f"max_memory must be None or a number of bytes >= 0; got {max_memory!r}")
    return int(max_memory)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


@dataclass
class _CheckedFile:
    """Everything a model file says, checked before anything is built (see ``_check_file``)."""

    est_cls: type
    params: dict
    attributes: dict
    module_name: str
    kwargs: dict
    plan: NetworkPlan
    crit_name: str
    crit_kwargs: dict
    net_meta: dict
    net_tensors: dict
    history: list

    def memory(self, parts: ModelFileParts) -> int:
        """Upper bound of the bytes loading takes: reading the file, then building the network."""
        return parts.parse_memory + self.plan.peak_bytes


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

        listed = listed_estimator(type(self))
        attributes = {}
        for name, value in vars(self).items():
            if name in params or name in _REBUILT or name.startswith("__"):
                continue
            if name not in FILE_ATTRIBUTES[listed]:
                warnings.warn(f"attribute {name!r} is not stored: a model file holds only the fitted attributes of "
                              f"{listed} (see sbt_sklearn.estimators._file_attributes)", UserWarning, stacklevel=3)
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
        blob = write_model_bytes(*self._model_file_parts(include_scores, include_history))
        self._check_loadable(blob)
        return blob

    def _check_loadable(self, blob: bytes) -> None:
        """Refuse to write a file that ``load`` would refuse; warn if it needs a larger ``max_memory``."""
        parts = parse_model_bytes(blob, max_memory=_NO_BUDGET)
        try:
            checked = type(self)._check_file(parts)
        except SBTFileError as exc:
            raise ValueError(f"cannot save this {type(self).__name__}: the loader would refuse the file ({exc})") \
                from exc
        need, budget = checked.memory(parts), load_memory_budget(parts.file_bytes)
        if need > budget:
            warnings.warn(f"loading this model takes up to {_mib(need)}, more than the {_mib(budget)} that load() "
                          f"allows a file of {parts.file_bytes} bytes by default: load it with max_memory={need}",
                          UserWarning, stacklevel=3)

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
    def load(cls, path, *, device="cpu", max_memory=None):
        """Load an estimator saved with :meth:`save`; runs no code from the file.

        The file is checked completely before the network is built: a file that anyone could
        have written (the digest is a checksum, not a signature) cannot make loading allocate
        more than ``max_memory``, block, or fail with anything but :class:`SBTFileError`. Only
        regular files are read (not FIFOs or devices), at most 1 GiB.

        Parameters
        ----------
        path : str or path-like
            The model file.
        device : str or torch.device, default="cpu"
            Where the loaded network lives and predicts; it also becomes the estimator's
            ``device`` hyperparameter. A model trained on a GPU loads on a CPU-only machine.
        max_memory : int, optional
            Most bytes loading may take (an upper bound computed before anything is built:
            the file, its metadata and the network with the temporaries of building it).
            Default: 64 MiB plus 100 bytes per byte of file, more than any model of the
            paper's sizes needs; pass more to load a larger model you trust (:meth:`save`
            warns when a model needs it).

        Returns
        -------
        estimator
            The fitted estimator, predicting exactly as the saved one (on the same device type).

        Raises
        ------
        SBTFileError
            (a :class:`ValueError`) if the file is truncated, corrupted, modified, of an unknown
            format version, names an unknown class, does not match the network it describes,
            sets attributes that are not fitted attributes of ``cls`` or contradict the network,
            would take more than ``max_memory``, is not a regular file, or holds a different
            estimator class than ``cls``.

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
        device = _check_device(device)  # before reading: a bad argument fails fast
        max_memory = _check_max_memory(max_memory)
        return cls.from_bytes(read_file_bytes(path), device=device, max_memory=max_memory)

    @classmethod
    def from_bytes(cls, blob, *, device="cpu", max_memory=None):
        """Load an estimator from model-file bytes (see :meth:`load`).

        Parameters
        ----------
        blob : bytes-like
            The content of a model file (bytes, bytearray or memoryview).
        device : str or torch.device, default="cpu"
            Where the network lives and predicts.
        max_memory : int, optional
            Most bytes loading may take; see :meth:`load`.

        Returns
        -------
        estimator
            The fitted estimator.

        Raises
        ------
        SBTFileError
            On any defect of the file (see :meth:`load`).
        TypeError
            If ``blob`` is not bytes-like.

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
        max_memory = _check_max_memory(max_memory)
        parts = parse_model_bytes(blob, max_memory=max_memory)
        try:
            checked = cls._check_file(parts)
            need = checked.memory(parts)
            budget = load_memory_budget(parts.file_bytes) if max_memory is None else max_memory
            if need > budget:
                raise SBTFileError(
                    f"loading this model file would take up to {_mib(need)}, more than the {_mib(budget)} allowed "
                    + ("by max_memory" if max_memory is not None else
                       f"for a file of {parts.file_bytes} bytes (64 MiB + 100 bytes per byte of file)")
                    + "; if you trust the file, pass a larger max_memory"
                )
            return cls._build(checked, device)
        except SBTFileError:
            raise
        except _FILE_DEFECTS as exc:
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
    def _check_file(cls, parts: ModelFileParts) -> _CheckedFile:
        """Check everything a model file says before anything is built (the network from its
        arguments, the layer table and masks against it, the fitted attributes against both)."""
        meta, tensors = parts.meta, parts.tensors
        if meta.get("format_version") not in _READABLE_VERSIONS:  # read_model_bytes checked it against the container
            raise SBTFileError("invalid model file: metadata and container disagree on the format version")
        est_cls = cls._resolve_class(meta.get("estimator"))
        sections = [meta.get("params"), meta.get("attributes"), meta.get("network")]
        if not all(isinstance(section, dict) for section in sections):
            raise SBTFileError("invalid model file: bad hyperparameters, fitted attributes or network metadata")
        net_meta = sections[2]
        # one bounded decoding pass over every encoded value (their arrays share one budget); the
        # hyperparameters and attributes are JSON objects of encoded values
        params, attributes = ({name: None for name in section} for section in sections[:2])
        decoded = decode_json(
            [list(sections[0].values()), list(sections[1].values()), net_meta.get("kwargs"),
             net_meta.get("criterion_kwargs"), meta.get("history")],
            max_depth=MAX_JSON_DEPTH + 2, max_array_bytes=MAX_JSON_ARRAY_BYTES)
        params, attributes = dict(zip(params, decoded[0])), dict(zip(attributes, decoded[1]))
        kwargs, crit_kwargs, history = decoded[2:]
        params = _checked_params(est_cls, params)
        module_name, crit_name = net_meta.get("module"), net_meta.get("criterion")
        if module_name not in _MODULES:
            raise SBTFileError(f"invalid model file: unknown network class {str(module_name)[:60]!r}")
        if crit_name not in _CRITERIA:
            raise SBTFileError(f"invalid model file: unknown criterion {str(crit_name)[:60]!r}")
        listed = listed_estimator(est_cls)
        if module_name != ESTIMATOR_NETWORKS[listed]:
            raise SBTFileError(f"invalid model file: an {listed} does not use an {module_name}")
        if not isinstance(crit_kwargs, dict) or not all(isinstance(k, str) for k in crit_kwargs):
            raise SBTFileError("invalid model file: bad network arguments")
        plan = plan_network(module_name, kwargs)
        differ = [name for name in _NETWORK_PARAMS if name in params and params[name] != plan.kwargs[name]]
        if differ:
            raise SBTFileError(f"invalid model file: hyperparameters {differ} differ from the network's arguments")
        attr_tensors = {key[len("attr."):]: value for key, value in tensors.items() if key.startswith("attr.")}
        if set(attr_tensors) & set(attributes):
            raise SBTFileError("invalid model file: an attribute is stored twice")
        attributes = check_file_attributes(est_cls, {**attributes, **attr_tensors}, params, plan)
        crit_tensors = {key: value for key, value in tensors.items() if key.startswith("criterion.")}
        for key, value in crit_tensors.items():
            if value.dtype.kind != "f" or value.shape != (plan.n_outputs,):
                raise SBTFileError(f"invalid model file: criterion tensor {key[:60]!r} must hold one float per output")
        net_tensors = {k: v for k, v in tensors.items() if not k.startswith(("attr.", "criterion."))}
        unexpected = sorted(k for k in net_tensors if k != "sbt.masks" and not k.startswith(("state.", "scores.")))
        if unexpected:
            raise SBTFileError(f"invalid model file: unexpected tensors {[k[:60] for k in unexpected[:3]]}")
        check_network_tensors(plan, net_meta, net_tensors)
        rows = history if history is not None else []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise SBTFileError("invalid model file: bad history")
        crit_kwargs.update({key[len("criterion."):]: value for key, value in crit_tensors.items()})
        return _CheckedFile(est_cls, params, attributes, module_name, kwargs, plan, crit_name, crit_kwargs, net_meta,
                            net_tensors, rows)

    @classmethod
    def _build(cls, checked: _CheckedFile, device: str):
        """The fitted estimator a checked file describes: the network is built and restored."""
        from skorch.history import History

        est = checked.est_cls(**{**checked.params, "device": device})
        for name, value in checked.attributes.items():
            setattr(est, name, value)
        crit_kwargs = {key: torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else value
                       for key, value in checked.crit_kwargs.items()}
        module_cls = getattr(import_module("sbt_sklearn.nn"), checked.module_name)
        est.net_ = est._make_net(module_cls, checked.kwargs, getattr(torch.nn, checked.crit_name),
                                 criterion_kwargs=crit_kwargs, device=device)
        est.net_.initialize()
        unpack_module(est.net_.module_, checked.net_meta, checked.net_tensors)
        est.net_.history_ = History(checked.history)
        est.history_ = est.net_.history_
        return est


def _checked_params(est_cls, params) -> dict:
    """The file's hyperparameters: known to ``est_cls``, valid by its constraints, no callbacks."""
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise SBTFileError("invalid model file: bad hyperparameters")
    known = est_cls().get_params(deep=False)
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise SBTFileError(f"invalid model file: unknown hyperparameters {[u[:40] for u in unknown[:5]]} for "
                           f"{est_cls.__name__} (saved by a newer sbt_sklearn?)")
    if params.get("callbacks") is not None:
        raise SBTFileError("invalid model file: callbacks are never stored, a file sets none")
    est = est_cls(**{**params, "device": "cpu"})
    try:
        est._validate_params()
        check_n_jobs(est.n_jobs)  # the rule every call applies (sklearn's Integral admits booleans)
    except (TypeError, ValueError) as exc:  # sklearn's InvalidParameterError is both
        raise SBTFileError(f"invalid model file: bad hyperparameters ({exc})") from exc
    return params
