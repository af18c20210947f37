"""Tests for the Peaks-Over-Threshold thresholds in ``sbt_sklearn.anomaly``."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import genpareto

from sbt_sklearn.anomaly import (
    GPDFitWarning,
    POTThreshold,
    fit_gpd,
    pot_threshold,
    spot_stream_threshold,
)

# keep BLAS single-threaded: L-BFGS-B is very slow under thread contention on small CI boxes
pytestmark = pytest.mark.usefixtures("one_blas_thread")


def _scipy_mle(peaks):
    c, _, scale = genpareto.fit(peaks, floc=0)
    return c, scale, genpareto.logpdf(peaks, c, 0, scale).sum()


# --------------------------------------------------------------------------------------
# fit_gpd
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("gamma", [-0.3, -0.1, 0.0, 0.2, 0.5])
def test_fit_gpd_matches_scipy_mle_and_truth(gamma):
    sigma = 3.0
    peaks = genpareto.rvs(gamma, scale=sigma, size=5000, random_state=42)
    g, s, ll = fit_gpd(peaks)
    g_ref, s_ref, ll_ref = _scipy_mle(peaks)

    # The returned log-likelihood is the GPD log-likelihood at the returned parameters.
    assert_allclose(ll, genpareto.logpdf(peaks, g, 0, s).sum(), rtol=1e-10)
    # At least as good as scipy's optimiser, and equal to it well within 1e-3 relative.
    assert ll >= ll_ref - 1e-9 * abs(ll_ref)
    assert abs(ll - ll_ref) <= 1e-6 * abs(ll_ref)
    assert abs(g - g_ref) < 5e-3
    assert abs(s / s_ref - 1) < 5e-3
    # And close to the truth (standard error of gamma is about (1 + gamma) / sqrt(n)).
    assert abs(g - gamma) < 0.06
    assert abs(s / sigma - 1) < 0.06


@pytest.mark.parametrize("n", [20, 200])
@pytest.mark.parametrize("gamma", [-0.4, 0.0, 0.3, 1.0])
def test_fit_gpd_small_samples_never_worse_than_scipy(gamma, n):
    compared = 0
    for seed in range(4):
        peaks = genpareto.rvs(gamma, scale=0.01, size=n, random_state=seed)
        _, _, ll = fit_gpd(peaks)
        g_ref, _, ll_ref = _scipy_mle(peaks)
        if g_ref <= -1:
            # No maximum-likelihood estimate exists there (the likelihood is unbounded as
            # sigma / |gamma| -> max(peaks)); both fits are arbitrary points near the boundary.
            continue
        compared += 1
        assert ll >= ll_ref - 1e-8 * abs(ll_ref)
    assert compared >= 2


def test_fit_gpd_is_scale_equivariant():
    peaks = genpareto.rvs(0.25, scale=1.0, size=3000, random_state=1)
    g1, s1, ll1 = fit_gpd(peaks)
    g2, s2, ll2 = fit_gpd(peaks * 1e-4)
    assert_allclose(g2, g1, rtol=1e-6, atol=1e-9)
    assert_allclose(s2, s1 * 1e-4, rtol=1e-6)
    assert_allclose(ll2, ll1 - peaks.size * np.log(1e-4), rtol=1e-9)


def test_fit_gpd_does_not_depend_on_peak_order():
    peaks = genpareto.rvs(-0.1, size=1000, random_state=2)
    shuffled = np.random.default_rng(0).permutation(peaks)
    assert fit_gpd(peaks) == fit_gpd(shuffled) == fit_gpd(np.sort(peaks)[::-1])


def test_fit_gpd_degenerate_inputs():
    with pytest.raises(ValueError, match="empty"):
        fit_gpd([])
    with pytest.raises(ValueError, match="strictly positive"):
        fit_gpd([1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="strictly positive"):
        fit_gpd([0.0, 2.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit_gpd([1.0, np.nan])
    with pytest.raises(ValueError, match="one-dimensional"):
        fit_gpd([[1.0, 2.0]])
    # One peak or all-equal peaks: exponential fallback with a warning.
    for peaks in ([2.5], [2.5, 2.5, 2.5]):
        with pytest.warns(GPDFitWarning, match="equal"):
            g, s, ll = fit_gpd(peaks)
        assert g == 0.0
        assert s == 2.5
        assert_allclose(ll, -len(peaks) * (np.log(2.5) + 1))


# --------------------------------------------------------------------------------------
# pot_threshold
# --------------------------------------------------------------------------------------


def test_pot_threshold_formula_by_hand():
    rng = np.random.default_rng(0)
    ref = rng.exponential(size=2000)
    q, level = 1e-4, 0.95
    t = np.sort(ref)[int(level * ref.size)]
    peaks = ref[ref > t] - t
    g, s, _ = fit_gpd(peaks)
    r = q * ref.size / peaks.size
    expected = t + s / g * (r ** (-g) - 1)
    assert_allclose(pot_threshold(ref, q=q, level=level), expected, rtol=1e-12)
    scaled = pot_threshold(ref, q=q, level=level, multiplier=1.5)
    assert_allclose(scaled, 1.5 * expected, rtol=1e-12)


@pytest.mark.parametrize(
    "dist",
    [
        ("exponential", lambda rng, n: rng.exponential(size=n)),
        ("gpd+0.3", lambda rng, n: genpareto.rvs(0.3, size=n, random_state=rng)),
        ("gpd-0.2", lambda rng, n: genpareto.rvs(-0.2, size=n, random_state=rng)),
        ("normal", lambda rng, n: rng.normal(size=n)),
    ],
    ids=lambda d: d[0],
)
def test_pot_threshold_exceedance_rate_is_close_to_q(dist):
    _, draw = dist
    rng = np.random.default_rng(123)
    q = 1e-3
    tau = pot_threshold(draw(rng, 200_000), q=q, level=0.98)
    rate = np.mean(draw(rng, 1_000_000) > tau)
    assert q / 2 < rate < 2 * q


def test_pot_threshold_is_monotone_in_q():
    ref = genpareto.rvs(0.1, size=20_000, random_state=3)
    qs = [1e-2, 3e-3, 1e-3, 1e-4, 1e-5, 1e-7]
    taus = [pot_threshold(ref, q=q, level=0.97) for q in qs]
    assert np.all(np.diff(taus) > 0)


def test_pot_threshold_relaxes_level_on_ties_at_the_top():
    # The top 5 % are tied, so no score exceeds t until level drops below 0.95.
    ref = np.r_[np.linspace(0.0, 1.0, 950), np.full(50, 2.0)]
    with pytest.warns(GPDFitWarning, match="relaxation"):
        pot = POTThreshold(q=1e-4, level=0.98).fit(ref)
    assert pot.level_ < 0.95
    assert pot.t_ < 2.0
    assert np.isfinite(pot.threshold_)


def test_pot_threshold_degenerate_inputs():
    with pytest.raises(ValueError, match="calibration failed"):
        pot_threshold(np.ones(500))
    with pytest.raises(ValueError, match="calibration failed"):
        pot_threshold(np.r_[np.zeros(50), np.ones(950)], max_retries=5)
    with pytest.raises(ValueError, match="at least 2"):
        pot_threshold([1.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        pot_threshold([1.0, 2.0, np.inf])
    with pytest.raises(ValueError, match="one-dimensional"):
        pot_threshold(np.ones((10, 2)))
    ref = np.arange(100.0)
    for kwargs in ({"q": 0.0}, {"q": 1.0}, {"level": 0.0}, {"level": 1.0}, {"multiplier": 0.0}):
        with pytest.raises(ValueError):
            pot_threshold(ref, **kwargs)


def test_pot_threshold_stream_modes():
    rng = np.random.default_rng(5)
    ref = rng.exponential(size=5000)
    q, level = 1e-3, 0.9
    z = pot_threshold(ref, q=q, level=level)
    t = np.sort(ref)[int(level * ref.size)]

    stream = rng.exponential(size=50)
    static = pot_threshold(ref, q=q, level=level, stream_scores=stream)
    assert_array_equal(static, np.full(50, z))

    # Dynamic (SPOT): scores below t never change the threshold; a peak between t and z does;
    # an alarm (above the current threshold) does not.
    below = np.full(5, t / 2)
    assert_allclose(pot_threshold(ref, q=q, level=level, stream_scores=below, dynamic=True), z)
    walk = pot_threshold(
        ref, q=q, level=level, stream_scores=[t / 2, (t + z) / 2, 0.0, 10 * z, 0.0], dynamic=True
    )
    assert walk[0] == z and walk[1] == z  # thresholds in force when each score arrived
    assert walk[2] != z  # refitted after the peak
    assert walk[3] == walk[2] == walk[4]  # the alarm changed nothing


# --------------------------------------------------------------------------------------
# The SBT/TranAD streaming protocol
# --------------------------------------------------------------------------------------


def test_spot_stream_threshold_quirk_hand_computed():
    init = np.arange(1.0, 101.0)  # n = 100, level 0.9 -> t = sort(init)[90] = 91
    q, level, mult = 1e-3, 0.9, 1.04
    t = 91.0
    z = pot_threshold(init, q=q, level=level)
    assert z > t

    # First score above t at index 2 (91.0 itself is not above t): z, z, then t for the rest.
    stream = np.array([0.0, 91.0, 91.5, 0.0, 500.0, 0.0])
    tau, recorded = spot_stream_threshold(init, stream, q, level, mult, return_thresholds=True)
    assert_array_equal(recorded, [z, z, t, t, t, t])
    assert_allclose(tau, (2 * z + 4 * t) / 6 * mult, rtol=1e-14)

    # Never above t: the calibrated z_q throughout.
    assert_allclose(spot_stream_threshold(init, [1.0, 91.0, 50.0], q, level, mult), z * mult)
    # Above t at once: t throughout.
    assert_allclose(spot_stream_threshold(init, [95.0, 1.0], q, level, mult), t * mult)


def test_spot_stream_threshold_errors():
    with pytest.raises(ValueError, match="empty"):
        spot_stream_threshold(np.arange(100.0), [])
    with pytest.raises(ValueError, match="calibration failed"):
        spot_stream_threshold(np.zeros(100), [1.0])


# --------------------------------------------------------------------------------------
# POTThreshold
# --------------------------------------------------------------------------------------


def test_pot_threshold_class_matches_function():
    ref = genpareto.rvs(0.2, size=10_000, random_state=7)
    pot = POTThreshold(q=1e-4, level=0.98, multiplier=1.1)
    assert pot.fit(ref) is pot
    assert_allclose(pot.threshold_, pot_threshold(ref, q=1e-4, level=0.98, multiplier=1.1))
    assert pot.t_ == np.sort(ref)[int(0.98 * ref.size)]
    assert pot.n_peaks_ == np.count_nonzero(ref > pot.t_)
    assert pot.n_reference_ == ref.size
    assert pot.level_ == 0.98
    g, s, _ = fit_gpd(ref[ref > pot.t_] - pot.t_)  # the fit does not depend on peak order
    assert (pot.gamma_, pot.sigma_) == (g, s)
    assert_array_equal(pot.predict([0.0, pot.threshold_, pot.threshold_ + 1]), [0, 0, 1])


def test_pot_threshold_class_stream():
    ref = np.random.default_rng(0).exponential(size=3000)
    stream = np.random.default_rng(1).exponential(size=20)
    static = POTThreshold(q=1e-3).fit(ref, stream_scores=stream)
    assert_array_equal(static.thresholds_, np.full(20, static.threshold_))
    dyn = POTThreshold(q=1e-3, dynamic=True).fit(ref, stream_scores=stream)
    expected = pot_threshold(ref, q=1e-3, stream_scores=stream, dynamic=True)
    assert_allclose(dyn.thresholds_, expected)
    assert dyn.threshold_ > 0
    # Refitting without a stream drops the per-step thresholds of the earlier fit.
    assert not hasattr(dyn.fit(ref), "thresholds_")


def test_pot_threshold_unfitted_predict():
    with pytest.raises(AttributeError, match="not fitted"):
        POTThreshold().predict([1.0])


@pytest.mark.parametrize(
    ("name", "dataset", "level", "multiplier"),
    [
        ("sbt", "SMD", 0.99995, 1.04),
        ("sbt", "MSL", 0.97, 1.0),
        ("sbt", "SMAP", 0.97, 1.0),
        ("tranad", "SMD", 0.99995, 1.06),
        ("tranad", "MSL", 0.999, 1.04),
        ("tranad", "SMAP", 0.98, 1.0),
    ],
)
def test_presets(name, dataset, level, multiplier):
    pot = POTThreshold.from_preset(name, dataset=dataset)
    assert (pot.q, pot.level, pot.multiplier) == (1e-5, level, multiplier)
    assert POTThreshold.from_preset(name.upper(), dataset=dataset.lower()).level == level


def test_presets_errors_and_overrides():
    with pytest.raises(ValueError, match="unknown preset"):
        POTThreshold.from_preset("nope", dataset="SMD")
    with pytest.raises(ValueError, match="no parameters"):
        POTThreshold.from_preset("sbt", dataset="Yahoo")
    pot = POTThreshold.from_preset("sbt", dataset="SMAP", dynamic=True, q=1e-4)
    assert pot.dynamic and pot.q == 1e-4 and pot.level == 0.97


def test_no_warning_on_regular_input():
    ref = np.random.default_rng(0).exponential(size=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a GPD-fit or retry warning would fail the test
        z = pot_threshold(ref, q=1e-4)
    # for Exp(1) the 1 - 1e-4 quantile is ln(1e4) = 9.21: the tail fit must land close to it
    assert np.isfinite(z) and np.quantile(ref, 0.98) < z
    assert z == pytest.approx(np.log(1e4), rel=0.2)


def test_imports_only_numpy_and_scipy():
    code = (
        "import sys, sbt_sklearn.anomaly, sbt_sklearn.metrics; "
        "bad = [m for m in ('torch', 'sklearn', 'skorch', 'sktime') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == ""
