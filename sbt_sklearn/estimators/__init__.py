"""scikit-learn estimators built on the SBT torch core (through skorch)."""

from ._anomaly import SBTAnomalyDetector
from ._classifier import SBTClassifier
from ._detectors import fit_detectors
from ._forecaster import SBTForecaster

__all__ = ["SBTAnomalyDetector", "SBTClassifier", "SBTForecaster", "fit_detectors"]
