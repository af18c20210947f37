"""The fitted attributes a model file may set on each estimator: types, shapes, consistency.

A model file's fitted attributes come from a file that anyone can write (its digest is a
checksum, not a signature). Loading therefore sets only the attributes listed here for the
estimator's class, each checked for its type and shape, against the network the file
describes (:class:`~sbt_sklearn.compression._format.NetworkPlan`) and against the other
attributes and the hyperparameters. A file cannot shadow a method (``predict_proba = 1``), set a
private knob (``_predict_max_bytes``), attach arbitrary data (a ``junk`` array) or contradict its
network (``classes_`` shorter than the network's outputs, ``scaler_mean_`` of the wrong length).

The lists were derived from each estimator's ``fit`` (and ``SBTBase._train``, sklearn's
``validate_data``) and checked against saved models of every optional path: the forecaster's
ridge base (``base_*``, absent with ``linear_base=None``), the detector's rarity tables
(``rarity="marginal"``), PALS (``pals_history_``). A user subclass of an estimator uses the list
of the estimator it derives from; saving stores only listed attributes (and warns about others).
"""

from __future__ import annotations

from importlib import import_module
from numbers import Integral, Real

import numpy as np

from ..compression._format import NetworkPlan, SBTFileError

__all__ = ["ESTIMATOR_NETWORKS", "FILE_ATTRIBUTES", "REQUIRED_ATTRIBUTES", "check_file_attributes",
           "listed_estimator"]


def _bad(name: str, what: str) -> SBTFileError:
    return SBTFileError(f"invalid model file: fitted attribute {name} {what}")


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


class _Context:
    """What the checks compare an attribute with: the other attributes, the hyperparameters, the network."""

    def __init__(self, values: dict, params: dict, plan: NetworkPlan) -> None:
        self.values, self.params, self.plan = values, params, plan

    @property
    def n_channels(self) -> int:
        return self.plan.n_inputs  # n_channels_ is checked equal to it first


# -- checks of one value ---------------------------------------------------------------------------
def _int(name, value, low: int = 0, high: int | None = None) -> int:
    if not _is_int(value) or value < low or (high is not None and value > high):
        raise _bad(name, f"must be an integer in [{low}, {'inf' if high is None else high}]")
    return int(value)


def _finite(name, value) -> float:
    if not _is_real(value) or not np.isfinite(float(value)):
        raise _bad(name, "must be a finite number")
    return float(value)


