"""Plot helpers for fitted SBT estimators and their outputs.

* :func:`plot_forecast`: predicted against actual values over time, one panel per channel
  (:class:`~sbt_sklearn.SBTForecaster`).
* :func:`plot_anomaly_scores`: one anomaly score per time step with a threshold and the
  labelled anomaly segments (:class:`~sbt_sklearn.SBTAnomalyDetector`).
* :func:`plot_pals_trajectory`: the sparsity chosen by PALS against the validation loss
  (any estimator fitted with ``pals=True``).

matplotlib is imported inside the functions, so importing this package needs only numpy and
matplotlib stays an optional dependency (``pip install "sbt-sklearn[plot]"``).
"""

from ._anomaly import plot_anomaly_scores
from ._forecast import plot_forecast
from ._pals import plot_pals_trajectory

__all__ = ["plot_anomaly_scores", "plot_forecast", "plot_pals_trajectory"]
