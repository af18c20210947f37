"""Give an sktime adapter exactly the constructor of the scikit-learn estimator it wraps."""

from __future__ import annotations

import inspect

__all__ = ["mirrored_init"]


def mirrored_init(estimator_cls):
    """An ``__init__`` with the signature (names, defaults) of ``estimator_cls.__init__``.

    It stores every argument as an attribute and then runs the sktime base constructor through
    ``self._init_sktime_base()``, so hyperparameter names are identical in both layers and a grid
    transfers from one to the other.
    """
    signature = inspect.signature(estimator_cls.__init__)

    def __init__(self, **params):
        bound = signature.bind(self, **params)
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)
        self._init_sktime_base()

    __init__.__signature__ = signature
    __init__.__doc__ = f"Same parameters as :class:`{estimator_cls.__module__.split('._')[0]}.{estimator_cls.__name__}`."
    return __init__
