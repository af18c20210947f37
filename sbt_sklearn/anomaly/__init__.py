"""Anomaly thresholds for score-based detectors (numpy/scipy only).

Peaks-Over-Threshold (POT) thresholds from a generalised Pareto fit of the score tail
(Siffer et al., KDD 2017), and the SBT/TranAD streaming protocol for reproduction.
"""

from ._pot import GPDFitWarning, POTThreshold, fit_gpd, pot_threshold, spot_stream_threshold

__all__ = [
    "GPDFitWarning",
    "POTThreshold",
    "fit_gpd",
    "pot_threshold",
    "spot_stream_threshold",
]
