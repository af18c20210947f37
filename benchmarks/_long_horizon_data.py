"""The standard long-horizon forecasting protocol on the ETT files (shared by the benchmark scripts).

As in Informer, Autoformer, DLinear and PatchTST: the first 20 months of each file are split
12 / 4 / 4 months of 30 days (ETTh: 8,640 / 2,880 / 2,880 hourly rows; ETTm: 34,560 / 11,520 /
11,520 rows of 15 minutes); the validation and test windows start one look-back before their
border, so their first target is the border row; every column is standardised with the training
rows' mean and standard deviation; MSE and MAE are averaged over every test window, channel and
horizon step on that standardised scale.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from sbt_sklearn.data import get_data_home

#: rows per month of 30 days
MONTH = {"ETTh1": 24 * 30, "ETTh2": 24 * 30, "ETTm1": 4 * 24 * 30, "ETTm2": 4 * 24 * 30}
HORIZONS = (96, 192, 336, 720)

#: published results, (MSE, MAE), look-back 336, multivariate, standardised scale.
#: DLinear: Zeng et al., "Are Transformers Effective for Time Series Forecasting?", AAAI 2023: the
#: multivariate results table of the authors' repository (cure-lab/LTSF-Linear, pics/Mul-results.png,
#: captioned Table 2 there), the same values as the DLinear column of PatchTST's Table 3.
#: PatchTST/42 (look-back 336): Nie et al., "A Time Series is Worth 64 Words", ICLR 2023, Table 3.
PUBLISHED = {
    "DLinear (published)": {
        "ETTh1": {96: (0.375, 0.399), 192: (0.405, 0.416), 336: (0.439, 0.443), 720: (0.472, 0.490)},
        "ETTh2": {96: (0.289, 0.353), 192: (0.383, 0.418), 336: (0.448, 0.465), 720: (0.605, 0.551)},
        "ETTm1": {96: (0.299, 0.343), 192: (0.335, 0.365), 336: (0.369, 0.386), 720: (0.425, 0.421)},
    },
    "PatchTST/42 (published)": {
        "ETTh1": {96: (0.375, 0.399), 192: (0.414, 0.421), 336: (0.431, 0.436), 720: (0.449, 0.466)},
        "ETTh2": {96: (0.274, 0.336), 192: (0.339, 0.379), 336: (0.331, 0.380), 720: (0.379, 0.422)},
        "ETTm1": {96: (0.290, 0.342), 192: (0.332, 0.369), 336: (0.366, 0.392), 720: (0.420, 0.424)},
    },
}


def load_splits(name: str, data_home=None) -> dict:
    """Standardised ``train``, ``val`` and ``test`` row blocks (float32, (rows, 7)) of one ETT file.

    ``val`` and ``test`` hold only their own rows; the windows that forecast their first rows
    take their look-back from the block before (see :func:`windows`), so the full standardised
    series is returned as ``series`` with the borders ``(train_end, val_end, test_end)``.
    """
    folder = "Weather_WTH" if name == "WTH" else "ETT"
    path = Path(get_data_home(data_home)) / folder / f"{name}.csv.gz"
    with gzip.open(path, "rt") as fh:
        frame = pd.read_csv(fh, index_col="date")
    values = frame.to_numpy(np.float64)
    if name == "WTH":  # a series no default was tuned on: the 70/10/20 split of Autoformer and DLinear
        n = len(values)
        borders = (int(0.7 * n), int(0.8 * n), n)
    else:
        m = MONTH[name]
        borders = (12 * m, 16 * m, 20 * m)
    train = values[: borders[0]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    series = ((values[: borders[2]] - mean) / std).astype(np.float32)
    return {"series": series, "borders": borders, "columns": list(frame.columns), "mean": mean, "std": std}


def windows(data: dict, part: str, lookback: int, horizon: int):
    """Zero-copy ``(X, y)`` of a split: X (n, C, lookback), y (n, C, horizon), every window whose
    targets lie inside the split (train: windows and targets inside the training rows)."""
    from sbt_sklearn import sliding_windows

    series, (b1, b2, b3) = data["series"], data["borders"]
    start, end = {"train": (0, b1), "val": (b1 - lookback, b2), "test": (b2 - lookback, b3)}[part]
    return sliding_windows(series[start:end], lookback, horizon=horizon)


def scores(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(MSE, MAE) over every window, channel and step, accumulated in float64 chunk by chunk."""
    se = ae = 0.0
    for s in range(0, len(y), 1024):
        diff = np.asarray(pred[s : s + 1024], dtype=np.float64) - np.asarray(y[s : s + 1024], dtype=np.float64)
        se += float(np.square(diff).sum())
        ae += float(np.abs(diff).sum())
    n = np.prod(y.shape)
    return se / n, ae / n
