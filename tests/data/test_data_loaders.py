"""Tests for the dataset loaders.

Tests on the real data use the ``data_home`` fixture (tests/data/conftest.py) and are
skipped when the data folder is not available. The split logic is also tested on small
files written here, so it is covered without the real data.
"""

import gzip
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sbt_sklearn.data import (
    get_data_home,
    load_ett,
    load_smap_msl,
    load_weather,
)

ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
WEATHER_COLUMNS = [
    "Visibility",
    "DryBulbFarenheit",
    "DryBulbCelsius",
    "WetBulbFarenheit",
    "DewPointFarenheit",
    "DewPointCelsius",
    "RelativeHumidity",
    "WindSpeed",
    "WindDirection",
    "StationPressure",
    "Altimeter",
    "WetBulbCelsius",
]


def _require(data_home, *parts):
    path = data_home.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{'/'.join(parts)} not in the data folder {data_home}")
    return data_home


def _n_runs(labels):
    """Number of maximal runs of 1s."""
    padded = np.concatenate([[0], labels, [0]])
    return int(np.sum(np.diff(padded) == 1))


# --------------------------------------------------------------------------- imports


def test_import_pulls_in_only_numpy_and_pandas():
    code = (
        "import sys, sbt_sklearn.data\n"
        "bad = [m for m in ('torch', 'sklearn', 'skorch', 'sktime') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


# ----------------------------------------------------------------------- data home


def test_get_data_home_argument_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv("SBT_DATA_HOME", raising=False)
    assert get_data_home(tmp_path) == tmp_path.resolve()
    assert get_data_home(str(tmp_path)) == tmp_path.resolve()
    monkeypatch.setenv("SBT_DATA_HOME", str(tmp_path))
    assert get_data_home() == tmp_path.resolve()
    # the argument wins over the environment
    other = tmp_path / "other"
    other.mkdir()
    assert get_data_home(other) == other.resolve()


def test_get_data_home_unset_raises(monkeypatch):
    monkeypatch.delenv("SBT_DATA_HOME", raising=False)
    with pytest.raises(FileNotFoundError, match="data_home=.*SBT_DATA_HOME"):
        get_data_home()
    monkeypatch.setenv("SBT_DATA_HOME", "  ")
    with pytest.raises(FileNotFoundError, match="SBT_DATA_HOME is not set"):
        get_data_home()


def test_get_data_home_missing_folder_raises(tmp_path, monkeypatch):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="does not exist.*ETT/, Weather_WTH/"):
        get_data_home(missing)
    monkeypatch.setenv("SBT_DATA_HOME", str(missing))
    with pytest.raises(FileNotFoundError, match="from SBT_DATA_HOME"):
        get_data_home()


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="ETT/ETTm1.csv.gz"):
        load_ett("ETTm1", data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="Weather_WTH/WTH.csv.gz"):
        load_weather(data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="labeled_anomalies.csv"):
        load_smap_msl("MSL", data_home=tmp_path)


