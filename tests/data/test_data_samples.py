"""Tests for the samples shipped in sbt_sklearn/data/_samples/."""

import hashlib
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from sbt_sklearn.data import (
    load_ett,
    load_sample_etth1,
    load_sample_japanese_vowels,
    load_sample_telemetry,
    load_smap_msl,
)

# sha256 of the shipped files. The data files must stay byte-identical to the upstream
# copies in the shared data folder (CHECKSUMS.tsv there lists the same digests).
SHIPPED_SHA256 = {
    "ETTh1.csv.gz": "293f0515695d9de30d8031450c8e145b4fe57765355e29ca1bc4b351f784a241",
    "LICENSE_ETDataset_CC-BY-ND-4.0.txt": (
        "83cbb5c31415b1d0ee1d20d35dae3fda3a045b85fae9364cc57facc9cd6e0946"
    ),
    "LICENSE_TranAD_BSD-3.txt": (
        "4389d205c769d6edf92105fe2f4ac8cb8b8feabcef7baa359136dd3eec79cf12"
    ),
    "LICENSE_telemanom.txt": (
        "c07845edc684553474630ec71bb22bbdf44221cbe8df805100fe6ea0ba30691d"
    ),
    "SMAP_MSL_train_G-7.npy.gz": (
        "e4dd6d0d9d451c4e8f31025346f75012202b1cae8540ab1e4dcf358abc1a9422"
    ),
    "SMAP_MSL_test_G-7.npy.gz": (
        "01441f1aa0af0542c3b42d2a7f2f50fe69a8a14801b245840b7a190de02793aa"
    ),
    "SMAP_MSL_train_M-7.npy.gz": (
        "63d02f0af2c0727451df27ca0d98c81d186958d7fbe344443d110348a7cc263c"
    ),
    "SMAP_MSL_test_M-7.npy.gz": (
        "624fda6fb3a5a404c6da70720499742677369e19d026a90974b621715b5c86d5"
    ),
    "SMAP_MSL_train_T-8.npy.gz": (
        "0138b04633edee56f14cf700b3cbcfbc0e4a878d80b54d88a425de98dfc18822"
    ),
    "SMAP_MSL_test_T-8.npy.gz": (
        "e83c48675b7e1384c6dff0a95232989d6ab6daf4d336b17959fe35090b4e263e"
    ),
}

SAMPLE_SHAPES = {
    # channel: (train shape, test shape, anomalous points, segments)
    "G-7": ((2446, 25), (8029, 25), 268, 3),
    "M-7": ((1587, 55), (2156, 55), 101, 1),
    "T-8": ((748, 55), (1519, 55), 102, 2),
}


def _samples_dir():
    return resources.files("sbt_sklearn.data").joinpath("_samples")


@pytest.mark.parametrize("name", sorted(SHIPPED_SHA256))
def test_shipped_files_are_verbatim(name):
    data = _samples_dir().joinpath(name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHIPPED_SHA256[name]


def test_samples_folder_is_small_and_documented():
    files = [f for f in _samples_dir().iterdir() if f.is_file()]
    names = {f.name for f in files}
    assert set(SHIPPED_SHA256) <= names
    assert {"README.md", "labeled_anomalies_sample.csv"} <= names
    assert sum(len(f.read_bytes()) for f in files) < 1_000_000
    readme = _samples_dir().joinpath("README.md").read_text(encoding="utf-8")
    for name in SHIPPED_SHA256:
        assert name in readme


def test_load_sample_etth1():
    frame = load_sample_etth1()
    assert frame.shape == (17_420, 7)
    assert list(frame.columns) == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index[0] == pd.Timestamp("2016-07-01 00:00")
    assert frame.index[-1] == pd.Timestamp("2018-06-26 19:00")
    assert all(dtype == np.float64 for dtype in frame.dtypes)


@pytest.mark.parametrize("channel", sorted(SAMPLE_SHAPES))
def test_load_sample_telemetry(channel):
    train, test, labels = load_sample_telemetry(channel)
    train_shape, test_shape, n_anomalous, n_segments = SAMPLE_SHAPES[channel]
    assert train.shape == train_shape and test.shape == test_shape
    assert labels.shape == (test_shape[0],)
    assert int(labels.sum()) == n_anomalous
    assert int(np.sum(np.diff(np.concatenate([[0], labels, [0]])) == 1)) == n_segments


def test_load_sample_telemetry_default_and_error():
    train, test, labels = load_sample_telemetry()
    assert train.shape == (748, 55)
    with pytest.raises(ValueError, match="channel must be one of"):
        load_sample_telemetry("A-1")


def test_load_sample_japanese_vowels():
    pytest.importorskip("sktime")
    X_train, y_train, X_test, y_test = load_sample_japanese_vowels()
    assert (len(X_train), len(y_train), len(X_test), len(y_test)) == (270, 270, 370, 370)


# ------------------------------------------- consistency with the full datasets


def test_sample_etth1_matches_full_loader(data_home):
    if not (data_home / "ETT" / "ETTh1.csv.gz").exists():
        pytest.skip("ETT/ETTh1.csv.gz not in the data folder")
    frame = load_sample_etth1()
    train, test = load_ett("ETTh1", data_home=data_home)
    pd.testing.assert_frame_equal(frame.iloc[:8640], train)
    pd.testing.assert_frame_equal(frame.iloc[11520:14400], test)


def test_sample_telemetry_matches_full_loader(data_home):
    if not (data_home / "SMAP_MSL" / "labeled_anomalies.csv").exists():
        pytest.skip("SMAP_MSL not in the data folder")
    train, test, labels, channels = load_smap_msl(
        "MSL", data_home=data_home, return_channels=True
    )
    row = channels.set_index("chan_id").loc["T-8"]
    s_train, s_test, s_labels = load_sample_telemetry("T-8")
    np.testing.assert_array_equal(s_train, train[row.train_start : row.train_stop])
    np.testing.assert_array_equal(s_test, test[row.test_start : row.test_stop])
    np.testing.assert_array_equal(s_labels, labels[row.test_start : row.test_stop])
