"""Anomaly thresholds and score calibration for score-based detectors.

Peaks-Over-Threshold (POT) thresholds from a generalised Pareto fit of the score tail
(Siffer et al., KDD 2017), the SBT/TranAD streaming protocol for reproduction, and
``tail_levels``, which puts the scores of detectors fitted on different series on one scale.
Importing the package needs numpy and scipy only; ``tail_levels`` imports torch when called.
"""

from ._calibration import tail_levels
from ._pot import GPDFitWarning, POTThreshold, fit_gpd, pot_threshold, spot_stream_threshold

__all__ = [
    "GPDFitWarning",
    "POTThreshold",
    "fit_gpd",
    "pot_threshold",
    "spot_stream_threshold",
    "tail_levels",
]
