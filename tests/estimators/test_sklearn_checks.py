"""scikit-learn's own estimator checks for every SBT estimator, with zero expected failures.

The estimators and their cheap settings come from the registry in ``tests/_params.py``: one
instance per class (``INIT_PARAMS``) plus the variants in ``CHECK_VARIANTS``. ``xfail_strict``
turns any check marked as an expected failure that passes into an error; there are none.
"""

from _params import INIT_PARAMS, check_estimators
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sbt_sklearn


@parametrize_with_checks(check_estimators(), xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_public_estimator_is_in_the_registry():
    """A new estimator in ``sbt_sklearn.__all__`` needs cheap settings in INIT_PARAMS to be checked."""
    public = {getattr(sbt_sklearn, name) for name in sbt_sklearn.__all__}  # the root's names are lazy
    public = {obj for obj in public if isinstance(obj, type) and issubclass(obj, BaseEstimator)}
    assert public == set(INIT_PARAMS)
