"""Loaders for the datasets of the Sparse Binary Transformer paper.

The files are not shipped with the package (apart from the small samples in
``_samples/``); they are read from a *data home* folder that holds ``ETT/``,
``Weather_WTH/`` and ``SMAP_MSL/``. Only numpy and pandas are imported at module import;
sktime is imported inside the functions that need it.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "get_data_home",
    "load_ett",
    "load_weather",
    "load_smap_msl",
    "load_japanese_vowels",
    "pad_panel",
    "load_uea_ts",
]

DATA_HOME_ENV = "SBT_DATA_HOME"

_DATA_HOME_HINT = (
    "Pass data_home=... or set the environment variable SBT_DATA_HOME to the folder that "
    "holds ETT/, Weather_WTH/ and SMAP_MSL/."
)

# Paper (Pyraformer) date split of ETTm1; both ends inclusive.
_ETTM1_TRAIN = ("2016-07-01 00:00", "2017-10-20 00:00")
_ETTM1_TEST = ("2017-10-20 00:00", "2018-02-20 23:45")
# Paper (Informer WTH.csv) date split of Weather; both ends inclusive.
_WEATHER_TRAIN = ("2010-01-01 00:00", "2013-03-12 20:00")
_WEATHER_TEST = ("2013-03-12 20:00", "2013-12-31 23:00")
# Informer's month-based split of the ETT files: 12 / 4 / 4 months of 30 days.
_ETT_ROWS_PER_HOUR = {"ETTh1": 1, "ETTh2": 1, "ETTm1": 4, "ETTm2": 4}


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder that holds the paper's datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. If None, the environment variable ``SBT_DATA_HOME`` is used. The folder
        is expected to hold ``ETT/``, ``Weather_WTH/`` and ``SMAP_MSL/`` as laid out in the
        project's data README. No default location is assumed.

    Returns
    -------
    path : pathlib.Path
        The resolved folder (``~`` expanded).

    Raises
    ------
    FileNotFoundError
        If neither ``data_home`` nor ``SBT_DATA_HOME`` is given, or the folder does not
        exist.

    Examples
    --------
    >>> import os, tempfile
    >>> from sbt_sklearn.data import get_data_home
    >>> folder = tempfile.mkdtemp()
    >>> get_data_home(folder).is_dir()
    True
    >>> get_data_home(os.path.join(folder, "missing"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: The data folder '...missing' (from data_home) does not exist. ...

    Without an argument the folder comes from ``SBT_DATA_HOME``, for example
    ``export SBT_DATA_HOME=/path/to/data`` in the shell before running Python.
    """
    source = "data_home"
    if data_home is None:
        env = os.environ.get(DATA_HOME_ENV, "").strip()
        if not env:
            raise FileNotFoundError(
                "No data folder given and SBT_DATA_HOME is not set. " + _DATA_HOME_HINT
            )
        data_home, source = env, DATA_HOME_ENV
    path = Path(data_home).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(
            f"The data folder {str(path)!r} (from {source}) does not exist. "
            + _DATA_HOME_HINT
        )
    return path


def _data_file(data_home: str | os.PathLike[str] | None, *parts: str) -> Path:
    """Return ``<data home>/<parts>``, or raise FileNotFoundError naming the missing file."""
    home = get_data_home(data_home)
    path = home.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(
            f"Expected the file {'/'.join(parts)!r} under the data folder {str(home)!r}, "
            f"but {str(path)!r} does not exist. " + _DATA_HOME_HINT
        )
    return path


def _read_ett_csv(source: Any) -> pd.DataFrame:
    """Read an ETT csv (path or binary file object, gzip allowed) with a DatetimeIndex."""
    frame = pd.read_csv(source, compression="infer" if isinstance(source, (str, Path))
                        else "gzip")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="date")
    return frame.astype(np.float64)


