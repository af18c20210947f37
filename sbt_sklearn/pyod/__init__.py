"""A PyOD face for the anomaly detector: :class:`SBTPyODDetector` (needs ``pip install pyod``).

scikit-learn's outlier detectors score normality (``score_samples``: higher is more normal) and
label outliers -1; PyOD's score abnormality (``decision_function``: higher is more anomalous) and
label them 1. :class:`~sbt_sklearn.SBTAnomalyDetector` keeps scikit-learn's convention; this
adapter gives the same model PyOD's.
"""

from ._detector import SBTPyODDetector

__all__ = ["SBTPyODDetector"]
