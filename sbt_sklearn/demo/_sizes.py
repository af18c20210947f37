"""Size of a fitted demo model, read from its compression report, and the line that prints it."""

from __future__ import annotations

__all__ = ["model_size", "size_line"]


def model_size(estimator) -> dict:
    """Kept fraction, sizes under both conventions and file bytes of a fitted SBT estimator.

    Parameters
    ----------
    estimator : fitted SBTClassifier, SBTForecaster or SBTAnomalyDetector
        The model; its :meth:`compression_report` supplies the sizes.

    Returns
    -------
    size : dict
        ``kept_fraction`` (kept weights of the sparse-binary layers over all their weights),
        ``size_bits_paper`` (the SBT paper's convention), ``size_bits_honest`` (everything
        inference needs), ``dense_size_bits`` (the dense FP32 twin of the same shape, honest
        convention), ``file_bytes`` (the saved model file) and ``dense_file_bytes`` (the dense
        twin's float32 safetensors file).
    """
    from ..nn import SparseBinaryLinear

    report = estimator.compression_report().to_dict()
    layers = [m for m in estimator.module_.modules() if isinstance(m, SparseBinaryLinear)]
    total = sum(m.weight.numel() for m in layers)
    return {
        "kept_fraction": sum(m.n_keep for m in layers) / total if total else 1.0,
        "size_bits_paper": report["paper"]["size_bits"]["sbt"],
        "size_bits_honest": report["honest"]["size_bits"]["sbt"],
        "dense_size_bits": report["honest"]["size_bits"]["dense"],
        "file_bytes": report["file_bytes"]["sbt"],
        "dense_file_bytes": report["file_bytes"]["dense"],
    }


def size_line(size: dict) -> str:
    """One line naming both size conventions and the measured file sizes of :func:`model_size`."""
    return (f"size: {size['size_bits_paper'] / 1e3:.1f} kbit (paper's convention), "
            f"{size['size_bits_honest'] / 1e3:.1f} kbit honest vs {size['dense_size_bits'] / 1e3:.1f} kbit "
            f"for the dense FP32 twin; file {size['file_bytes']:,} B vs dense twin {size['dense_file_bytes']:,} B")
