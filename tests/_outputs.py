"""The output each estimator is judged by, in one place for the tests and the benchmarks.

``predict_proba`` for the classifier, ``predict`` for the forecaster, ``score_samples`` for the
anomaly detector: what a folded model, a loaded file or the generated C code must reproduce.
"""

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier


def main_output(est, X):
    """The estimator's main output for windows ``X``."""
    if isinstance(est, SBTClassifier):
        return est.predict_proba(X)
    if isinstance(est, SBTAnomalyDetector):
        return est.score_samples(X)
    return est.predict(X)
