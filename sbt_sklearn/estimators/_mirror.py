"""Give an adapter (sktime, PyOD) exactly the constructor of the scikit-learn estimator it wraps."""

from __future__ import annotations

import inspect

__all__ = ["mirrored_init"]


def mirrored_init(estimator_cls, **extra):
    """An ``__init__`` with the signature (names, defaults) of ``estimator_cls.__init__``.

    ``extra`` adds adapter-only keyword parameters (for example a window length) in front. The
    generated ``__init__`` stores every argument as an attribute and then runs the base class's
    constructor through ``self._init_base()`` (which the adapter defines), so hyperparameter names
    are identical in both layers and a grid transfers from one to the other.
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
        self._init_base()

    __init__.__signature__ = signature
    __init__.__doc__ = f"Same parameters as sbt_sklearn.{estimator_cls.__name__}, plus {sorted(extra) or 'none'}."
    return __init__
