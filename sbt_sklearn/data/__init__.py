"""Data utilities: zero-copy sliding windows and loaders for the paper's datasets.

This subpackage needs only numpy and pandas at import time; sktime is imported inside the
loaders that use it (JapaneseVowels and UEA ``.ts`` files). It never imports torch,
scikit-learn or skorch.

Datasets that are not shipped are read from a data folder given as ``data_home=`` or by
the environment variable ``SBT_DATA_HOME`` (see :func:`get_data_home`). Small real
samples ship with the package (``load_sample_*``).
"""

from ._loaders import (
    get_data_home,
    load_ett,
    load_japanese_vowels,
    load_smap_msl,
    load_uea_ts,
    load_weather,
    pad_panel,
)
from ._sample_data import (
    load_sample_etth1,
    load_sample_japanese_vowels,
    load_sample_telemetry,
)
from ._windows import sliding_windows

__all__ = [
    "sliding_windows",
    "get_data_home",
    "load_ett",
    "load_weather",
    "load_smap_msl",
    "load_japanese_vowels",
    "pad_panel",
    "load_uea_ts",
    "load_sample_etth1",
    "load_sample_telemetry",
    "load_sample_japanese_vowels",
]
