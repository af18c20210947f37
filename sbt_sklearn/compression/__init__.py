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

This layer imports torch, numpy and safetensors only, never scikit-learn, skorch or the
estimators (a test enforces it); a fitted estimator reports through its own
``compression_report()``, which calls :func:`network_report`.

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

import warnings as _warnings

from ._folded import FoldedAttention, FoldedEncoderLayer, FoldedSBT, fold_network
from ._format import FORMAT_NAME, FORMAT_VERSION, SBTFileError, read_model_bytes, read_model_file
from ._paper import (
    PAPER_TABLE6,
    ArchSpec,
    dense_baseline,
    format_table6,
    paper_flops,
    paper_flops_breakdown,
    paper_param_counts,
    paper_size_bits,
)
from ._report import CompressionReport, honest_counts, honest_flops, network_report

__all__ = [
    "ArchSpec",
    "CompressionReport",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FoldedAttention",
    "FoldedEncoderLayer",
    "FoldedSBT",
    "PAPER_TABLE6",
    "SBTFileError",
    "dense_baseline",
    "fold_network",
    "format_table6",
    "honest_counts",
    "honest_flops",
    "network_report",
    "paper_flops",
    "paper_flops_breakdown",
    "paper_param_counts",
    "paper_size_bits",
    "read_model_bytes",
    "read_model_file",
]

#: names that were public in 0.1.0.dev0 (file-format and table internals, and ``size_summary``, whose
#: "paper" figure followed neither documented convention): still reachable, with a FutureWarning
_DEPRECATED = {
    "decode_json": ("._format", "an internal of the model-file format"),
    "decode_mask": ("._format", "an internal of the model-file format"),
    "encode_json": ("._format", "an internal of the model-file format"),
    "encode_mask": ("._format", "an internal of the model-file format"),
    "write_model_bytes": ("._format", "an internal of the model-file format; use est.to_bytes() or est.save()"),
    "Table6Row": ("._paper", "an internal of PAPER_TABLE6"),
    "TABLE6_COLUMNS": ("._paper", "an internal of PAPER_TABLE6"),
    "size_summary": ("._model", "use est.compression_report() (paper and honest conventions) "
                                "or honest_counts(net)"),
}


def __getattr__(name):
    if name in _DEPRECATED:
        from importlib import import_module

        module, advice = _DEPRECATED[name]
        _warnings.warn(f"sbt_sklearn.compression.{name} is deprecated and will be removed in a future release: "
                       f"{advice}",
                       FutureWarning, stacklevel=2)
        return getattr(import_module(module, __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
