"""Tests for ``sbt_sklearn.anomaly.tail_levels``: scores of separate detectors on one scale."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sbt_sklearn.anomaly import tail_levels

# a reference whose quantiles are exact: 0, 1, ..., 10000 (the q-quantile is 10000 q)
REFERENCE = np.arange(10_001, dtype=np.float64)


@pytest.mark.parametrize("p", [1.0, 0.5, 0.1, 0.01, 0.001, 1e-4])
def test_level_at_a_reference_quantile_is_minus_log_its_tail_probability(p):
    # 1 - p must be one of the stored upper-tail probabilities (geometric, 1 to 1e-4, 65 of them)
    # or fall between two; either way the level is -log p up to the linear interpolation
    level = tail_levels(REFERENCE, np.array([10_000 * (1 - p)]))[0]
    assert level == pytest.approx(-np.log(p), abs=0.03 * max(1.0, -np.log(p)))


def test_stored_probabilities_are_hit_exactly():
    probs = np.geomspace(1.0, 1e-4, 65)[[0, 16, 32, 48, 64]]  # 1, 0.1, 0.01, 0.001, 1e-4
    levels = tail_levels(REFERENCE, 10_000 * (1 - probs))
    assert_allclose(levels, -np.log(probs), atol=2e-4)


def test_below_the_smallest_reference_score_the_level_is_zero():
    assert_allclose(tail_levels(REFERENCE, np.array([-1e6, -1.0, 0.0])), 0.0)


def test_levels_are_monotone_and_keep_the_order_beyond_the_reference():
    grid = np.linspace(-100, 30_000, 2_001)
    levels = tail_levels(REFERENCE, grid)
    assert np.all(np.diff(levels) >= 0)
    beyond = levels[grid > 10_000]
    assert np.all(np.diff(beyond) > 0)  # no plateau: extreme scores stay ranked
    # the documented slope beyond the last quantile (9999, at tail probability 1e-4): the top
    # level per width of the quantiles' range [0, 9999]
    top = -np.log(1e-4)
    expected = top + (20_000 - 9_999) * top / 9_999
    assert tail_levels(REFERENCE, np.array([20_000.0]))[0] == pytest.approx(expected, rel=1e-5)


def test_levels_do_not_depend_on_the_unit_of_the_scores():
    rng = np.random.default_rng(0)
    ref, scores = rng.gamma(2.0, size=5_000), rng.gamma(2.0, size=300) * 1.5
    base = tail_levels(ref, scores)
    assert_allclose(tail_levels(3.0 * ref + 7.0, 3.0 * scores + 7.0), base, atol=1e-4)


def test_pooled_levels_of_different_detectors_share_their_quantiles():
    # two detectors with very different score scales: at level log(100) each flags 1 % of its
    # own reference, so one threshold on the pooled levels is each detector's own 99 % quantile
    rng = np.random.default_rng(1)
    small, large = rng.exponential(0.01, 20_000), rng.lognormal(5.0, 2.0, 20_000)
    for ref in (small, large):
        flagged = (tail_levels(ref, ref) > np.log(100)).mean()
        assert flagged == pytest.approx(0.01, abs=0.001)


@pytest.mark.parametrize(
    "reference, scores, match",
    [
        (np.ones((3, 2)), np.ones(3), "reference must be one-dimensional"),
        (np.ones(3), np.ones((3, 1)), "scores must be one-dimensional"),
        (np.array([]), np.ones(3), "reference is empty"),
        (np.array([1.0, np.nan]), np.ones(3), "reference contains NaN"),
        (np.ones(3), np.array([np.inf]), "scores contains NaN or infinite"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(reference, scores, match):
    with pytest.raises(ValueError, match=match):
        tail_levels(reference, scores)


def test_a_constant_reference_counts_one_level_per_unit_above_it():
    levels = tail_levels(np.full(100, 2.0), np.array([1.0, 2.0, 3.0, 4.0]))
    assert_allclose(levels, [0.0, 0.0, 1.0, 2.0], atol=1e-6)
