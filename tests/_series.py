"""Small noisy multivariate sine series shared by the forecaster and detector tests."""

import numpy as np


def sine_series(n=240, c=2, seed=0):
    """(n, c) float32: channel i a sine of period 12 + 5 i plus Gaussian noise of scale 0.1."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    cols = [np.sin(2 * np.pi * t / (12 + 5 * i)) + 0.1 * rng.normal(size=n) for i in range(c)]
    return np.stack(cols, axis=1).astype(np.float32)


def detector_series(n=600, c=3, seed=0):
    """(n, c) float32: channel k a sine of period 2 pi (5 + 3 k) steps plus Gaussian noise of scale 0.05."""
    t = np.arange(n, dtype=np.float32)
    rng = np.random.default_rng(seed)
    cols = [np.sin(t / (5 + 3 * k)) for k in range(c)]
    return (np.stack(cols, axis=1) + 0.05 * rng.standard_normal((n, c))).astype(np.float32)
