"""Give an sktime adapter exactly the constructor of the scikit-learn estimator it wraps."""

from __future__ import annotations

import inspect
import numbers

from ..estimators._mirror import mirrored_init

__all__ = ["AdapterMixin", "check_int_param", "mirrored_init", "estimator_params"]


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

    def _init_base(self):
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