def test_invalid_names(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        load_ett("ETTx9", data_home=tmp_path)
    with pytest.raises(ValueError, match="spacecraft must be"):
        load_smap_msl("Voyager", data_home=tmp_path)


# ----------------------------------------------------------- synthetic-file tests


def _write_ett(folder, name, n_rows, freq):
    index = pd.date_range("2016-07-01", periods=n_rows, freq=freq, name="date")
    frame = pd.DataFrame(
        np.arange(n_rows * 7, dtype=float).reshape(n_rows, 7),
        index=index,
        columns=ETT_COLUMNS,
    )
    (folder / "ETT").mkdir(exist_ok=True)
    frame.to_csv(folder / "ETT" / f"{name}.csv.gz")
    return frame


def test_ett_informer_split_on_synthetic_file(tmp_path):
    frame = _write_ett(tmp_path, "ETTh2", 20 * 30 * 24 + 50, "h")
    train, test = load_ett("ETTh2", data_home=tmp_path)
    assert train.shape == (8640, 7) and test.shape == (2880, 7)
    pd.testing.assert_frame_equal(train, frame.iloc[:8640], check_freq=False)
    pd.testing.assert_frame_equal(test, frame.iloc[11520:14400], check_freq=False)



def test_ett_too_short_file(tmp_path):
    _write_ett(tmp_path, "ETTh1", 100, "h")
    with pytest.raises(ValueError, match="12/4/4-month split needs at least 14400"):
        load_ett("ETTh1", data_home=tmp_path)
    # 15-minute files count four rows per hour
    _write_ett(tmp_path, "ETTm2", 20 * 30 * 24, "15min")
    with pytest.raises(ValueError, match="split needs at least 57600"):
        load_ett("ETTm2", data_home=tmp_path)


def _write_npy_gz(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        np.save(fh, array)


def _fake_telemetry(folder):
    """Tiny SMAP_MSL folder: three SMAP channels (one is P-2), one MSL channel."""
    rows = [
        # chan_id, spacecraft, sequences, n_train, n_test
        ("B-2", "SMAP", [[3, 5]], 6, 10),
        ("P-2", "SMAP", [[0, 1]], 4, 5),
        ("A-1", "SMAP", [[0, 0], [7, 8]], 5, 9),
        ("M-1", "MSL", [[2, 2]], 3, 4),
    ]
    table = []
    for k, (chan, craft, seqs, n_train, n_test) in enumerate(rows):
        width = 3 if craft == "SMAP" else 2
        _write_npy_gz(
            folder / "SMAP_MSL" / "train" / f"{chan}.npy.gz",
            np.full((n_train, width), 10.0 * k),
        )
        _write_npy_gz(
            folder / "SMAP_MSL" / "test" / f"{chan}.npy.gz",
            np.full((n_test, width), 10.0 * k + 1),
        )
        table.append(
            {
                "chan_id": chan,
                "spacecraft": craft,
                "anomaly_sequences": json.dumps(seqs),
                "class": "[point]",
                "num_values": n_test,
            }
        )
    pd.DataFrame(table).to_csv(folder / "SMAP_MSL" / "labeled_anomalies.csv", index=False)


def test_smap_msl_assembly_on_synthetic_files(tmp_path):
    _fake_telemetry(tmp_path)
    train, test, labels, channels = load_smap_msl(
        "SMAP", data_home=tmp_path, return_channels=True
    )
    # P-2 dropped, A-1 (written 3rd, value 20/21) sorted before B-2 (value 0/1)
    assert list(channels["chan_id"]) == ["A-1", "B-2"]
    assert train.shape == (5 + 6, 3) and test.shape == (9 + 10, 3)
    np.testing.assert_array_equal(train[:5], 20.0)
    np.testing.assert_array_equal(train[5:], 0.0)
    np.testing.assert_array_equal(test[:9], 21.0)
    expected = np.zeros(19, dtype=int)
    expected[[0, 7, 8]] = 1  # [0, 0] and [7, 8], inclusive
    expected[9 + 3 : 9 + 6] = 1  # B-2: [3, 5], offset by A-1's 9 test rows
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype.kind == "i"
    assert list(channels["test_start"]) == [0, 9]
    assert list(channels["test_stop"]) == [9, 19]
    assert list(channels["train_stop"]) == [5, 11]
    assert list(channels["n_segments"]) == [2, 1]

    out = load_smap_msl("MSL", data_home=tmp_path)
    assert len(out) == 3
    assert out[2].tolist() == [0, 0, 1, 0]


def test_smap_msl_rejects_inconsistent_files(tmp_path):
    _fake_telemetry(tmp_path)
    csv = tmp_path / "SMAP_MSL" / "labeled_anomalies.csv"
    table = pd.read_csv(csv)
    table.loc[table.chan_id == "M-1", "anomaly_sequences"] = "[[2, 4]]"  # past the end
    table.to_csv(csv, index=False)
    with pytest.raises(ValueError, match="outside"):
        load_smap_msl("MSL", data_home=tmp_path)
    table.loc[table.chan_id == "M-1", "num_values"] = 99
    table.to_csv(csv, index=False)
    with pytest.raises(ValueError, match="test values"):
        load_smap_msl("MSL", data_home=tmp_path)


# ---------------------------------------------------------------- real-data tests


def test_ettm1_paper_split(data_home):
    _require(data_home, "ETT", "ETTm1.csv.gz")
    train, test = load_ett("ETTm1", data_home=data_home)
    assert train.shape == (45_697, 7)
    assert test.shape == (11_904, 7)
    assert list(train.columns) == ETT_COLUMNS
    assert all(dtype == np.float64 for dtype in train.dtypes)
    assert isinstance(train.index, pd.DatetimeIndex)
    assert train.index[0] == pd.Timestamp("2016-07-01 00:00")
    assert train.index[-1] == pd.Timestamp("2017-10-20 00:00")
    assert test.index[0] == pd.Timestamp("2017-10-20 00:00")
    assert test.index[-1] == pd.Timestamp("2018-02-20 23:45")
    assert train.index.is_monotonic_increasing and test.index.is_unique
    assert not train.isna().any().any()


@pytest.mark.parametrize("name", ["ETTh1", "ETTh2"])
def test_etth_informer_split(data_home, name):
    _require(data_home, "ETT", f"{name}.csv.gz")
    train, test = load_ett(name, data_home=data_home)
    assert train.shape == (8_640, 7)
    assert test.shape == (2_880, 7)
    assert train.index[0] == pd.Timestamp("2016-07-01 00:00")
    assert train.index[-1] == pd.Timestamp("2017-06-25 23:00")
    assert test.index[0] == pd.Timestamp("2017-10-24 00:00")
    assert test.index[-1] == pd.Timestamp("2018-02-20 23:00")


def test_weather_paper_split(data_home):
    _require(data_home, "Weather_WTH", "WTH.csv.gz")
    train, test = load_weather(data_home=data_home)
    assert train.shape == (28_005, 12)
    assert test.shape == (7_060, 12)
    assert list(train.columns) == WEATHER_COLUMNS
    assert all(dtype == np.float64 for dtype in train.dtypes)
    assert train.index[0] == pd.Timestamp("2010-01-01 00:00")
    assert train.index[-1] == pd.Timestamp("2013-03-12 20:00")
    assert test.index[0] == pd.Timestamp("2013-03-12 20:00")
    assert test.index[-1] == pd.Timestamp("2013-12-31 23:00")
    assert train.index.name == "date"


@pytest.mark.parametrize(
    "spacecraft, n_train, n_test, n_features, fraction, n_segments, n_channels",
    [
        ("SMAP", 135_183, 427_617, 25, 0.1279, 67, 53),
        ("MSL", 58_317, 73_729, 55, 0.1053, 36, 27),
    ],
)
def test_smap_msl_paper_shapes(
    data_home, spacecraft, n_train, n_test, n_features, fraction, n_segments, n_channels
):
    _require(data_home, "SMAP_MSL", "labeled_anomalies.csv")
    train, test, labels, channels = load_smap_msl(
        spacecraft, data_home=data_home, return_channels=True
    )
    assert train.shape == (n_train, n_features)
    assert test.shape == (n_test, n_features)
    assert labels.shape == (n_test,)
    assert train.dtype == np.float64 and test.dtype == np.float64
    assert set(np.unique(labels)) == {0, 1}
    assert round(float(labels.mean()), 4) == fraction
    assert len(channels) == n_channels
    assert "P-2" not in set(channels["chan_id"])
    assert list(channels["chan_id"]) == sorted(channels["chan_id"])
    assert int(channels["n_segments"].sum()) == n_segments
    # segments counted from the labels, channel by channel
    runs = sum(
        _n_runs(labels[start:stop])
        for start, stop in zip(channels["test_start"], channels["test_stop"])
    )
    assert runs == n_segments
    assert channels["test_stop"].iloc[-1] == n_test
    assert channels["train_stop"].iloc[-1] == n_train
