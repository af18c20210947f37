"""Shared machinery of the SBT estimators: hyperparameters, validation, building the skorch net."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, GradientNormClipping, LRScheduler, ProgressBar
from skorch.helper import predefined_split

from ..callbacks import PALSCallback
from ._dataset import BatchLoader, WindowDataset
from ._export import ExportMixin
from ._input import all_finite, channel_stats, check_windows, interpolate_missing
from ._persistence import PersistenceMixin

__all__ = ["SBTBase"]


class SBTBase(PersistenceMixin, ExportMixin, BaseEstimator):
    """Base class of the SBT estimators (not for direct use).

    Subclasses set the task-specific defaults in ``__init__``, implement ``_make_batch`` and the
    public ``fit`` / ``predict`` methods, and declare their export (``_report_task``,
    ``_folded_io``, see :class:`~sbt_sklearn.estimators._export.ExportMixin`).
    """

    _parameter_constraints: dict = {
        "p": [Interval(Real, 0, 1, closed="both")],
        "binary": ["boolean"],
        "d": [Interval(Integral, 1, None, closed="left")],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "n_layers": [Interval(Integral, 1, None, closed="left")],
        "d_ff": [Interval(Integral, 1, None, closed="left")],
        "attention": [StrOptions({"full", "step_t", "qkv_mask"})],
        "norm": [StrOptions({"batch", "layer", "layer_plain", "none"})],
        "pos_encoding": [StrOptions({"fixed", "learnable"})],
        "topk_scope": [StrOptions({"layer", "global"})],
        "pals": ["boolean"],
        "pals_lambda": [Interval(Real, 1, None, closed="left")],
        "pals_gamma": [Interval(Real, 1, None, closed="neither")],
        "pals_interval": [Interval(Integral, 1, None, closed="left")],
        "p_max": [Interval(Real, 0, 1, closed="both")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"raise", "interpolate"})],
        "device": [StrOptions({"cpu", "cuda", "auto"}), str, torch.device],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    #: gradient-norm clipping threshold used in training (None: no clipping)
    _clip_grad_norm: float | None = 4.0
    #: shortest window the model accepts
    _min_length: int = 1

    # -- validation helpers ---------------------------------------------------------------------
    def _check_hyperparameters(self) -> None:
        if self.d % self.n_heads:
            raise ValueError(f"d={self.d} must be divisible by n_heads={self.n_heads}")
        if self.pals and not self.binary and self.p > 0:
            raise ValueError("PALS on the dense twin (binary=False) starts dense, as published: pass p=0")
        if self.pals and self.early_stopping:
            raise ValueError("pals=True keeps the checkpoint with the best validation loss already; "
                             "do not combine it with early_stopping=True")

    def _check_X(self, X, *, reset: bool):
        X, pad = check_windows(self, X, reset=reset, allow_nan=self.missing == "interpolate",
                               min_length=self._min_length)
        if self.missing == "interpolate" and not all_finite(X):
            X = interpolate_missing(X, pad)
        if not reset and X.shape[1] != self.n_channels_:
            raise ValueError(f"X has {X.shape[1]} channels, but {type(self).__name__} was fitted with "
                             f"{self.n_channels_} channels")
        return X, pad

    def _fit_scaler(self, X, pad) -> None:
        self.scaler_mean_, self.scaler_scale_ = channel_stats(X, pad)

    def _dataset(self, X, y=None, pad=None) -> WindowDataset:
        return WindowDataset(X, y, pad, mean=self.scaler_mean_, scale=self.scaler_scale_, make_batch=self._make_batch)

    # -- training -------------------------------------------------------------------------------
    def _resolve_device(self) -> str:
        if isinstance(self.device, torch.device):
            return str(self.device)
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            device = torch.device(self.device)
        except RuntimeError as exc:
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got {self.device!r}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was requested but CUDA is not available")
        return str(device)

    def _seeds(self):
        """(model seed, shuffling generator, split generator) derived from ``random_state``."""
        self.seed_ = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        model, shuffle, split = np.random.SeedSequence(self.seed_).spawn(3)
        return int(model.generate_state(1)[0] >> 1), np.random.default_rng(shuffle), np.random.default_rng(split)

    def _lr(self) -> float:
        """``lr="auto"``: 0.02 for Biprop scores (``binary=True``), 1e-3 for FP32 weights."""
        if self.lr == "auto":
            return 2e-2 if self.binary else 1e-3
        return float(self.lr)

    def _module_kwargs(self, seed: int, max_len: int) -> dict:
        return dict(
            d=self.d, n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff, p=self.p, binary=self.binary,
            attention=self.attention, norm=self.norm, pos_encoding=self.pos_encoding,
            max_len=max_len, topk_scope=self.topk_scope, seed=seed,
        )

    #: PALS evaluates at most this many held-out windows at each decision (bounded cost)
    _pals_max_validation: int = 2048

    def _holdout_indices(self, dataset, rng):
        """(train, valid) positions of a validation hold-out: the tail of the windows, time order kept.

        A gap of one window length separates them, so that no validation window overlaps a
        training window. The classifier overrides this with a stratified random split.
        """
        n = len(dataset)
        n_valid = max(1, int(round(self.validation_fraction * n)))
        gap = min(int(dataset.X.shape[2]), max(0, n - n_valid - 1))
        n_train = n - n_valid - gap
        if n_train < 1:
            return np.arange(n), np.arange(0)
        return np.arange(n_train), np.arange(n - n_valid, n)

    def _validation_split(self, dataset):
        rng = np.random.default_rng(np.random.SeedSequence(self.seed_).spawn(3)[2])
        train_idx, valid_idx = self._holdout_indices(dataset, rng)
        if len(valid_idx) == 0:
            return dataset, None
        return dataset.subset(train_idx), dataset.subset(valid_idx)

    def _callbacks(self, valid_ds) -> list:
        cbs = [("lr_schedule", LRScheduler(policy="CosineAnnealingLR", T_max=self.max_epochs))]
        if self._clip_grad_norm:
            cbs.append(("clip", GradientNormClipping(self._clip_grad_norm)))
        if self.early_stopping and valid_ds is not None:
            cbs.append(("early_stopping", EarlyStopping(patience=self.n_iter_no_change, load_best=True)))
        if self.pals and valid_ds is not None:
            if len(valid_ds) > self._pals_max_validation:  # the most recent windows
                valid_ds = valid_ds.subset(np.arange(len(valid_ds) - self._pals_max_validation, len(valid_ds)))
            cbs.append(("pals", PALSCallback(
                valid_ds, pals_lambda=self.pals_lambda, pals_gamma=self.pals_gamma, interval=self.pals_interval,
                p_max=self.p_max, mode="biprop" if self.binary else "dense")))
        if self.verbose:
            cbs.append(("progress", ProgressBar()))
        return cbs + list(self.callbacks or [])

    def _make_net(self, module, module_kwargs, criterion, valid_ds=None, shuffle_rng=None, criterion_kwargs=None,
                  device=None) -> NeuralNet:
        """A skorch NeuralNet for ``module`` built from the estimator's training hyperparameters."""
        return NeuralNet(
            module,
            criterion=criterion,
            optimizer=torch.optim.Adam,
            lr=self._lr(),
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_train__seed=shuffle_rng,
            iterator_train__max_samples=getattr(self, "max_windows_per_epoch", None),
            iterator_valid=BatchLoader,
            train_split=predefined_split(valid_ds) if valid_ds is not None and self.early_stopping else None,
            callbacks=self._callbacks(valid_ds),
            device=device or self._resolve_device(),
            verbose=int(self.verbose),
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            **{f"criterion__{k}": v for k, v in (criterion_kwargs or {}).items()},
        )

    def _train(self, module, module_kwargs, criterion, train_ds, valid_ds, shuffle_rng, criterion_kwargs=None):
        """Build ``net_`` (a skorch NeuralNet owned by the estimator) and fit it on the datasets.

        Without an explicit ``valid_ds``, early stopping and PALS hold out part of ``train_ds``
        (see :meth:`_holdout_indices`).
        """
        if valid_ds is None and (self.early_stopping or self.pals):
            train_ds, valid_ds = self._validation_split(train_ds)
        self.net_ = self._make_net(module, module_kwargs, criterion, valid_ds, shuffle_rng, criterion_kwargs)
        self.net_.fit(train_ds, y=None)
        # predefined_split holds the validation windows: drop it so that pickling a fitted model
        # never drags training data along (a pickled sliding-window view is a full copy)
        self.net_.train_split = None
        self.history_ = self.net_.history
        self.n_epochs_ = len(self.net_.history)
        pals = dict(self.net_.callbacks_).get("pals")
        if pals is not None:
            self.p_ = float(pals.best_p_)
            self.pals_history_ = pals.history()
        else:
            self.p_ = float(self.p)
            self.pals_history_ = []
        return self

    #: inference batches: at most this many windows, and at most this many bytes of input
    _predict_max_batch: int = 512
    _predict_max_bytes: int = 16 * 2**20

    def _predict_batches(self, ds):
        """Yield (network output on the CPU, batch target) for ``ds`` in order: eval mode, no
        autograd, batches larger than in training but capped in bytes (one batch is the only
        copy of the windows ever made)."""
        check_is_fitted(self)
        per_window = 4 * int(np.prod(ds.X.shape[1:]))
        batch = int(np.clip(self._predict_max_bytes // per_window, 1, self._predict_max_batch))
        for inputs, target in BatchLoader(ds, batch_size=batch):
            yield self.net_.evaluation_step((inputs, None), training=False).to("cpu"), target

    def _forward(self, ds) -> torch.Tensor:
        """Network outputs for a whole dataset, on the CPU."""
        return torch.cat([out for out, _ in self._predict_batches(ds)])

    @property
    def module_(self) -> torch.nn.Module:
        """The fitted torch network (``net_.module_``)."""
        check_is_fitted(self)
        return self.net_.module_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = self.missing == "interpolate"
        tags.non_deterministic = str(self.device) != "cpu"
        return tags
