"""scikit-learn estimators built on the SBT torch core (through skorch)."""

from ._anomaly import SBTAnomalyDetector
from ._classifier import SBTClassifier
from ._forecaster import SBTForecaster

__all__ = ["SBTAnomalyDetector", "SBTClassifier", "SBTForecaster"]
