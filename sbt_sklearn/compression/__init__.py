"""Model-compression accounting: FLOPs and size of Sparse Binary Transformers.

:mod:`sbt_sklearn.compression` currently provides the *paper convention*
(:mod:`sbt_sklearn.compression._paper`): pure-Python functions of an
:class:`ArchSpec` that reproduce the theoretical FLOPs and bit-size counts of
Gorbett et al. (KDD 2023), and :data:`PAPER_TABLE6`, the paper's Table 6 with
the architectures that reproduce it.

References
----------
.. [1] Gorbett, M., Shirazi, H., Ray, I. "Sparse Binary Transformers for
   Multivariate Time Series Modeling". KDD '23, 2023.

Examples
--------
>>> from sbt_sklearn.compression import ArchSpec, paper_flops, paper_size_bits
>>> spec = ArchSpec(n_channels=7, window=200, d=64, n_outputs=7)  # ETTm1
>>> paper_flops(spec), paper_size_bits(spec)["total"]
(2610656, 100000)
"""

from ._model import size_summary
from ._paper import (
    PAPER_TABLE6,
    TABLE6_COLUMNS,
    ArchSpec,
    Table6Row,
    dense_baseline,
    format_table6,
    paper_flops,
    paper_flops_breakdown,
    paper_param_counts,
    paper_size_bits,
)

__all__ = [
    "ArchSpec",
    "dense_baseline",
    "paper_flops",
    "paper_flops_breakdown",
    "paper_param_counts",
    "paper_size_bits",
    "Table6Row",
    "PAPER_TABLE6",
    "TABLE6_COLUMNS",
    "format_table6",
    "size_summary",
]
