"""scikit-learn's own estimator checks for SBTAnomalyDetector, with zero expected failures."""

import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from sbt_sklearn import SBTAnomalyDetector

# tiny, fast settings: the checks exercise the API, not accuracy
FAST = dict(d=8, n_heads=2, n_layers=1, d_ff=16, max_epochs=1, batch_size=32, max_windows_per_epoch=None,
            random_state=0)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny models run fastest on one thread (and leave the other core to other work)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@parametrize_with_checks([SBTAnomalyDetector(**FAST), SBTAnomalyDetector(**FAST, rarity="marginal")], xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)
