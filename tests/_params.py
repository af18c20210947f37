"""Cheap estimator settings for the tests, in one place.

The tests check the API and behaviour, not accuracy, so they fit tiny networks for a few epochs.
Two registries:

``INIT_PARAMS``
    One entry per estimator class: the cheapest settings that still fit. scikit-learn's common
    checks (``tests/estimators/test_sklearn_checks.py``) run every class with these, plus the
    variants in ``CHECK_VARIANTS``.
``NAMED_PARAMS``
    Settings that a test file depends on (more epochs so that classes are learned, a batch size
    that its batch counts assume, ...). Each entry says which file uses it and why it differs.

Use them as ``SBTClassifier(**INIT_PARAMS[SBTClassifier])`` or
``SBTForecaster(**{**NAMED_PARAMS["forecaster_behaviour"], "max_epochs": 1})``. The entries are
read-only, so that no test can change them for the tests after it.

Test modules import this file as ``from _params import ...``: ``tests/`` is on ``sys.path`` because
pytest puts the folder of ``tests/conftest.py`` there (the tests are not a package).
"""

from types import MappingProxyType

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster

# the tiny network that every entry starts from
_TINY_NET = dict(d=8, n_heads=2, n_layers=1, d_ff=16, random_state=0)


def _frozen(**params):
    return MappingProxyType({**_TINY_NET, **params})


INIT_PARAMS = MappingProxyType({
    SBTClassifier: _frozen(max_epochs=3, batch_size=16),
    SBTForecaster: _frozen(max_epochs=2, batch_size=16),
    SBTAnomalyDetector: _frozen(max_epochs=1, batch_size=32, max_windows_per_epoch=None),
})

# further instances that scikit-learn's common checks run: (class, parameters on top of INIT_PARAMS)
CHECK_VARIANTS = (
    (SBTAnomalyDetector, MappingProxyType(dict(rarity="marginal"))),  # the rarity term's own code path
)

NAMED_PARAMS = MappingProxyType({
    # tests/estimators/test_classifier.py: the fitted classifier must learn its 3-class panel
    # (score > 0.9) and asserts n_epochs_ == 30
    "classifier_learns": _frozen(d=16, d_ff=32, max_epochs=30, batch_size=16),
    # tests/estimators/test_pals_estimators.py: its PALS trajectory assertions count 9 steps of batch 8
    # per epoch, 54 steps in all, a decision every 3 steps
    "classifier_pals": _frozen(max_epochs=6, batch_size=8, pals=True, pals_interval=3),
    # tests/estimators/test_forecaster.py: asserts n_epochs_ == 2 and that 64 windows make 2 batches of 32
    "forecaster_behaviour": _frozen(max_epochs=2, batch_size=32),
    # tests/estimators/test_anomaly.py: its batch counts assume batches of 32; its assertions were written
    # for detectors trained 2 epochs
    "detector_behaviour": _frozen(max_epochs=2, batch_size=32, max_windows_per_epoch=None),
    # tests/sktime/test_sktime_classifier.py: the settings its adapter-versus-estimator comparison on
    # 45 short Japanese-vowels series was written with
    "sktime_classifier": _frozen(d_ff=8, max_epochs=2, batch_size=8),
    # tests/sktime/test_sktime_forecaster_detector.py: both adapters; its detector must score an injected
    # anomaly above the median after 2 epochs of this network
    "sktime_series": _frozen(d_ff=8, max_epochs=2, batch_size=16),
})


def check_estimators():
    """The estimator instances that scikit-learn's common checks run, one per class, then the variants."""
    estimators = [cls(**params) for cls, params in INIT_PARAMS.items()]
    estimators += [cls(**{**INIT_PARAMS[cls], **extra}) for cls, extra in CHECK_VARIANTS]
    return estimators