def _array(name, value, kind: str, shape: tuple) -> np.ndarray:
    """``value`` as an ndarray of dtype kind ``kind`` and ``shape`` (None: any size on that axis)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kind or value.ndim != len(shape) \
            or any(want is not None and got != want for got, want in zip(value.shape, shape)):
        got = f"{value.dtype}{list(value.shape)}" if isinstance(value, np.ndarray) else type(value).__name__
        want = ", ".join("n" if s is None else str(s) for s in shape)
        raise _bad(name, f"must be an array of kind {kind!r} and shape ({want}); the file has {got}")
    return value


def _finite_array(name, value, shape: tuple) -> np.ndarray:
    value = _array(name, value, "f", shape)
    if not np.isfinite(value).all():
        raise _bad(name, "holds NaN or infinite values")
    return value


# -- checks of each attribute: (name, value, context) -> None --------------------------------------
def _n_channels(name, value, ctx):
    if _int(name, value, 1) != ctx.plan.n_inputs:
        raise _bad(name, f"is {value}, but the network has {ctx.plan.n_inputs} input channels")


def _n_features_in(name, value, ctx):
    if _int(name, value, 1) != ctx.n_channels and ctx.n_channels != 1:  # 2-D X: one channel, T features
        raise _bad(name, f"is {value}, but the model has {ctx.n_channels} channels")


def _feature_names_in(name, value, ctx):
    names = _array(name, value, "OU", (None,))
    if not all(isinstance(v, str) for v in names.tolist()):
        raise _bad(name, "must hold strings")
    if "n_features_in_" in ctx.values and len(names) != ctx.values["n_features_in_"]:
        raise _bad(name, "must hold n_features_in_ names")


def _positive_int(name, value, ctx):
    _int(name, value, 1)


def _count(name, value, ctx):
    _int(name, value, 0)


def _rate(name, value, ctx):
    if not 0.0 <= _finite(name, value) <= 1.0:
        raise _bad(name, "must be in [0, 1]")


def _bool(name, value, ctx):
    if not isinstance(value, (bool, np.bool_)):
        raise _bad(name, "must be a boolean")


def _finite_number(name, value, ctx):
    _finite(name, value)


def _per_channel(name, value, ctx):
    _finite_array(name, value, (ctx.n_channels,))


def _scale(name, value, ctx):
    if not (_finite_array(name, value, (ctx.n_channels,)) > 0).all():
        raise _bad(name, "must be positive")


def _records(name, value, ctx):
    """A list of flat records (PALS decisions): dicts of str keys and scalar values."""
    scalars = (type(None), bool, int, float, str, np.generic)
    if not isinstance(value, list) or not all(
            isinstance(row, dict) and all(isinstance(k, str) and isinstance(v, scalars) for k, v in row.items())
            for row in value):
        raise _bad(name, "must be a list of records of plain values")


def _classes(name, value, ctx):
    classes = _array(name, value, "biufUSO", (ctx.plan.n_outputs,))
    if len(classes) < 2:
        raise _bad(name, "must hold at least 2 classes")
    if classes.dtype.kind == "O":
        try:
            for v in classes.tolist():
                hash(v)
        except TypeError:
            raise _bad(name, "must hold hashable labels") from None


def _y_1d(name, value, ctx):
    _bool(name, value, ctx)
    if value and ctx.n_channels != 1:
        raise _bad(name, "is True, but the model has more than one channel")


def _y_flat(name, value, ctx):
    _bool(name, value, ctx)
    if value and (ctx.n_channels == 1 or ctx.plan.kwargs.get("n_queries", 1) == 1):
        raise _bad(name, "is True, but a flat y needs more than one channel and a horizon above 1")


def _base_lags(name, value, ctx):
    lags = _int(name, value, 0, ctx.values.get("n_timesteps_"))
    if bool(lags) != bool(ctx.plan.kwargs.get("output_gate")):
        raise _bad(name, "does not match the network's output gate (a linear base always has one)")


def _base_alpha(name, value, ctx):
    if value is not None and _finite(name, value) < 0:
        raise _bad(name, "must be None or a non-negative number")


def _base_coef(name, value, ctx):
    if value is not None:
        lags = ctx.values.get("base_lags_", 0)
        horizon = ctx.plan.kwargs.get("n_queries", 1)
        if horizon > 1:  # the direct base: one (lags, H) map shared by the channels
            _finite_array(name, value, (lags, horizon))
        else:
            _finite_array(name, value, (lags * ctx.n_channels, ctx.n_channels))


def _base_intercept(name, value, ctx):
    if value is not None:
        horizon = ctx.plan.kwargs.get("n_queries", 1)
        if horizon > 1:
            _finite_array(name, value, (horizon,))
        else:
            _per_channel(name, value, ctx)


def _net_blend(name, value, ctx):
    if value is None:
        return
    blend = _finite_array(name, value, (ctx.plan.kwargs.get("n_queries", 1),))
    if ((blend < 0) | (blend > 1)).any():
        raise _bad(name, "must lie in [0, 1]")


def _channel_weights(name, value, ctx):
    if not (_finite_array(name, value, (ctx.n_channels,)) >= 0).all():
        raise _bad(name, "must be non-negative")


def _rarity_channels(name, value, ctx):
    if value is not None and not _array(name, value, "b", (ctx.n_channels,)).any():
        raise _bad(name, "must select at least one channel")


def _value_bins(name, value, ctx):
    if value is None:
        return
    channels = ctx.values.get("rarity_channels_")
    rows = int(np.count_nonzero(channels)) if isinstance(channels, np.ndarray) else None
    bins = _finite_array(name, value, (rows, None))
    if bins.shape[1] < 2 or (np.diff(bins, axis=1) < 0).any():
        raise _bad(name, "must hold at least 2 non-decreasing edges per channel")


def _tail(name, value, ctx):
    if value is None:
        return
    knots = _finite_array(name, value, (2, None))
    if knots.shape[1] < 2 or not (np.diff(knots[0]) > 0).all():
        raise _bad(name, "must hold at least 2 knots with increasing values")


def _optional_records(name, value, ctx):
    if value is not None:
        _records(name, value, ctx)


def _rarity_rule(name, value, ctx):
    if value not in (None, "marginal", "max"):
        raise _bad(name, "must be None, 'marginal' or 'max'")


def _smooth(name, value, ctx):
    if value != "multiscale":
        _int(name, value, 1, 10**6)


def _scale_tails(name, value, ctx):
    from ..anomaly._multiscale import SCALES

    if value is None:
        return
    # rarity_="max": the error's and the rarity's tails, (2, scales, quantiles)
    shape = (2, len(SCALES), None) if ctx.values.get("rarity_") == "max" else (len(SCALES), None)
    tails = _finite_array(name, value, shape)
    if tails.shape[-1] < 2 or (np.diff(tails, axis=-1) < 0).any():
        raise _bad(name, "must hold at least 2 non-decreasing quantiles per scale")


def _warm_settings(name, value, ctx):
    keys = {"target", "linear_base", "base_lags", "base_alpha"}
    if not isinstance(value, dict) or set(value) != keys or not all(
            v is None or (isinstance(v, (str, Integral, Real)) and not isinstance(v, (bool, np.bool_)))
            for v in value.values()):
        raise _bad(name, f"must be a dict of {sorted(keys)} holding strings, numbers or None")


def _patch_len(name, value, ctx):
    if _int(name, value, 1) != int(ctx.plan.kwargs.get("patch_len", 1)):
        raise _bad(name, f"is {value}, but the network's tokens hold {ctx.plan.kwargs.get('patch_len', 1)} step(s)")


def _offset(name, value, ctx):
    if "threshold_" in ctx.values and _finite(name, value) != -float(ctx.values["threshold_"]):
        raise _bad(name, "must be minus threshold_")


# -- the lists -----------------------------------------------------------------------------------
#: attributes every estimator's fit sets (SBTBase, sklearn's validate_data)
_COMMON = {
    "n_channels_": _n_channels,  # first: the other checks use it
    "n_features_in_": _n_features_in,
    "feature_names_in_": _feature_names_in,
    "n_timesteps_": _positive_int,
    "scaler_mean_": _per_channel,
    "scaler_scale_": _scale,
    "seed_": _count,
    "n_epochs_": _count,
    "p_": _rate,
    "pals_history_": _records,
}

#: per estimator class: attribute name -> check, in the order they are checked
FILE_ATTRIBUTES = {
    "SBTClassifier": {**_COMMON, "classes_": _classes, "patch_len_": _patch_len},
    "SBTForecaster": {**_COMMON, "_y_1d": _y_1d, "_y_flat": _y_flat, "base_lags_": _base_lags,
                      "base_alpha_": _base_alpha, "base_coef_": _base_coef, "base_intercept_": _base_intercept,
                      "_warm_settings": _warm_settings, "net_blend_": _net_blend},
    "SBTAnomalyDetector": {**_COMMON, "channel_weights_": _channel_weights, "rarity_channels_": _rarity_channels,
                           "value_bins_": _value_bins, "error_tail_": _tail, "rarity_tail_": _tail,
                           "rarity_": _rarity_rule, "smooth_": _smooth, "scale_tails_": _scale_tails,
                           "score_selection_": _optional_records,
                           "threshold_": _finite_number, "offset_": _offset, "series_threshold_": _finite_number},
}

#: attributes a file must set: without them the estimator cannot predict
REQUIRED_ATTRIBUTES = {
    "SBTClassifier": ("n_channels_", "scaler_mean_", "scaler_scale_", "classes_"),
    "SBTForecaster": ("n_channels_", "scaler_mean_", "scaler_scale_"),
    "SBTAnomalyDetector": ("n_channels_", "scaler_mean_", "scaler_scale_", "channel_weights_", "threshold_",
                           "offset_"),
}

#: the network class each estimator builds
ESTIMATOR_NETWORKS = {"SBTClassifier": "SBTClassificationNet", "SBTForecaster": "SBTLastStepNet",
                      "SBTAnomalyDetector": "SBTLastStepNet"}

#: attributes that go together: all present or all absent
_GROUPS = {
    "SBTForecaster": (("base_lags_", "base_alpha_", "base_coef_", "base_intercept_"),),
    "SBTAnomalyDetector": (("rarity_channels_", "value_bins_", "error_tail_", "rarity_tail_"),),
}


def listed_estimator(est_cls) -> str:
    """The name of the listed estimator that ``est_cls`` is or derives from.

    Parameters
    ----------
    est_cls : type
        An estimator class (``SBTClassifier``... or a user subclass of one).

    Returns
    -------
    str
        ``"SBTClassifier"``, ``"SBTForecaster"`` or ``"SBTAnomalyDetector"``.

    Raises
    ------
    SBTFileError
        If ``est_cls`` derives from none of them.
    """
    estimators = import_module("sbt_sklearn.estimators")
    for klass in est_cls.__mro__:
        if klass.__name__ in FILE_ATTRIBUTES and getattr(estimators, klass.__name__, None) is klass:
            return klass.__name__
    raise SBTFileError(f"{est_cls.__name__} derives from none of {sorted(FILE_ATTRIBUTES)}: its fitted "
                       "attributes cannot be read from a model file")


def _check_groups(listed: str, values: dict, params: dict) -> None:
    """Attributes that go together: all present or all absent, set or unset together."""
    for group in _GROUPS.get(listed, ()):
        present = [name in values for name in group]
        if any(present) and not all(present):
            raise SBTFileError(f"invalid model file: fitted attributes {list(group)} must all be present or all absent")
    if listed == "SBTForecaster" and "base_lags_" in values:
        unset = {values[name] is None for name in ("base_alpha_", "base_coef_", "base_intercept_")}
        if unset != {values["base_lags_"] == 0}:
            raise SBTFileError("invalid model file: the linear base's fitted attributes disagree (no lags and no "
                               "coefficients, or lags and coefficients)")
    if listed == "SBTAnomalyDetector":
        tables = {values.get(name) is not None for name in _GROUPS[listed][0]}
        if len(tables) > 1:
            raise SBTFileError("invalid model file: the detector's rarity tables are partly unset")
        if tables != {values["rarity_"] is not None}:
            raise SBTFileError("invalid model file: the detector's rarity tables do not match its rarity_ rule")
        if (values.get("scale_tails_") is not None) != (values["smooth_"] == "multiscale"):
            raise SBTFileError("invalid model file: scale_tails_ must be set exactly when smooth_ is 'multiscale'")


def check_file_attributes(est_cls, attributes: dict, params: dict, plan: NetworkPlan) -> dict:
    """Check the fitted attributes a model file sets; return them, ready to set.

    Parameters
    ----------
    est_cls : type
        The estimator class being loaded (a listed one or a subclass).
    attributes : dict
        Attribute name -> decoded value, from the file's JSON attributes and ``attr.*`` tensors
        (numpy arrays; they are copied).
    params : dict
        The estimator's hyperparameters, as loaded.
    plan : NetworkPlan
        The network the file describes.

    Returns
    -------
    dict
        The attributes to set, in a consistent order, arrays copied (writable).

    Raises
    ------
    SBTFileError
        For an attribute that is not listed for the class, a missing required one, or a value
        of the wrong type or shape, or inconsistent with the network, the hyperparameters or
        another attribute.
    """
    listed = listed_estimator(est_cls)
    allowed = FILE_ATTRIBUTES[listed]
    unknown = sorted(str(name)[:40] for name in attributes if name not in allowed)
    if unknown:
        raise SBTFileError(f"invalid model file: attributes {unknown[:5]} are not fitted attributes of {listed}")
    missing = [name for name in REQUIRED_ATTRIBUTES[listed] if name not in attributes]
    if missing:
        raise SBTFileError(f"invalid model file: it lacks the fitted attributes {missing} of {listed}")
    values = {name: np.array(v) if isinstance(v, np.ndarray) else v
              for name, v in ((n, attributes[n]) for n in allowed if n in attributes)}
    if listed == "SBTAnomalyDetector":
        # a file written before rarity="auto": the rule was the rarity hyperparameter, unsmoothed
        values.setdefault("rarity_", params.get("rarity") if params.get("rarity") != "auto" else None)
        for name in ("smooth_", "scale_tails_", "score_selection_"):
            values.setdefault(name, 1 if name == "smooth_" else None)
        values.setdefault("series_threshold_", values["threshold_"])
    ctx = _Context(values, params, plan)
    for name, value in values.items():
        allowed[name](name, value, ctx)
    _check_groups(listed, values, params)
    return values
