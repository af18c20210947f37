"""scikit-learn estimators built on the SBT torch core (through skorch)."""

from ._classifier import SBTClassifier

__all__ = ["SBTClassifier"]
