"""sktime-native adapters of the SBT estimators (for sktime pipelines, tuning and benchmarking).

Importing this subpackage imports sktime; the rest of sbt_sklearn does not need it.
"""

try:
    import sktime  # noqa: F401
except ImportError as exc:  # pragma: no cover - sktime is a dependency, but may be removed
    raise ImportError("sbt_sklearn.sktime needs sktime: pip install sktime") from exc

from ._classifier import SBTSktimeClassifier
from ._detector import SBTSktimeDetector
from ._forecaster import SBTSktimeForecaster

__all__ = ["SBTSktimeClassifier", "SBTSktimeDetector", "SBTSktimeForecaster"]
