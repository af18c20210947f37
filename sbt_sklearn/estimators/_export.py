"""Deployment and accounting of fitted SBT estimators: folded models, ONNX files, compression reports.

Each estimator declares what the folded model must do around the network
(:meth:`ExportMixin._folded_io`: its input transform, output transform and the rows the network
sees beyond the window) and which float parts outside the network a report must charge
(:meth:`ExportMixin._report_extras`); the generic code here never guesses them.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from typing import NamedTuple

import torch
from sklearn.utils.validation import check_is_fitted

from ..compression._c_export import c_sources, check_c_name, needs_max_steps
from ..compression._folded import fold_network
from ..compression._report import network_report

__all__ = ["ExportMixin", "FoldedIO"]


class FoldedIO(NamedTuple):
    """What the folded model does around the network for one estimator."""

    #: input transform, one of :data:`sbt_sklearn.compression._folded.INPUT_MODES`
    input_mode: str
    #: output transform, one of :data:`sbt_sklearn.compression._folded.OUTPUT_MODES`
    output_mode: str
    #: rows the network sees beyond the window (the forecaster's appended row: 1)
    extra_steps: int


class ExportMixin:
    """Mixed into every SBT estimator: ``export_folded``, ``export_onnx`` and
    ``compression_report``.

    Subclasses declare ``_report_task`` and :meth:`_folded_io`, and override the hooks
    :meth:`_linear_base`, :meth:`_rarity_tables` and :meth:`_report_extras` where their task has
    such parts.
    """

    #: task whose dense baseline a compression report uses: "classification", "forecast", "anomaly"
    _report_task: str

    def _folded_io(self) -> FoldedIO:
        """Input transform, output transform and extra network rows of the estimator's task."""
        raise NotImplementedError(f"{type(self).__name__} does not declare its folded transforms")

    def _linear_base(self):
        """``(weight, bias)`` of a linear model on the last rows whose output is added to the
        network's, or None. ``weight`` has shape (lags * C, C) over the features of
        :func:`sbt_sklearn.nn._lags.base_features` of the standardised window."""
        return None

    def _output_scale(self):
        """Per-query-row weights of the network output (a multi-horizon forecaster's blend), or None."""
        return None

    def _rarity_tables(self):
        """``(channel indices, value bins, error tail, rarity tail)`` of an anomaly score that adds
        a value-rarity term to the network's error, or None."""
        return None

    def _report_extras(self) -> dict:
        """Float parts outside the network, ``name: (float parameters, operations per sample)``,
        charged by :meth:`compression_report` (see :func:`sbt_sklearn.compression.network_report`)."""
        return {}

    def export_folded(self, *, max_len: int | None = None, transforms: bool = True):
        """A plain-torch inference model with mask, sign and gain folded into one weight per layer.

        Parameters
        ----------
        max_len : int or None, default=None
            Longest window (number of network steps) the folded model accepts; defaults to the
            network's length (the fitted window, plus the appended row of a forecaster).
        transforms : bool, default=True
            Include the estimator's input standardisation and output transform, so that
            ``folded(torch.as_tensor(X))`` for raw windows ``X`` of shape (B, C, T) (float32)
            returns what the estimator returns: class probabilities (``predict_proba``), the next
            row on the original scale (forecaster ``predict``, always 2-D (B, C)) or
            ``score_samples`` (anomaly detector), in float64. With ``False`` it takes
            standardised (B, T', C) network input and returns the raw network output.

        Returns
        -------
        sbt_sklearn.compression.FoldedSBT
            A TorchScript-compatible ``torch.nn.Module`` in eval mode on the CPU; step-T
            attention is computed with its fast path (one real query per layer).

        Notes
        -----
        Windows must be complete (no padding, no NaN). ``torch.export.export(folded, (x,))``
        saved with ``torch.export.save`` (or ``torch.jit.script(folded)``) runs with torch alone.

        Examples
        --------
        >>> import numpy as np, torch
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> folded = clf.export_folded()
        >>> bool(np.allclose(folded(torch.from_numpy(X)).numpy(), clf.predict_proba(X), atol=1e-5))
        True
        """
        check_is_fitted(self)
        if max_len is None:  # the network's tables, or the fitted windows where they are longer (warm_start)
            net = self.net_.module_
            extra = self._folded_io()[2]
            tables = int(net.encoder.pos.max_len) * int(getattr(net, "patch_len", 1))
            max_len = max(int(self.n_timesteps_) + extra, tables)
        if not transforms:
            return fold_network(self.net_.module_, max_len=max_len)
        input_mode, output_mode, _ = self._folded_io()
        return fold_network(
            self.net_.module_, max_len=max_len, mean=self.scaler_mean_, scale=self.scaler_scale_,
            input_mode=input_mode, output_mode=output_mode,
            channel_weights=getattr(self, "channel_weights_", None) if output_mode.startswith("neg_weighted") else None,
            base=self._linear_base(), output_scale=self._output_scale(),
            rarity=self._rarity_tables() if output_mode.startswith("neg_weighted") else None,
            rarity_max=getattr(self, "rarity_", None) == "max",
        )

    def export_onnx(self, path, *, opset_version: int = 17) -> str:
        """Export the folded model (:meth:`export_folded`) to an ONNX file.

        The graph takes raw float32 windows ``x`` of shape (batch, n_channels, n_timesteps_)
        (dynamic batch size) and returns the estimator's output in float64 (see
        :meth:`export_folded`). Needs the optional ``onnx`` package (``pip install
        sbt-sklearn[onnx]``); check the file with ``onnxruntime``.

        Parameters
        ----------
        path : str or path-like
            Destination ``.onnx`` file.
        opset_version : int, default=17
            ONNX opset.

        Returns
        -------
        str
            The path written.

        Examples
        --------
        >>> import numpy as np, tempfile, os
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> path = clf.export_onnx(os.path.join(tempfile.mkdtemp(), "model.onnx"))  # doctest: +SKIP
        """
        try:
            import onnx  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("export_onnx needs the 'onnx' package: pip install sbt-sklearn[onnx]") from exc
        folded = self.export_folded()
        example = torch.zeros(2, self.n_channels_, self.n_timesteps_, dtype=torch.float32)
        path = os.fspath(path)
        with warnings.catch_warnings(), torch.no_grad():  # no_grad: the inference graph (see nn._attention)
            warnings.simplefilter("ignore")
            torch.onnx.export(folded, (example,), path, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset_version,
                              dynamo=False)
        return path

    def _c_output_doc(self) -> str:
        """What ``<name>_predict`` writes to ``out`` (the header's comment)."""
        raise NotImplementedError

    def export_c(self, directory, *, name: str = "sbt_model", max_steps: int | None = None) -> dict:
        """Write dependency-free C99 inference code: ``<name>.c`` and ``<name>.h``.

        The code implements ``predict`` on raw windows (the scaler, the task's transforms and,
        for the forecaster, the linear base are in it) with nothing beyond ``<math.h>`` and
        ``<stdint.h>``: no heap, static working memory, constant tables. Sparse-binary layers
        stay bits: a mask bit per weight, a sign bit per kept weight and one float gain per
        layer (never folded into float matrices); FP32 layers (the dense twin) are float
        arrays. Step-T models (the forecaster's and the detector's default) stream: every past
        row goes through the network on its own and the last row's attention uses an online
        softmax, so working memory does not grow with the window. The header documents the
        input layout (rows read in place; a ring buffer with a start index is accepted), the
        outputs, the error codes and the flash and RAM the model needs. See
        :doc:`/user_guide/compression` for building it for a microcontroller.

        Parameters
        ----------
        directory : str or path-like
            Where to write the two files (created if missing; existing files are replaced).
        name : str, default="sbt_model"
            File name and prefix of the public C identifiers (``<name>_predict``,
            ``<NAME>_N_CHANNELS``...); a C identifier.
        max_steps : int or None, default=None
            Longest window accepted, in observed rows. Defaults to ``n_timesteps_`` where the
            code holds every row in memory or has per-step tables (classification, attention
            other than step-T, learnable positions); a streamed step-T model with fixed
            positions accepts any length by default.

        Returns
        -------
        dict
            ``source`` and ``header`` (paths), ``flash_bytes``, ``ram_bytes``, ``min_steps`` and
            ``max_steps``.

        Raises
        ------
        NotImplementedError
            For a multi-horizon forecaster (``horizon > 1``).
        ValueError
            For a ``name`` that is not a C identifier or a bad ``max_steps`` (before anything
            is written).
        OSError
            If the directory cannot be created or written; neither file is left behind.

        Examples
        --------
        >>> import numpy as np, tempfile
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> info = clf.export_c(tempfile.mkdtemp(), name="tiny")
        >>> sorted(info)
        ['flash_bytes', 'header', 'max_steps', 'min_steps', 'ram_bytes', 'source', 'streamed']
        """
        from ..compression._format import write_file_atomic

        check_is_fitted(self)
        name = check_c_name(name)
        if self._folded_io().extra_steps > 1:
            raise NotImplementedError("C export of a multi-horizon forecaster (horizon > 1) is not supported yet; "
                                      "use export_folded / export_onnx, or a horizon=1 model rolled forward")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError(f"max_steps must be None or an integer >= 1; got {max_steps!r}")
        input_mode, output_mode, _ = self._folded_io()
        module = self.net_.module_
        if max_steps is None and needs_max_steps(module):
            max_steps = int(self.n_timesteps_)
        source, header, sizes = c_sources(
            module, name=name, mean=self.scaler_mean_, scale=self.scaler_scale_, input_mode=input_mode,
            output_mode=output_mode, max_steps=max_steps, channel_weights=getattr(self, "channel_weights_", None),
            base=self._linear_base(), offset=getattr(self, "offset_", None), description=self._c_description(),
            output_doc=self._c_output_doc(), rarity=self._rarity_tables(),
            rarity_max=getattr(self, "rarity_", None) == "max")
        series = self._c_series_scorer(name)
        if series is not None:  # the anomaly detector's series scores, one window at a time
            code, declarations, flash, state_bytes = series
            source += "\n" + code
            at = header.rindex("#ifdef __cplusplus")
            header = header[:at] + "\n".join(declarations) + "\n\n" + header[at:]
            sizes["flash_bytes"] += flash
            sizes["series_state_bytes"] = state_bytes
            upper = name.upper()
            header = re.sub(rf"#define {upper}_FLASH_BYTES \d+", f"#define {upper}_FLASH_BYTES {sizes['flash_bytes']}",
                            header)
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        paths = {"source": os.path.join(directory, f"{name}.c"), "header": os.path.join(directory, f"{name}.h")}
        written = []
        try:  # both files or neither: a failure after the first removes it again
            for key, text in (("header", header), ("source", source)):
                write_file_atomic(paths[key], text.encode("utf-8"))
                written.append(paths[key])
        except BaseException:
            for path in written:
                with contextlib.suppress(OSError):
                    os.remove(path)
            raise
        return {**paths, **sizes}

    def _c_series_scorer(self, name: str):
        """C code of the series scorer (the anomaly detector's), or None."""
        return None

    def _c_description(self) -> str:
        from .._version import __version__

        params = self.get_params(deep=False)
        shown = ", ".join(f"{k}={params[k]!r}" for k in ("p", "binary", "d", "n_heads", "n_layers", "d_ff",
                                                         "attention", "norm") if k in params)
        return (f"{type(self).__name__}({shown}), sbt_sklearn {__version__}; fitted on {self.n_channels_} "
                f"channel(s), windows of {self.n_timesteps_} steps.")

    def compression_report(self):
        """Parameters, size and FLOPs of the fitted model against its dense twin.

        Two conventions are reported side by side: the SBT paper's (Gorbett et al., 2023,
        Table 6 rules, against the paper's dense baseline) and an honest one (every value
        inference needs is charged: masks, gains, norm parameters and statistics, biases;
        every per-step linear is multiplied by the number of steps it runs on), against the
        dense FP32 twin of the same shape with full attention. The measured size of the model
        file (:meth:`save`) and of the dense twin's float32 safetensors file are included.

        Returns
        -------
        sbt_sklearn.compression.CompressionReport
            ``str(report)`` is a readable table, ``report.to_dict()`` the numbers.

        Examples
        --------
        >>> import numpy as np
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(20, 2, 8)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, n_layers=1, max_epochs=1, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> report = clf.compression_report()
        >>> sorted(report.to_dict()["paper"])
        ['binary_params', 'float_params', 'flops', 'size_bits']
        """
        check_is_fitted(self)
        extra_steps = self._folded_io().extra_steps
        with warnings.catch_warnings():  # what save() would warn about does not change the file's size
            warnings.simplefilter("ignore", UserWarning)
            file_bytes = len(self.to_bytes())
        return network_report(
            self.net_.module_, dict(self.net_.get_params_for("module")), task=self._report_task,
            window=int(self.n_timesteps_) + extra_steps, file_bytes=file_bytes,
            estimator=type(self).__name__, extras=self._report_extras(),
        )
