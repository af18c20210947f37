"""Tests for panel (classification) data: pad_panel, load_uea_ts, JapaneseVowels."""

import numpy as np
import pytest

from sbt_sklearn.data import load_japanese_vowels, load_uea_ts, pad_panel

# ------------------------------------------------------------------------ pad_panel


def test_pad_panel_values_and_mask():
    X = [np.arange(6.0).reshape(2, 3), np.array([[7.0], [8.0]]), np.ones((2, 4))]
    X_pad, mask = pad_panel(X)
    assert X_pad.shape == (3, 2, 4)
    assert mask.shape == (3, 4) and mask.dtype == bool
    np.testing.assert_array_equal(
        mask,
        [[False, False, False, True], [False, True, True, True], [False] * 4],
    )
    np.testing.assert_array_equal(X_pad[0, :, :3], X[0])
    np.testing.assert_array_equal(X_pad[1], [[7.0, 0, 0, 0], [8.0, 0, 0, 0]])
    # padded steps hold the fill value, real steps the data
    assert np.all(X_pad.transpose(0, 2, 1)[mask] == 0.0)


def test_pad_panel_length_and_fill():
    X = [np.ones((3, 2)), np.ones((3, 5))]
    X_pad, mask = pad_panel(X, length=7, fill=np.nan)
    assert X_pad.shape == (2, 3, 7)
    assert mask.sum(axis=1).tolist() == [5, 2]
    assert np.isnan(X_pad[0, :, 2:]).all()
    assert not np.isnan(X_pad[1, :, :5]).any()


def test_pad_panel_one_dimensional_series_and_dtypes():
    X_pad, mask = pad_panel([np.arange(3), np.arange(2)])
    assert X_pad.shape == (2, 1, 3)
    assert X_pad.dtype == np.float64
    X_pad, _ = pad_panel([np.ones((2, 3), dtype=np.float32)])
    assert X_pad.dtype == np.float32


def test_pad_panel_accepts_equal_length_3d_array():
    X = np.random.default_rng(0).normal(size=(4, 2, 5))
    X_pad, mask = pad_panel(X)
    np.testing.assert_array_equal(X_pad, X)
    assert not mask.any()


def test_pad_panel_errors():
    with pytest.raises(ValueError, match="longer than length=3"):
        pad_panel([np.ones((2, 2)), np.ones((2, 4))], length=3)
    with pytest.raises(ValueError, match="same number of channels"):
        pad_panel([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="at least one series"):
        pad_panel([])
    with pytest.raises(ValueError, match="1-D or 2-D"):
        pad_panel([np.ones((2, 3, 1))])
    with pytest.raises(ValueError, match="non-numeric"):
        pad_panel([np.array([["a", "b"]])])
    with pytest.raises(ValueError, match="length must be"):
        pad_panel([np.ones((1, 2))], length=0)
    with pytest.raises(ValueError, match="length must be"):
        pad_panel([np.ones((1, 2))], length=2.5)


# ---------------------------------------------------------------------- load_uea_ts


@pytest.fixture
def needs_sktime():
    pytest.importorskip("sktime")

_HEADER = """#Tiny multivariate problem written by the tests
@problemName Tiny
@timeStamps false
@missing {missing}
@univariate {univariate}
{dimensions}@equalLength {equal}
{series_length}@classLabel {labels}
@data
"""


def _write_ts(path, rows, *, equal, univariate=False, labels="true a b", missing="false",
              n_dims=2, length=None):
    header = _HEADER.format(
        missing=missing,
        univariate=str(univariate).lower(),
        dimensions="" if univariate else f"@dimensions {n_dims}\n",
        equal=str(equal).lower(),
        series_length=f"@seriesLength {length}\n" if equal else "",
        labels=labels,
    )
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def test_load_uea_ts_equal_length(tmp_path, needs_sktime):
    path = _write_ts(
        tmp_path / "Tiny_TRAIN.ts",
        ["1,2,3,4:5,6,7,8:a", "0.5,1.5,2.5,3.5:-1,-2,-3,-4:b", "9,9,9,9:0,0,0,0:a"],
        equal=True,
        length=4,
    )
    X, y = load_uea_ts(path)
    assert len(X) == 3
    assert all(x.shape == (2, 4) and x.dtype == np.float64 for x in X)
    np.testing.assert_array_equal(X[1], [[0.5, 1.5, 2.5, 3.5], [-1, -2, -3, -4]])
    assert y.tolist() == ["a", "b", "a"]
    X_pad, mask = pad_panel(X)
    assert X_pad.shape == (3, 2, 4) and not mask.any()


def test_load_uea_ts_unequal_length_and_missing(tmp_path, needs_sktime):
    path = _write_ts(
        tmp_path / "Tiny_TEST.ts",
        ["1,2,3:4,5,6:b", "7,?:9,10:a", "1,2,3,4,5:6,7,8,9,10:b"],
        equal=False,
        missing="true",
    )
    X, y = load_uea_ts(str(path))
    assert [x.shape for x in X] == [(2, 3), (2, 2), (2, 5)]
    assert np.isnan(X[1][0, 1])
    assert y.tolist() == ["b", "a", "b"]
    X_pad, mask = pad_panel(X)
    assert X_pad.shape == (3, 2, 5)
    assert mask.sum(axis=1).tolist() == [2, 3, 0]


def test_load_uea_ts_univariate_int_labels(tmp_path, needs_sktime):
    path = _write_ts(
        tmp_path / "Uni.ts",
        ["1,2,3:1", "4,5,6:2"],
        equal=True,
        univariate=True,
        labels="true 1 2",
        length=3,
    )
    X, y = load_uea_ts(path, y_dtype="int")
    assert [x.shape for x in X] == [(1, 3), (1, 3)]
    assert y.dtype == np.int64 and y.tolist() == [1, 2]


def test_load_uea_ts_without_labels(tmp_path, needs_sktime):
    path = _write_ts(
        tmp_path / "NoLabels.ts", ["1,2,3:4,5,6", "7,8,9:1,2,3"], equal=True,
        labels="false", length=3,
    )
    X, y = load_uea_ts(path)
    assert y is None
    assert [x.shape for x in X] == [(2, 3), (2, 3)]


def test_load_uea_ts_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No .ts file"):
        load_uea_ts(tmp_path / "absent.ts")


# -------------------------------------------------------------------- JapaneseVowels


@pytest.fixture(scope="module")
def japanese_vowels():
    pytest.importorskip("sktime")
    return load_japanese_vowels()


def test_japanese_vowels(japanese_vowels):
    X_train, y_train, X_test, y_test = japanese_vowels
    assert len(X_train) == 270 and len(X_test) == 370
    assert y_train.shape == (270,) and y_test.shape == (370,)
    assert y_train.dtype.kind == "U"
    assert sorted(set(y_train)) == [str(k) for k in range(1, 10)]
    assert set(y_test) == set(y_train)
    lengths = [x.shape[1] for x in X_train + X_test]
    assert min(lengths) == 7 and max(lengths) == 29
    assert all(x.shape[0] == 12 and x.dtype == np.float64 for x in X_train + X_test)
    assert not any(np.isnan(x).any() for x in X_train + X_test)

    X_pad, mask = pad_panel(X_test, length=29)
    assert X_pad.shape == (370, 12, 29)
    np.testing.assert_array_equal((~mask).sum(axis=1), [x.shape[1] for x in X_test])
