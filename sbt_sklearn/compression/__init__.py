"""Model compression for real: accounting, compact model files and folded inference.

* The *paper convention* (:mod:`sbt_sklearn.compression._paper`): pure-Python
  functions of an :class:`ArchSpec` that reproduce the theoretical FLOPs and
  bit-size counts of Gorbett et al. (KDD 2023), and :data:`PAPER_TABLE6`, the
  paper's Table 6 with the architectures that reproduce it.
* :func:`network_report` / :class:`CompressionReport`: the paper's numbers next
  to honest ones (everything inference needs charged) against the dense twin.
* The model file format (:mod:`sbt_sklearn.compression._format`): safetensors
  plus JSON metadata, masks instead of float weights, loading runs no code
  (:class:`SBTFileError` on any defect).
* :func:`fold_network` / :class:`FoldedSBT`: plain-torch inference models with
  mask, sign and gain folded into one weight per layer.

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

from ._folded import FoldedAttention, FoldedEncoderLayer, FoldedSBT, fold_network
from ._format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SBTFileError,
    decode_json,
    decode_mask,
    encode_json,
    encode_mask,
    read_model_bytes,
    read_model_file,
    write_model_bytes,
)
from ._model import size_summary
from ._report import CompressionReport, honest_counts, honest_flops, network_report
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
    "CompressionReport",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FoldedAttention",
    "FoldedEncoderLayer",
    "FoldedSBT",
    "SBTFileError",
    "decode_json",
    "decode_mask",
    "encode_json",
    "encode_mask",
    "fold_network",
    "honest_counts",
    "honest_flops",
    "network_report",
    "read_model_bytes",
    "read_model_file",
    "write_model_bytes",
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
