"""scikit-learn's own estimator checks for SBTForecaster, with zero expected failures."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sbt_sklearn import SBTForecaster

# tiny, fast settings: the checks exercise the API, not accuracy
FAST = dict(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=2, batch_size=16, random_state=0)


@parametrize_with_checks([SBTForecaster(**FAST)], xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)
