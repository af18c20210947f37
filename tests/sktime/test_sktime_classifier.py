"""The sktime classifier adapter passes sktime's own estimator checks and works in sktime tooling."""

import inspect

import numpy as np
import pytest

pytest.importorskip("sktime")

from _params import NAMED_PARAMS  # noqa: E402
from sktime.utils.estimator_checks import check_estimator  # noqa: E402

from sbt_sklearn import SBTClassifier  # noqa: E402
from sbt_sklearn.sktime import SBTSktimeClassifier  # noqa: E402

# n_jobs sets torch's threads, and float sums in training depend on the thread count: fits with
# n_jobs=1 and n_jobs=-1 agree statistically, not to sktime's 6 decimals (documented on n_jobs;
# tests/estimators/test_threads.py checks that a fitted model predicts the same with any n_jobs)
THREAD_DEPENDENT = ["test_multiprocessing_idempotent"]


def test_same_hyperparameters_as_the_sklearn_estimator():
    a = inspect.signature(SBTSktimeClassifier.__init__).parameters
    b = inspect.signature(SBTClassifier.__init__).parameters
    assert [(n, p.default) for n, p in a.items()] == [(n, p.default) for n, p in b.items()]
    assert SBTSktimeClassifier(p=0.25, d=32).get_params()["p"] == 0.25


def test_sktime_check_estimator_passes():
    results = check_estimator(SBTSktimeClassifier, raise_exceptions=False, verbose=False,
                              tests_to_exclude=THREAD_DEPENDENT)
    failed = {k: v for k, v in results.items() if v != "PASSED"}
    assert not failed, failed
    assert len(results) > 100


def test_unequal_length_panel_and_grid_search():
    from sklearn.model_selection import KFold
    from sktime.classification.model_selection import TSCGridSearchCV
    from sktime.datasets import load_japanese_vowels

    X, y = load_japanese_vowels(split="train", return_type="nested_univ")
    X, y = X.iloc[::6], y[::6]  # 45 series of 7-26 steps
    tiny = NAMED_PARAMS["sktime_classifier"]
    clf = SBTSktimeClassifier(**tiny).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (45, len(np.unique(y)))
    np.testing.assert_allclose(proba, SBTClassifier(**tiny).fit(X, y).predict_proba(X))
    search = TSCGridSearchCV(SBTSktimeClassifier(**tiny), {"p": [0.25, 0.75]}, cv=KFold(2)).fit(X, y)
    assert search.best_params_["p"] in (0.25, 0.75)