def load_ett(
    name: str = "ETTm1", data_home: str | os.PathLike[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load an Electricity Transformer Temperature (ETT) dataset with its train/test split.

    Reads ``ETT/<name>.csv.gz`` from the data folder: 7 columns (``HUFL``, ``HULL``,
    ``MUFL``, ``MULL``, ``LUFL``, ``LULL`` and the target ``OT``), indexed by time.

    Parameters
    ----------
    name : {"ETTm1", "ETTh1", "ETTh2", "ETTm2"}, default="ETTm1"
        Which file. ``ETTm1`` (15-minute) is the one the SBT paper uses.
    data_home : str or path-like, default=None
        Folder holding ``ETT/``; see :func:`get_data_home`.

    Returns
    -------
    train : pandas.DataFrame
        Training rows, float64 columns, ``DatetimeIndex`` named ``"date"``.
    test : pandas.DataFrame
        Test rows, same columns.

    Notes
    -----
    ``ETTm1`` uses the SBT paper's date split (from Pyraformer), both ends inclusive:
    train 2016-07-01 00:00 to 2017-10-20 00:00 (45,697 rows) and test 2017-10-20 00:00
    to 2018-02-20 23:45 (11,904 rows). The row at 2017-10-20 00:00 is in both, as in the
    paper's row counts. Rows after 2018-02-20 are not used.

    The paper has no split for the other files. They use the usual Informer split of the
    first 20 months into 12 / 4 / 4 months of 30 days: train is the first 12 months
    (8,640 rows for the hourly ``ETTh1``/``ETTh2``, 34,560 for the 15-minute ``ETTm2``) and
    test the last 4 of the 20 months (rows 11,520 to 14,399 hourly, i.e. 2,880 rows). The
    middle 4 months (Informer's validation part) are not returned; hold out the tail of
    ``train`` for validation instead. Standardise with statistics of ``train`` only.

    The ETT data are licensed CC BY-ND 4.0 (see ``ETT/LICENSE_ETDataset_CC-BY-ND-4.0.txt``).

    Examples
    --------
    >>> from sbt_sklearn.data import load_ett
    >>> train, test = load_ett("ETTm1")  # doctest: +SKIP
    >>> train.shape, test.shape  # doctest: +SKIP
    ((45697, 7), (11904, 7))
    """
    if name not in _ETT_ROWS_PER_HOUR:
        raise ValueError(
            f"name must be one of {sorted(_ETT_ROWS_PER_HOUR)}, got {name!r}."
        )
    frame = _read_ett_csv(_data_file(data_home, "ETT", f"{name}.csv.gz"))
    if name == "ETTm1":
        train = frame.loc[_ETTM1_TRAIN[0]:_ETTM1_TRAIN[1]]
        test = frame.loc[_ETTM1_TEST[0]:_ETTM1_TEST[1]]
    else:
        month = 30 * 24 * _ETT_ROWS_PER_HOUR[name]
        if len(frame) < 20 * month:
            raise ValueError(
                f"{name} has {len(frame)} rows; the 12/4/4-month split needs at least "
                f"{20 * month}."
            )
        train = frame.iloc[: 12 * month]
        test = frame.iloc[16 * month : 20 * month]
    return train.copy(), test.copy()


def load_weather(
    data_home: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the hourly Weather ("WTH") dataset with the SBT paper's train/test split.

    Reads ``Weather_WTH/WTH.csv.gz``: 12 numeric NOAA climate features (``Visibility``,
    ``DryBulbFarenheit``, ..., ``WetBulbCelsius``) at hourly resolution, 2010 to 2013.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``Weather_WTH/``; see :func:`get_data_home`.

    Returns
    -------
    train : pandas.DataFrame of shape (28005, 12)
        2010-01-01 00:00 to 2013-03-12 20:00 inclusive; float64 columns,
        ``DatetimeIndex`` named ``"date"``.
    test : pandas.DataFrame of shape (7060, 12)
        2013-03-12 20:00 to 2013-12-31 23:00 inclusive.

    Notes
    -----
    The split dates and row counts are the paper's. The boundary row 2013-03-12 20:00 is in
    both parts, as the paper's counts imply. Integer columns of the file are converted to
    float64. The data are NOAA observations (US government work).

    Examples
    --------
    >>> from sbt_sklearn.data import load_weather
    >>> train, test = load_weather()  # doctest: +SKIP
    >>> train.shape, test.shape  # doctest: +SKIP
    ((28005, 12), (7060, 12))
    """
    frame = pd.read_csv(_data_file(data_home, "Weather_WTH", "WTH.csv.gz"))
    frame.index = pd.DatetimeIndex(
        pd.to_datetime(frame.pop("date"), format="%m/%d/%Y %H:%M"), name="date"
    )
    frame = frame.astype(np.float64)
    train = frame.loc[_WEATHER_TRAIN[0]:_WEATHER_TRAIN[1]]
    test = frame.loc[_WEATHER_TEST[0]:_WEATHER_TEST[1]]
    return train.copy(), test.copy()


def _load_npy_gz(source: Any) -> np.ndarray:
    """Load a gzip-compressed ``.npy`` file (path or binary file object), no pickles."""
    with gzip.open(source, "rb") as fh:
        return np.load(fh, allow_pickle=False)


def _parse_sequences(text: str, chan_id: str) -> list[tuple[int, int]]:
    """Parse the ``anomaly_sequences`` cell ``"[[s, e], ...]"`` into (start, end) pairs."""
    try:
        pairs = json.loads(text)
        result = [(int(s), int(e)) for s, e in pairs]
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"Cannot parse anomaly_sequences {text!r} of channel {chan_id!r}."
        ) from exc
    return result


def _labels_for(
    sequences: Iterable[tuple[int, int]], n_test: int, chan_id: str
) -> np.ndarray:
    """0/1 labels of one channel's test array from inclusive, 0-based [start, end] pairs."""
    labels = np.zeros(n_test, dtype=np.int64)
    for start, end in sequences:
        if not 0 <= start <= end < n_test:
            raise ValueError(
                f"Anomaly sequence [{start}, {end}] of channel {chan_id!r} lies outside "
                f"its test array of {n_test} rows."
            )
        labels[start : end + 1] = 1
    return labels


def _assemble_telemetry(
    rows: pd.DataFrame, open_array: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Concatenate per-channel arrays of ``rows`` (labeled_anomalies rows) in order.

    ``open_array(split, chan_id)`` returns the array of one channel's train or test file.
    """
    trains, tests, labels, info = [], [], [], []
    train_pos = test_pos = 0
    for row in rows.itertuples(index=False):
        chan = str(row.chan_id)
        train = open_array("train", chan)
        test = open_array("test", chan)
        if int(row.num_values) != len(test):
            raise ValueError(
                f"labeled_anomalies.csv says channel {chan!r} has {row.num_values} test "
                f"values but its test file has {len(test)} rows."
            )
        sequences = _parse_sequences(str(row.anomaly_sequences), chan)
        trains.append(train)
        tests.append(test)
        labels.append(_labels_for(sequences, len(test), chan))
        info.append(
            {
                "chan_id": chan,
                "spacecraft": str(row.spacecraft),
                "train_start": train_pos,
                "train_stop": train_pos + len(train),
                "test_start": test_pos,
                "test_stop": test_pos + len(test),
                "anomaly_sequences": sequences,
                "n_segments": len(sequences),
            }
        )
        train_pos += len(train)
        test_pos += len(test)
    if not trains:
        raise ValueError("No channel selected.")
    channels = pd.DataFrame(info)
    return (
        np.concatenate(trains),
        np.concatenate(tests),
        np.concatenate(labels),
        channels,
    )


def load_smap_msl(
    spacecraft: str = "SMAP",
    data_home: str | os.PathLike[str] | None = None,
    *,
    return_channels: bool = False,
) -> (
    tuple[np.ndarray, np.ndarray, np.ndarray]
    | tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]
):
    """Load the NASA SMAP or MSL telemetry anomaly benchmark as in the SBT paper.

    The rows of ``SMAP_MSL/labeled_anomalies.csv`` for the spacecraft are taken, channel
    ``P-2`` is dropped, the rest are sorted by ``chan_id``, and the per-channel arrays
    ``SMAP_MSL/train/<chan>.npy.gz`` and ``SMAP_MSL/test/<chan>.npy.gz`` are concatenated
    in that order. Column 0 is telemetry, the others are 0/1 command flags.

    Parameters
    ----------
    spacecraft : {"SMAP", "MSL"}, default="SMAP"
        Which spacecraft.
    data_home : str or path-like, default=None
        Folder holding ``SMAP_MSL/``; see :func:`get_data_home`.
    return_channels : bool, default=False
        Also return a table of the channels and where each one lies in the concatenated
        arrays.

    Returns
    -------
    train : ndarray of shape (n_train, n_features)
        Anomaly-free training telemetry, float64 (SMAP: 135,183 x 25, MSL: 58,317 x 55).
    test : ndarray of shape (n_test, n_features)
        Test telemetry (SMAP: 427,617 x 25, MSL: 73,729 x 55).
    labels : ndarray of shape (n_test,)
        1 for anomalous test points, else 0 (int64). SMAP: 12.79 % anomalous in 67
        segments; MSL: 10.53 % in 36 segments.
    channels : pandas.DataFrame
        Only if ``return_channels=True``. One row per channel, in concatenation order, with
        columns ``chan_id``, ``spacecraft``, ``train_start``, ``train_stop``,
        ``test_start``, ``test_stop`` (half-open row ranges in ``train`` / ``test``),
        ``anomaly_sequences`` (list of inclusive ``(start, end)`` pairs relative to the
        channel's own test array) and ``n_segments``.

    Notes
    -----
    The ``anomaly_sequences`` intervals ``[start, end]`` are inclusive and 0-based within
    each channel's test array. Channel ``P-2`` is listed twice in the csv and is dropped,
    as in the paper's preprocessing. Windows that cross a channel boundary mix two
    channels; use ``channels`` to avoid them if that matters. Data: NASA/JPL telemanom
    (Caltech BSD-style licence), see the licence files in ``SMAP_MSL/``.

    Examples
    --------
    >>> from sbt_sklearn.data import load_smap_msl
    >>> train, test, labels = load_smap_msl("MSL")  # doctest: +SKIP
    >>> train.shape, test.shape, round(labels.mean(), 4)  # doctest: +SKIP
    ((58317, 55), (73729, 55), 0.1053)
    """
    if spacecraft not in ("SMAP", "MSL"):
        raise ValueError(f"spacecraft must be 'SMAP' or 'MSL', got {spacecraft!r}.")
    table = pd.read_csv(_data_file(data_home, "SMAP_MSL", "labeled_anomalies.csv"))
    rows = table[(table["spacecraft"] == spacecraft) & (table["chan_id"] != "P-2")]
    rows = rows.sort_values("chan_id", kind="stable")
    home = get_data_home(data_home)

    def open_array(split: str, chan: str) -> np.ndarray:
        return _load_npy_gz(_data_file(home, "SMAP_MSL", split, f"{chan}.npy.gz"))

    train, test, labels, channels = _assemble_telemetry(rows, open_array)
    if return_channels:
        return train, test, labels, channels
    return train, test, labels


def _nested_to_list(nested: pd.DataFrame) -> list[np.ndarray]:
    """Convert a sktime ``nested_univ`` frame to a list of (n_channels, length) arrays."""
    cases = []
    for i, row in enumerate(nested.itertuples(index=False)):
        dims = [np.asarray(cell, dtype=np.float64) for cell in row]
        lengths = {len(d) for d in dims}
        if len(lengths) != 1:
            raise ValueError(
                f"Case {i} has channels of different lengths {sorted(lengths)}; only "
                "cases whose channels share one length are supported."
            )
        cases.append(np.stack(dims))
    return cases


def load_japanese_vowels() -> (
    tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]
):
    """Load the JapaneseVowels classification dataset (UEA) that ships with sktime.

    640 utterances of /ae/ by nine male speakers, 12 LPC cepstrum coefficients per frame,
    7 to 29 frames per utterance. The train/test split is the UEA one (270 / 370 cases).

    Returns
    -------
    X_train : list of ndarray of shape (12, length)
        270 float64 arrays, channels first, ``length`` between 7 and 29.
    y_train : ndarray of shape (270,)
        Class labels as strings ``"1"`` to ``"9"``.
    X_test : list of ndarray of shape (12, length)
        370 float64 arrays.
    y_test : ndarray of shape (370,)
        Class labels.

    Notes
    -----
    The series have unequal lengths, so sktime's ``numpy3D`` container cannot hold them;
    use :func:`pad_panel` to get a padded 3-D array and its padding mask (the SBT paper
    pads to 29 steps). Needs sktime (imported inside the function); no network access.

    Examples
    --------
    >>> from sbt_sklearn.data import load_japanese_vowels, pad_panel
    >>> X_train, y_train, X_test, y_test = load_japanese_vowels()
    >>> len(X_train), X_train[0].shape[0], len(set(y_train))
    (270, 12, 9)
    >>> X3d, padding_mask = pad_panel(X_train, length=29)
    >>> X3d.shape, padding_mask.shape
    ((270, 12, 29), (270, 29))
    """
    from sktime.datasets import load_japanese_vowels as _sktime_load

    parts = []
    for split in ("train", "test"):
        X, y = _sktime_load(split=split, return_X_y=True, return_type="nested_univ")
        parts.append((_nested_to_list(X), np.asarray(y).astype(str)))
    (X_train, y_train), (X_test, y_test) = parts
    return X_train, y_train, X_test, y_test


def pad_panel(
    X: Sequence[Any] | np.ndarray,
    length: int | None = None,
    fill: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad a list of unequal-length multivariate series into one 3-D array.

    Parameters
    ----------
    X : sequence of array-like of shape (n_channels, length_i) or (length_i,)
        The series, channels first, time along the last axis; 1-D series count as one
        channel. All must have the same number of channels. A 3-D array
        ``(n_cases, n_channels, length)`` is accepted too.
    length : int, default=None
        Length to pad to. If None, the longest series' length.
    fill : float, default=0.0
        Value written into padded steps (the SBT paper zero-pads).

    Returns
    -------
    X_padded : ndarray of shape (n_cases, n_channels, length)
        The series, each followed by ``fill`` up to ``length``. Float64 unless all input
        is float32.
    padding_mask : ndarray of bool of shape (n_cases, length)
        True where a step is padding, False where it holds data (the convention of
        ``key_padding_mask`` in :class:`torch.nn.MultiheadAttention`).

    Raises
    ------
    ValueError
        If ``X`` is empty, the series have different numbers of channels, a series is
        longer than ``length``, or ``length < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn.data import pad_panel
    >>> X = [np.ones((2, 3)), np.ones((2, 1))]
    >>> X_padded, mask = pad_panel(X, length=4)
    >>> X_padded[1]
    array([[1., 0., 0., 0.],
           [1., 0., 0., 0.]])
    >>> mask
    array([[False, False, False,  True],
           [False,  True,  True,  True]])
    """
    cases = []
    for i, case in enumerate(X):
        arr = np.asarray(case)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"Series {i} has non-numeric dtype {arr.dtype}; expected real numbers."
            )
        if arr.ndim == 1:
            arr = arr[np.newaxis, :]
        elif arr.ndim != 2:
            raise ValueError(
                f"Series {i} must be 1-D or 2-D (n_channels, length), got shape "
                f"{arr.shape}."
            )
        cases.append(arr)
    if not cases:
        raise ValueError("X must contain at least one series.")

    n_channels = {arr.shape[0] for arr in cases}
    if len(n_channels) != 1:
        raise ValueError(
            f"All series must have the same number of channels, got {sorted(n_channels)}."
        )
    lengths = np.array([arr.shape[1] for arr in cases])
    longest = int(lengths.max())
    if length is None:
        length = longest
    elif isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise ValueError(f"length must be a positive integer or None, got {length!r}.")
    length = int(length)
    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}.")
    if longest > length:
        too_long = int(np.argmax(lengths > length))
        raise ValueError(
            f"Series {too_long} has {lengths[too_long]} steps, longer than length="
            f"{length}; pass a larger length (or None) or truncate the series first."
        )

    dtype = np.result_type(np.float32, *(arr.dtype for arr in cases))
    out = np.full((len(cases), n_channels.pop(), length), fill, dtype=dtype)
    for i, arr in enumerate(cases):
        out[i, :, : arr.shape[1]] = arr
    padding_mask = np.arange(length)[np.newaxis, :] >= lengths[:, np.newaxis]
    return out, padding_mask


def load_uea_ts(
    path: str | os.PathLike[str],
    *,
    y_dtype: str | np.dtype[Any] | type = "str",
    replace_missing_vals_with: str = "NaN",
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Load a UEA/UCR ``.ts`` file into a list of (n_channels, length) arrays.

    For users who have the UEA archive files (Heartbeat, SpokenArabicDigits,
    FaceDetection, InsectWingbeat, ...). Equal and unequal lengths are both supported;
    pad unequal ones with :func:`pad_panel`.

    Parameters
    ----------
    path : str or path-like
        The ``.ts`` file.
    y_dtype : str or dtype, default="str"
        Type of the returned labels: ``"str"``, ``"int"``, ``"float"`` (regression
        targets) or a numpy dtype.
    replace_missing_vals_with : str, default="NaN"
        Text that replaces the ``?`` missing-value marker before parsing.

    Returns
    -------
    X : list of ndarray of shape (n_channels, length_i)
        One float64 array per case, channels first.
    y : ndarray of shape (n_cases,) or None
        The class labels (or targets), None if the file has none.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If a case has channels of different lengths.

    Notes
    -----
    Parsing is done by sktime's ``load_from_tsfile_to_dataframe`` (sktime is imported
    inside the function).

    Examples
    --------
    >>> import os, tempfile
    >>> from sbt_sklearn.data import load_uea_ts
    >>> text = '''@problemName Tiny
    ... @timeStamps false
    ... @missing false
    ... @univariate false
    ... @dimensions 2
    ... @equalLength false
    ... @classLabel true a b
    ... @data
    ... 1,2,3:4,5,6:a
    ... 7,8:9,10:b
    ... '''
    >>> path = os.path.join(tempfile.mkdtemp(), "Tiny_TRAIN.ts")
    >>> with open(path, "w") as fh:
    ...     _ = fh.write(text)
    >>> X, y = load_uea_ts(path)
    >>> [x.shape for x in X], y.tolist()
    ([(2, 3), (2, 2)], ['a', 'b'])
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"No .ts file at {str(path)!r}.")
    from sktime.datasets import load_from_tsfile_to_dataframe

    loaded = load_from_tsfile_to_dataframe(
        str(path),
        return_separate_X_and_y=True,
        replace_missing_vals_with=replace_missing_vals_with,
    )
    if isinstance(loaded, tuple):
        nested, y_raw = loaded
        if y_dtype == "str":
            y = np.asarray(y_raw).astype(str)
        elif y_dtype == "int":
            y = np.asarray(y_raw).astype(np.float64).astype(np.int64)
        elif y_dtype == "float":
            y = np.asarray(y_raw).astype(np.float64)
        else:
            y = np.asarray(y_raw).astype(y_dtype)
    else:
        nested, y = loaded, None
    return _nested_to_list(nested), y
