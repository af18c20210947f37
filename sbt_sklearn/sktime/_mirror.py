"""Give an sktime adapter exactly the constructor of the scikit-learn estimator it wraps."""

from __future__ import annotations

import inspect
import numbers

__all__ = ["AdapterMixin", "check_int_param", "mirrored_init", "estimator_params"]


def mirrored_init(estimator_cls, **extra):
    """An ``__init__`` with the signature (names, defaults) of ``estimator_cls.__init__``.

    ``extra`` adds adapter-only keyword parameters (for example a window length) in front. The
    generated ``__init__`` stores every argument as an attribute and then runs the sktime base
    constructor through ``self._init_sktime_base()``, so hyperparameter names are identical in both
    layers and a grid transfers from one to the other.
    """
    wrapped = inspect.signature(estimator_cls.__init__)
    params = list(wrapped.parameters.values())
    added = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in extra.items()]
    signature = wrapped.replace(parameters=[params[0], *added, *params[1:]])

    def __init__(self, **kwargs):
        bound = signature.bind(self, **kwargs)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)
        self._init_sktime_base()

    __init__.__signature__ = signature
    __init__.__doc__ = f"Same parameters as sbt_sklearn.{estimator_cls.__name__}, plus {sorted(extra) or 'none'}."
    return __init__


def check_int_param(adapter, name: str, minimum: int, why: str = "") -> int:
    """The adapter-only parameter ``name`` as an int, or ValueError unless it is an integer >= minimum.

    ``mirrored_init`` stores arguments as given (scikit-learn's convention); the adapters call this
    in ``_fit``. Booleans and floats, even integral ones, are rejected rather than truncated.
    """
    value = getattr(adapter, name)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{type(adapter).__name__}: {name} must be an integer >= {minimum}{why}; "
                         f"got {value!r}")
    return int(value)


def estimator_params(adapter, estimator_cls) -> dict:
    """The adapter's parameters that the wrapped estimator takes."""
    names = inspect.signature(estimator_cls.__init__).parameters
    params = {k: v for k, v in adapter.get_params(deep=False).items() if k in names}
    if params.get("warm_start"):
        raise ValueError(
            f"{type(adapter).__name__}: warm_start=True cannot continue training under sktime, whose fit resets "
            "the estimator (and its fitted network) first. Continue training with the scikit-learn estimator "
            f"({estimator_cls.__name__}(warm_start=True)) and wrap the result, or refit the adapter on all the data."
        )
    return params


class AdapterMixin:
    """Plumbing shared by the sktime adapters: base construction and tiny test parameters.

    Subclasses list their sktime base class after this mixin and set ``_test_params``.
    """

    _test_params: list = []

    def _init_sktime_base(self):
        super().__init__()

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Tiny, fast settings for sktime's estimator checks.

        Parameters
        ----------
        parameter_set : str, default="default"
            Name of the parameter set (only "default").

        Returns
        -------
        params : list of dict
            Constructor arguments of test instances.
        """
        return [dict(p) for p in cls._test_params]
