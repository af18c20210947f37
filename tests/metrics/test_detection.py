"""Tests for the detection metrics in ``sbt_sklearn.metrics``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.metrics import f1_score, precision_score, recall_score

from sbt_sklearn.metrics import (
    DetectionScores,
    benign_window_filter,
    label_segments,
    point_adjust,
    precision_recall_f1,
)

binary_lists = st.lists(st.integers(0, 1), min_size=0, max_size=60)
paired = st.integers(0, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
    )
)


# --------------------------------------------------------------------------------------
# brute-force references
# --------------------------------------------------------------------------------------


def _segments_loop(y):
    out, start = [], None
    for i, v in enumerate(list(y) + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append([start, i])
            start = None
    return out


def _point_adjust_loop(y_true, y_pred):
    adjusted = list(y_pred)
    for start, end in _segments_loop(y_true):
        if any(y_pred[start:end]):
            adjusted[start:end] = [1] * (end - start)
    return adjusted


def _benign_loop(labels, window):
    keep = []
    for i in range(len(labels) - window + 1):
        w = labels[i : i + window]
        if w[-1] == 1 or not any(w):
            keep.append(i)
    return keep


def _random_pairs(n_cases=60, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        n = int(rng.integers(1, 300))
        y_true = (rng.random(n) < rng.uniform(0.0, 0.6)).astype(int)
        # make anomalies come in runs, as in real labels
        runs = np.convolve(y_true, np.ones(int(rng.integers(1, 6))))[:n]
        y_true = (runs > 0).astype(int)
        y_pred = (rng.random(n) < rng.uniform(0.0, 0.5)).astype(int)
        yield y_true, y_pred


# --------------------------------------------------------------------------------------
# label_segments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "expected"),
    [
        ([], np.zeros((0, 2), dtype=int)),
        ([0, 0, 0], np.zeros((0, 2), dtype=int)),
        ([1], [[0, 1]]),
        ([1, 1, 1], [[0, 3]]),
        ([1, 0, 0, 1, 1, 0, 1], [[0, 1], [3, 5], [6, 7]]),
        ([0, 1, 1, 0], [[1, 3]]),
        ([True, False, True], [[0, 1], [2, 3]]),
    ],
)
def test_label_segments_by_hand(y, expected):
    seg = label_segments(y)
    assert seg.shape[1] == 2
    assert_array_equal(seg, np.asarray(expected).reshape(-1, 2))


@settings(max_examples=150, deadline=None)
@given(binary_lists)
def test_label_segments_matches_loop(y):
    assert label_segments(y).tolist() == _segments_loop(y)


def test_label_segments_rejects_bad_input():
    with pytest.raises(ValueError, match="only 0 and 1"):
        label_segments([0, 2, 1])
    with pytest.raises(ValueError, match="one-dimensional"):
        label_segments([[0, 1]])
    with pytest.raises(ValueError, match="binary labels"):
        label_segments(["a", "b"])


# --------------------------------------------------------------------------------------
# point_adjust
# --------------------------------------------------------------------------------------


def test_point_adjust_by_hand():
    #        segment at 0 (hit) | gap, FP | segment (no hit) | segment (2 hits)   | end seg (hit)
    y_true = [1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1]
    y_pred = [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0]
    expect = [1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1]
    assert_array_equal(point_adjust(y_true, y_pred), expect)


def test_point_adjust_segment_at_index_zero_is_adjusted():
    # The reference code's backward scan stops before index 0 and leaves y_pred[0] = 0 here.
    assert_array_equal(point_adjust([1, 1, 0], [0, 1, 0]), [1, 1, 0])
    assert_array_equal(point_adjust([1], [1]), [1])
    assert_array_equal(point_adjust([1, 1], [0, 0]), [0, 0])


def test_point_adjust_edge_cases_and_dtypes():
    assert point_adjust([], []).size == 0
    assert_array_equal(point_adjust([0, 0, 0], [1, 0, 1]), [1, 0, 1])
    out = point_adjust(np.array([1, 1, 0]), np.array([False, True, False]))
    assert out.dtype == np.bool_
    assert_array_equal(out, [True, True, False])
    y_pred = np.array([0, 1, 0], dtype=np.int8)
    out = point_adjust([1, 1, 1], y_pred)
    assert out.dtype == np.int8
    assert_array_equal(y_pred, [0, 1, 0])  # input not modified
    with pytest.raises(ValueError, match="same length"):
        point_adjust([0, 1], [0, 1, 1])
    with pytest.raises(ValueError, match="only 0 and 1"):
        point_adjust([0, 1], [0, 3])


@settings(max_examples=200, deadline=None)
@given(paired)
def test_point_adjust_properties(pair):
    y_true, y_pred = pair
    adjusted = point_adjust(y_true, y_pred)
    assert adjusted.tolist() == _point_adjust_loop(y_true, y_pred)
    assert np.all(adjusted >= np.asarray(y_pred, dtype=int))  # never lowers a prediction
    assert_array_equal(point_adjust(y_true, adjusted), adjusted)  # idempotent
    outside = np.asarray(y_true, dtype=int) == 0
    assert_array_equal(adjusted[outside], np.asarray(y_pred, dtype=int)[outside])


def test_point_adjust_matches_loop_on_random_arrays():
    for y_true, y_pred in _random_pairs():
        expected = _point_adjust_loop(list(y_true), list(y_pred))
        assert point_adjust(y_true, y_pred).tolist() == expected


# --------------------------------------------------------------------------------------
# precision_recall_f1
# --------------------------------------------------------------------------------------


def _sklearn_scores(y_true, y_pred):
    kw = {"zero_division": 0}
    return (
        precision_score(y_true, y_pred, **kw),
        recall_score(y_true, y_pred, **kw),
        f1_score(y_true, y_pred, **kw),
    )


def test_precision_recall_f1_equals_sklearn_on_random_inputs():
    for y_true, y_pred in _random_pairs(seed=1):
        res = precision_recall_f1(y_true, y_pred)
        assert isinstance(res, DetectionScores)
        assert_allclose(res, _sklearn_scores(y_true, y_pred), rtol=1e-12, atol=1e-15)
        adjusted = precision_recall_f1(y_true, y_pred, point_adjusted=True)
        assert_allclose(
            adjusted, _sklearn_scores(y_true, point_adjust(y_true, y_pred)), rtol=1e-12, atol=1e-15
        )


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [([0, 0, 0], [0, 0, 0]), ([0, 0, 0], [1, 0, 0]), ([1, 1, 0], [0, 0, 0]), ([1, 1], [1, 1])],
)
def test_precision_recall_f1_zero_division(y_true, y_pred):
    assert_allclose(precision_recall_f1(y_true, y_pred), _sklearn_scores(y_true, y_pred))


def test_precision_recall_f1_by_hand_and_smoothing():
    y_true = [0, 1, 1, 1, 0, 0, 1, 1]
    y_pred = [1, 0, 1, 0, 0, 0, 0, 0]
    # TP = 1, FP = 1, FN = 4
    assert precision_recall_f1(y_true, y_pred) == (0.5, 0.2, 2 / 7)
    # point adjusted: TP = 3, FP = 1, FN = 2
    assert precision_recall_f1(y_true, y_pred, point_adjusted=True) == (0.75, 0.6, 6 / 9)
    s = 1e-5
    p, r = 1 / (2 + s), 1 / (5 + s)
    res = precision_recall_f1(y_true, y_pred, smoothing=s)
    assert_allclose(res, (p, r, 2 * p * r / (p + r + s)), rtol=1e-14)
    assert precision_recall_f1([0, 0], [0, 0], smoothing=s) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="smoothing"):
        precision_recall_f1(y_true, y_pred, smoothing=-1.0)
    res = precision_recall_f1(y_true, y_pred)
    assert (res.precision, res.recall, res.f1) == tuple(res)


# --------------------------------------------------------------------------------------
# benign_window_filter
# --------------------------------------------------------------------------------------


def test_benign_window_filter_by_hand():
    labels = [0, 0, 1, 1, 0, 0, 0, 1]
    # windows of 3: [001] keep, [011] keep, [110] drop, [100] drop, [000] keep, [001] keep
    assert_array_equal(benign_window_filter(labels, 3), [0, 1, 4, 5])
    assert_array_equal(benign_window_filter(labels, 1), np.arange(8))
    assert_array_equal(benign_window_filter(labels, 8), [0])  # last label is 1
    assert benign_window_filter(labels, 9).size == 0
    assert benign_window_filter([], 2).size == 0


@settings(max_examples=200, deadline=None)
@given(binary_lists, st.integers(1, 12))
def test_benign_window_filter_matches_loop_and_keeps_time_order(labels, window):
    kept = benign_window_filter(labels, window)
    assert kept.tolist() == _benign_loop(labels, window)
    assert np.all(np.diff(kept) > 0)


def test_benign_window_filter_rejects_bad_window():
    for window in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="window"):
            benign_window_filter([0, 1, 0], window)
