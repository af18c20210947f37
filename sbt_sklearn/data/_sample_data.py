"""Small real datasets shipped inside the package, for examples and quick demos.

The files live in ``sbt_sklearn/data/_samples/`` (see the README there for sources and
licences) and are read with :mod:`importlib.resources`, so they work from a wheel too.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable

import numpy as np
import pandas as pd

from ._loaders import (
    _assemble_telemetry,
    _load_npy_gz,
    _read_ett_csv,
    load_japanese_vowels,
)

__all__ = [
    "load_sample_etth1",
    "load_sample_telemetry",
    "load_sample_japanese_vowels",
    "SAMPLE_TELEMETRY_CHANNELS",
]

#: Telemetry channels shipped in ``_samples/`` (chan_id -> spacecraft).
SAMPLE_TELEMETRY_CHANNELS = {"G-7": "SMAP", "M-7": "MSL", "T-8": "MSL"}


def _sample(name: str) -> Traversable:
    """Return the packaged sample file ``_samples/<name>``."""
    return resources.files("sbt_sklearn.data").joinpath("_samples", name)


def load_sample_etth1() -> pd.DataFrame:
    """Load the full ETTh1 dataset shipped with the package.

    ETTh1 is the hourly Electricity Transformer Temperature series of one transformer
    station, 2016-07-01 00:00 to 2018-06-26 19:00: 17,420 rows of 7 float64 columns
    (``HUFL``, ``HULL``, ``MUFL``, ``MULL``, ``LUFL``, ``LULL`` and the oil temperature
    ``OT``).

    Returns
    -------
    frame : pandas.DataFrame of shape (17420, 7)
        The whole file, with a ``DatetimeIndex`` named ``"date"``. Slice it as you need,
        e.g. ``frame.iloc[:8640]`` for Informer's 12-month training part.

    Notes
    -----
    The file is a verbatim copy of ``ETTh1.csv.gz`` from the ETDataset (Zhou et al., 2021,
    https://github.com/zhouhaoyi/ETDataset), licensed CC BY-ND 4.0; its licence text ships
    next to it. The licence allows only unmodified copies, so the package ships the whole
    file rather than a subset. The same split as :func:`load_ett` with ``name="ETTh1"``
    is ``frame.iloc[:8640]`` (train) and ``frame.iloc[11520:14400]`` (test).

    Examples
    --------
    >>> from sbt_sklearn.data import load_sample_etth1
    >>> frame = load_sample_etth1()
    >>> frame.shape
    (17420, 7)
    >>> list(frame.columns)
    ['HUFL', 'HULL', 'MUFL', 'MULL', 'LUFL', 'LULL', 'OT']
    >>> str(frame.index[0])
    '2016-07-01 00:00:00'
    """
    with _sample("ETTh1.csv.gz").open("rb") as fh:
        return _read_ett_csv(fh)


def load_sample_telemetry(
    channel: str = "T-8",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load one NASA spacecraft telemetry channel shipped with the package.

    Three channels of the SMAP/MSL anomaly benchmark are shipped, each with labelled
    anomalies in its test part:

    ======== ========== ============ =========== ======================
    channel  spacecraft train rows   test rows   anomalous test points
    ======== ========== ============ =========== ======================
    ``G-7``  SMAP       2,446 x 25   8,029 x 25  3 segments, 268 points
    ``M-7``  MSL        1,587 x 55   2,156 x 55  1 segment, 101 points
    ``T-8``  MSL        748 x 55     1,519 x 55  2 segments, 102 points
    ======== ========== ============ =========== ======================

    Parameters
    ----------
    channel : {"T-8", "M-7", "G-7"}, default="T-8"
        Channel id.

    Returns
    -------
    train : ndarray of shape (n_train, n_features)
        Anomaly-free training telemetry, float64. Column 0 is the telemetry value, the
        others are 0/1 command flags.
    test : ndarray of shape (n_test, n_features)
        Test telemetry.
    labels : ndarray of shape (n_test,)
        1 where a test point lies in a labelled anomaly, else 0 (int64).

    Notes
    -----
    The arrays are verbatim copies of the telemanom files (Hundman et al., KDD 2018;
    Caltech/JPL BSD-style licence) as redistributed with TranAD (BSD-3); labels come from
    the matching rows of ``labeled_anomalies.csv`` with inclusive, 0-based intervals, as
    in :func:`load_smap_msl`.

    Examples
    --------
    >>> from sbt_sklearn.data import load_sample_telemetry
    >>> train, test, labels = load_sample_telemetry("T-8")
    >>> train.shape, test.shape, int(labels.sum())
    ((748, 55), (1519, 55), 102)
    """
    if channel not in SAMPLE_TELEMETRY_CHANNELS:
        raise ValueError(
            f"channel must be one of {sorted(SAMPLE_TELEMETRY_CHANNELS)}, got "
            f"{channel!r}. The full benchmark is available through load_smap_msl."
        )
    with _sample("labeled_anomalies_sample.csv").open("r", encoding="utf-8") as fh:
        table = pd.read_csv(fh)
    rows = table[table["chan_id"] == channel]

    def open_array(split: str, chan: str) -> np.ndarray:
        with _sample(f"SMAP_MSL_{split}_{chan}.npy.gz").open("rb") as fh:
            return _load_npy_gz(fh)

    train, test, labels, _ = _assemble_telemetry(rows, open_array)
    return train, test, labels


def load_sample_japanese_vowels() -> (
    tuple[list[np.ndarray], np.ndarray, list[np.ndarray], np.ndarray]
):
    """Load the JapaneseVowels dataset (it ships inside sktime's wheel).

    Same as :func:`load_japanese_vowels`; kept so that every demo dataset has a
    ``load_sample_*`` function.

    Returns
    -------
    X_train : list of ndarray of shape (12, length)
        270 float64 arrays, ``length`` between 7 and 29.
    y_train : ndarray of shape (270,)
        Class labels ``"1"`` to ``"9"``.
    X_test : list of ndarray of shape (12, length)
        370 float64 arrays.
    y_test : ndarray of shape (370,)
        Class labels.

    Examples
    --------
    >>> from sbt_sklearn.data import load_sample_japanese_vowels
    >>> X_train, y_train, X_test, y_test = load_sample_japanese_vowels()
    >>> len(X_train), len(X_test)
    (270, 370)
    """
    return load_japanese_vowels()
