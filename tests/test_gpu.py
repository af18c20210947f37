"""CUDA checks: deselected by default (``-m gpu`` selects them on a machine with a GPU).

Each estimator trains on the GPU, predicts there, and its file loads on the CPU with the same
predictions; PALS and patch tokens train on the GPU; ``device="auto"`` picks the GPU; accelerate
drives one GPU in one process.
"""

import numpy as np
import pytest
import torch

from sbt_sklearn import SBTAnomalyDetector, SBTClassifier, SBTForecaster

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SMALL = dict(d=16, n_heads=2, n_layers=1, d_ff=32, max_epochs=3, random_state=0)


def _panel(n=64, channels=3, steps=24):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, channels, steps)).astype(np.float32)
    y = np.where(X[:, 0, -4:].mean(axis=1) > 0, "up", "down")
    return X, y


def _series(steps=600, channels=3):
    t = np.arange(steps, dtype=np.float32)
    rng = np.random.default_rng(1)
    return np.stack([np.sin(t / (5 + c)) for c in range(channels)], axis=1) + 0.05 * rng.normal(size=(steps, channels))


def _all_on(est, kind):
    return all(t.device.type == kind for t in est.module_.state_dict().values())


@pytest.mark.parametrize("extra", [{}, {"pals": True}, {"patch_len": 4}], ids=["fixed-p", "pals", "patches"])
def test_classifier_trains_on_gpu_and_loads_on_cpu(extra):
    X, y = _panel()
    gpu = SBTClassifier(**SMALL, **extra, device="cuda").fit(X, y)
    assert _all_on(gpu, "cuda")
    proba = gpu.predict_proba(X)
    cpu = SBTClassifier.from_bytes(gpu.to_bytes(), device="cpu")
    assert _all_on(cpu, "cpu")
    np.testing.assert_allclose(cpu.predict_proba(X), proba, atol=1e-5)
    np.testing.assert_array_equal(cpu.predict(X), gpu.predict(X))


def test_forecaster_trains_on_gpu_and_loads_on_cpu():
    from sbt_sklearn.data import sliding_windows

    X, y = sliding_windows(_series(), 16)
    gpu = SBTForecaster(**SMALL, device="cuda").fit(X, y)
    cpu = SBTForecaster.from_bytes(gpu.to_bytes(), device="cpu")
    np.testing.assert_allclose(cpu.predict(X), gpu.predict(X), atol=1e-4)


def test_direct_forecaster_trains_on_gpu_and_loads_on_cpu():
    from sbt_sklearn.data import sliding_windows

    X, y = sliding_windows(_series(), 16, horizon=6)
    gpu = SBTForecaster(**SMALL, horizon=6, device="cuda").fit(X, y)
    assert gpu.predict(X[:3]).shape == (3, 3, 6)
    cpu = SBTForecaster.from_bytes(gpu.to_bytes(), device="cpu")
    np.testing.assert_allclose(cpu.predict(X), gpu.predict(X), atol=1e-4)


def test_detector_trains_on_gpu_and_loads_on_cpu():
    series = _series()
    gpu = SBTAnomalyDetector(**SMALL, device="cuda").fit_series(series, 16)
    cpu = SBTAnomalyDetector.from_bytes(gpu.to_bytes(), device="cpu")
    np.testing.assert_allclose(cpu.score_series(series), gpu.score_series(series), rtol=1e-4, atol=1e-4)


def test_auto_device_picks_the_gpu():
    X, y = _panel()
    est = SBTClassifier(**SMALL, device="auto").fit(X, y)
    assert _all_on(est, "cuda")


def test_gpu_fit_is_close_to_cpu_fit():
    """Same seed, same data: the GPU's float rounding differs, the learned classifier should not much."""
    X, y = _panel(n=128)
    gpu = SBTClassifier(**SMALL, device="cuda").fit(X, y)
    cpu = SBTClassifier(**SMALL, device="cpu").fit(X, y)
    assert np.mean(gpu.predict(X) == cpu.predict(X)) >= 0.9


def test_accelerate_on_one_gpu():
    pytest.importorskip("accelerate")
    from accelerate import Accelerator

    from sbt_sklearn.distributed import AcceleratedSBTClassifier, to_local

    X, y = _panel()
    est = AcceleratedSBTClassifier(accelerator=Accelerator(), **SMALL).fit(X, y)
    assert est.accelerator.device.type == "cuda"
    local = to_local(est)
    np.testing.assert_allclose(local.predict_proba(X), est.predict_proba(X), atol=1e-5)
