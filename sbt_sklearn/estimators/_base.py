"""Shared machinery of the SBT estimators: hyperparameters, validation, building the skorch net."""

from __future__ import annotations

import copy
import functools
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import TransformerTags, check_random_state
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
from ._threads import FollowLoad, uses_threads

__all__ = ["SBTBase", "fits_atomically"]


def fits_atomically(fit):
    """Decorate ``fit`` so that a refit leaves either the old model or the new one.

    ``fit`` computes the new state on the estimator as it goes; if it raises (a bad input found
    late, a diverged training, ``KeyboardInterrupt`` outside skorch's epoch loop), the
    estimator's attributes are put back exactly as they were before the call: a fitted model
    stays the model it was, an unfitted one stays unfitted. Every fit assigns new objects (a new
    ``net_``, new arrays) instead of changing the old ones in place, so restoring the attribute
    dictionary restores the model. (A ``KeyboardInterrupt`` inside the epoch loop is caught by
    skorch, which ends training early: the fit then completes with the epochs done so far.)
    """

    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        before = dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return wrapper


class SBTBase(PersistenceMixin, ExportMixin, BaseEstimator):
    """Base class of the SBT estimators (not for direct use).

    Subclasses set the task-specific defaults in ``__init__``, implement ``_make_batch`` and the
    public ``fit`` / ``predict`` methods, and declare their export (``_report_task``,
    ``_folded_io``, see :class:`~sbt_sklearn.estimators._export.ExportMixin`).
    """

    _parameter_constraints: dict = {
        "p": [Interval(Real, 0, 1, closed="left")],  # p=1 would prune every weight
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
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "missing": [StrOptions({"raise", "interpolate"})],
        "device": [StrOptions({"cpu", "cuda", "auto"}), str, torch.device],
        "n_jobs": [Integral, None, StrOptions({"auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "warm_start": ["boolean"],
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
        if self.pals and self.early_stopping is True:
            raise ValueError("pals=True keeps the checkpoint with the best validation loss already; "
                             "do not combine it with early_stopping=True")

    #: estimators that refuse a time-indexed table as X say here what to do instead (see
    #: :meth:`_check_X`); None accepts it (a table of lag windows indexed by time is legitimate)
    _series_hint: str | None = None

    def _check_X(self, X, *, reset: bool):
        if self._series_hint and isinstance(X, (pd.DataFrame, pd.Series)) and not isinstance(X.index, pd.MultiIndex) \
                and isinstance(X.index, (pd.DatetimeIndex, pd.PeriodIndex, pd.TimedeltaIndex)):
            raise ValueError(
                f"X is a {type(X).__name__} indexed by time: one series of {len(X)} time steps, not a table of "
                f"samples (read as such, each time step would be a sample of {X.shape[1] if X.ndim == 2 else 1} "
                f"step(s)). {type(self).__name__} takes samples of shape (n_samples, n_channels, n_timesteps) or "
                f"(n_samples, n_timesteps): {self._series_hint}."
            )
        shape = getattr(X, "shape", None)
        if not reset and shape is not None and len(shape) == 3 and shape[1] != self.n_channels_ \
                and shape[2] == self.n_channels_:
            raise ValueError(
                f"X has {shape[1]} channels, but {type(self).__name__} was fitted with {self.n_channels_} channels; "
                f"its last axis has {self.n_channels_} entries: was it passed as (n_samples, n_timesteps, "
                "n_channels)? The estimators take (n_samples, n_channels, n_timesteps): transpose the last two axes"
            )
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
        gap = min(self._holdout_gap(dataset), max(0, n - n_valid - 1))
        n_train = n - n_valid - gap
        if n_train < 1:
            return np.arange(n), np.arange(0)
        return np.arange(n_train), np.arange(n - n_valid, n)

    def _holdout_gap(self, dataset) -> int:
        """Windows dropped between training and hold-out: one window length."""
        return int(dataset.X.shape[2])

    def _validation_split(self, dataset):
        rng = np.random.default_rng(np.random.SeedSequence(self.seed_).spawn(3)[2])
        train_idx, valid_idx = self._holdout_indices(dataset, rng)
        if len(valid_idx) == 0:
            return dataset, None
        return dataset.subset(train_idx), dataset.subset(valid_idx)

    #: ``max_epochs="auto"``: enough epochs for this many optimizer steps, within the bounds below
    _AUTO_STEPS, _AUTO_MIN_EPOCHS, _AUTO_MAX_EPOCHS = 1000, 100, 500
    #: ``early_stopping="auto"`` holds out a validation set only from this many training samples
    _AUTO_EARLY_STOPPING_MIN = 1000

    def _training_budget(self, n_samples: int) -> tuple[int, bool]:
        """(epochs, early stopping) for a training set of ``n_samples``, resolving the ``"auto"`` values.

        ``max_epochs="auto"``: ``ceil(1000 / batches per epoch)`` epochs, at least 100 and at most
        500, so that a small set gets about 1,000 optimizer steps and a large one 100 epochs.
        ``early_stopping="auto"``: on from 1,000 training samples (the hold-out then has 100 or
        more), off below, where holding out a few series and stopping on their noisy loss costs
        more accuracy than it saves time. PALS keeps its own best checkpoint: no early stopping.
        """
        seen = int(n_samples)
        cap = getattr(self, "max_windows_per_epoch", None)  # the forecaster's windows per epoch
        if cap is not None:
            seen = min(seen, int(np.ceil(cap * seen)) if isinstance(cap, float) else int(cap))
        per_epoch = max(1, -(-seen // int(self.batch_size)))
        epochs = self.max_epochs
        if epochs == "auto":
            steps, low, high = self._auto_epoch_rule()
            epochs = int(np.clip(-(-steps // per_epoch), low, high))
        early = self.early_stopping
        if early == "auto":
            early = not self.pals and n_samples >= self._AUTO_EARLY_STOPPING_MIN
        return int(epochs), bool(early)

    def _auto_epoch_rule(self) -> tuple[int, int, int]:
        """``max_epochs="auto"``: (optimizer steps aimed at, fewest epochs, most epochs)."""
        return self._AUTO_STEPS, self._AUTO_MIN_EPOCHS, self._AUTO_MAX_EPOCHS

    def _budget(self) -> tuple[int, bool]:
        """The budget of the fit in progress (set by :meth:`_train`), else the explicit values."""
        budget = getattr(self, "_fit_budget", None)
        if budget is not None:
            return budget
        return (100 if self.max_epochs == "auto" else int(self.max_epochs), self.early_stopping is True)

    def _callbacks(self, valid_ds) -> list:
        epochs, early = self._budget()
        # last_epoch=-1: a new schedule, also when warm_start continues a net whose history is not empty
        cbs = [("lr_schedule", LRScheduler(policy="CosineAnnealingLR", T_max=epochs, last_epoch=-1))]
        if self._clip_grad_norm:
            cbs.append(("clip", GradientNormClipping(self._clip_grad_norm)))
        if early and valid_ds is not None:
            cbs.append(("early_stopping", EarlyStopping(patience=self.n_iter_no_change, load_best=True)))
        if self.pals and valid_ds is not None:
            if len(valid_ds) > self._pals_max_validation:  # the most recent windows
                valid_ds = valid_ds.subset(np.arange(len(valid_ds) - self._pals_max_validation, len(valid_ds)))
            cbs.append(("pals", PALSCallback(
                valid_ds, pals_lambda=self.pals_lambda, pals_gamma=self.pals_gamma, interval=self.pals_interval,
                p_max=self.p_max, mode="biprop" if self.binary else "dense")))
        if isinstance(self.n_jobs, str):  # "auto": follow the load while training
            cbs.append(("follow_load", FollowLoad()))
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
            max_epochs=self._budget()[0],
            batch_size=self.batch_size,
            iterator_train=BatchLoader,
            iterator_train__shuffle=True,
            iterator_train__seed=shuffle_rng,
            iterator_train__max_samples=getattr(self, "max_windows_per_epoch", None),
            iterator_valid=BatchLoader,
            train_split=predefined_split(valid_ds) if valid_ds is not None and self._budget()[1] else None,
            callbacks=self._callbacks(valid_ds),
            device=device or self._resolve_device(),
            verbose=int(self.verbose),
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            **{f"criterion__{k}": v for k, v in (criterion_kwargs or {}).items()},
        )

    def _warm(self) -> bool:
        """Whether this fit continues the fitted network (``warm_start=True`` and a fitted model)."""
        return bool(getattr(self, "warm_start", False)) and getattr(self, "net_", None) is not None

    def _continued_net(self, module, module_kwargs, criterion, valid_ds, shuffle_rng, criterion_kwargs):
        """A new skorch net built from the current hyperparameters (criterion and class weights,
        budget, batch order, callbacks, device: a fresh optimizer and learning-rate schedule) whose
        network starts as the fitted one, and whose history continues the fitted one's. The old
        net is not touched, so a refit that fails leaves the model as it was."""
        old_net = self.net_
        old = dict(old_net.get_params_for("module"))
        changed = sorted(k for k in set(old) | set(module_kwargs) if k not in ("seed", "max_len")
                         and old.get(k) != module_kwargs.get(k))
        if changed:
            raise ValueError(
                f"warm_start=True continues the fitted network, but the network's hyperparameters changed "
                f"({', '.join(f'{k}: {old.get(k)!r} -> {module_kwargs.get(k)!r}' for k in changed[:5])}); set them "
                "back or fit with warm_start=False"
            )
        # the fitted network's shape: its seed and table length (a longer window extends the masks)
        kwargs = dict(module_kwargs, seed=old["seed"], max_len=old["max_len"])
        net = self._make_net(module, kwargs, criterion, valid_ds, shuffle_rng, criterion_kwargs)
        net.initialize()
        for name, layer in old_net.module_.named_modules():  # dense PALS pruning buffers
            if getattr(layer, "prune_mask", None) is not None:
                net.module_.get_submodule(name).enable_prune_mask()
        net.module_.load_state_dict(old_net.module_.state_dict())
        if hasattr(old_net.module_, "_p"):
            net.module_._p = old_net.module_._p
        net.history = copy.deepcopy(old_net.history)  # n_epochs_ and history_ count every call
        return net

    def _train(self, module, module_kwargs, criterion, train_ds, valid_ds, shuffle_rng, criterion_kwargs=None):
        """Build ``net_`` (a skorch NeuralNet owned by the estimator) and fit it on the datasets.

        Without an explicit ``valid_ds``, early stopping and PALS hold out part of ``train_ds``
        (see :meth:`_holdout_indices`).
        """
        self._fit_budget = self._training_budget(len(train_ds))
        try:
            if valid_ds is None and (self._fit_budget[1] or self.pals):
                train_ds, valid_ds = self._validation_split(train_ds)
            if self._warm():
                self.net_ = self._continued_net(module, module_kwargs, criterion, valid_ds, shuffle_rng,
                                                criterion_kwargs)
                self.net_.partial_fit(train_ds, y=None)
            else:
                self.net_ = self._make_net(module, module_kwargs, criterion, valid_ds, shuffle_rng, criterion_kwargs)
                self.net_.fit(train_ds, y=None)
        finally:
            del self._fit_budget
        _check_trained(self.net_)
        _warn_if_undertrained(self, self.net_)
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

    #: inference batches: at most this many windows, and at most this many bytes of working
    #: memory (input copy, activations and attention weights, see :meth:`_window_bytes`)
    _predict_max_batch: int = 512
    _predict_max_bytes: int = 64 * 2**20
    #: True where ``attention="step_t"`` computes the last layer for the last row alone and
    #: lets past rows attend only to themselves (the last-step networks): attention memory
    #: then grows with T, not T squared
    _step_t_is_linear: bool = False

    def _window_bytes(self, n_channels: int, n_timesteps: int) -> int:
        """Upper estimate of the float32 working memory one window needs in an inference pass.

        Three (heads, T, T) tensors of one attention layer (scores, softmax, masked weights:
        layers run one after another, so one layer's worth is alive at a time) plus the
        activations of one layer, ``T * (C + 6 d + 2 d_ff)`` floats (input, Q, K, V, attention
        output, residual, the feed-forward's hidden layer twice).
        """
        patch = int(getattr(self, "patch_len_", 1))  # the classifier's steps per token
        t, n_channels = -(-int(n_timesteps) // patch), int(n_channels) * patch
        keys = 1 if self._step_t_is_linear and self.attention == "step_t" else t
        return 4 * (3 * self.n_heads * t * keys + t * (int(n_channels) + 6 * self.d + 2 * self.d_ff))

    def _predict_batch_size(self, n_channels: int, n_timesteps: int) -> int:
        """Windows per inference batch: as many as fit in ``_predict_max_bytes`` (at least one)."""
        per_window = self._window_bytes(n_channels, n_timesteps)
        return int(np.clip(self._predict_max_bytes // per_window, 1, self._predict_max_batch))

    def _predict_batches(self, ds, positions=None):
        """Yield (network output on the CPU, batch target) for ``ds`` in order: eval mode, no
        autograd, batches sized from the memory the network allocates for them (one batch is the
        only copy of the windows ever made). ``positions`` (optional) gives each window's
        position in the caller's data, for error messages.

        Raises
        ------
        ValueError
            If the network's output is not finite for some window: its values, standardised with
            the training mean and scale, are too large for the float32 computation.
        """
        check_is_fitted(self)
        batch = self._predict_batch_size(ds.X.shape[1], ds.X.shape[2])
        start = 0
        for inputs, target in BatchLoader(ds, batch_size=batch):
            out = self.net_.evaluation_step((inputs, None), training=False).to("cpu")
            _check_output(self, out, target, inputs, start, positions)
            start += out.shape[0]
            yield out, target

    def _forward(self, ds, *, embed: bool = False) -> torch.Tensor:
        """Network outputs for a whole dataset, on the CPU, in the dataset's order; with ``embed``,
        the decoder's inputs instead (the representation the output is read from).

        An unequal-length panel is run shortest series first, so that each batch pads only to
        its own longest series (the padding never changes an output).
        """
        lengths = ds.lengths()
        order = None if lengths is None else np.argsort(lengths, kind="stable")
        run = ds if order is None else ds.subset(order)
        seen = []
        hook = self.module_.decoder.register_forward_pre_hook(
            lambda _module, args: seen.append(args[0].detach().to("cpu"))) if embed else None
        try:
            out = torch.cat([out for out, _ in self._predict_batches(run, positions=order)])
        finally:
            if hook is not None:
                hook.remove()
        if embed:
            out = torch.cat(seen)
        if order is None:
            return out
        result = torch.empty_like(out)
        result[torch.from_numpy(order)] = out
        return result

    def _check_predict_X(self, X):
        """Validate the input of an inference method: ``(X, padding_mask)``."""
        check_is_fitted(self)
        return self._check_X(X, reset=False)

    def fit_transform(self, X, y=None):
        """Fit on ``X`` (and ``y``), then return :meth:`transform` of ``X``.

        Parameters
        ----------
        X : array-like
            Training samples, as ``fit`` takes them.
        y : array-like or None, default=None
            Targets, as ``fit`` takes them (the anomaly detector takes none).

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, d)
            The fitted model's representation of the training samples.
        """
        return self.fit(X, y).transform(X)

    @uses_threads
    def transform(self, X):
        """The learned representation of each sample: the vector the output layer reads.

        For the classifier, the mean of the encoder's outputs over the valid tokens; for the
        forecaster and the anomaly detector, the encoder's output at the appended step it
        predicts. Rows are float32 vectors of length ``d`` (the network computes in float32; a
        float64 copy would add no precision, and float32 results agree only to float32 rounding
        when the same sample is run in batches of other sizes), for a downstream model (a linear
        probe, a clustering, a nearest-neighbour search). The same network pass as ``predict``,
        without the output layer and the task's transforms.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Samples as ``predict`` takes them.

        Returns
        -------
        X_embedded : ndarray of shape (n_samples, d), float32
            One representation per sample.

        Examples
        --------
        >>> import numpy as np
        >>> from sbt_sklearn import SBTClassifier
        >>> X = np.random.default_rng(0).normal(size=(30, 2, 16)).astype("float32")
        >>> clf = SBTClassifier(d=8, d_ff=16, max_epochs=2, random_state=0).fit(X, X[:, 0, 0] > 0)
        >>> clf.transform(X).shape
        (30, 8)
        """
        X, pad = self._check_predict_X(X)
        return self._forward(self._dataset(X, None, pad), embed=True).float().numpy()

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
        # transform gives the learned representation (float32 whatever the input's dtype)
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags


def _check_trained(net) -> None:
    """Refuse a training whose loss or resulting parameters and statistics are not finite."""
    bad = [name for name, t in net.module_.state_dict().items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    losses = [row.get("train_loss") for row in net.history]
    bad_loss = [i for i, v in enumerate(losses) if v is not None and not np.isfinite(v)]
    if bad or bad_loss:
        what = (f"the network's {bad[0]!r} (and {len(bad) - 1} other tensor(s)) is not finite" if bad
                else f"the training loss is not finite from epoch {bad_loss[0] + 1}")
        raise ValueError(
            f"training diverged: {what} (train losses of the first epochs: {[float(v) for v in losses[:3]]}). "
            "The training data holds values too large for float32 once standardised (check X and y for "
            "extreme values), or the learning rate is too high; the estimator keeps the model it had "
            "before this fit."
        )


#: fewer optimizer steps than this in a whole fit earn a ConvergenceWarning (ItalyPowerDemand with
#: max_epochs=10, i.e. 30 steps, gave a chance-level classifier; a short series in the sktime forecaster
#: got about 10 steps by default)
_MIN_OPTIMIZER_STEPS = 100


def _warn_if_undertrained(estimator, net) -> None:
    """Say so when a fit made so few optimizer steps that the model is likely untrained."""
    steps = sum(sum(1 for b in row.get("batches", []) if "train_loss" in b) for row in net.history)
    if 0 < steps < _MIN_OPTIMIZER_STEPS:
        warnings.warn(
            f"{type(estimator).__name__} made only {steps} optimizer steps ({len(net.history)} epoch(s) of "
            f"batch_size={estimator.batch_size}); the model is likely undertrained. Raise max_epochs or lower "
            f"batch_size (at least {_MIN_OPTIMIZER_STEPS} steps are advisable).",
            ConvergenceWarning, stacklevel=4)


def _check_output(estimator, out, target, inputs, start: int, positions=None) -> None:
    """Raise a clear error where an inference batch's output (or level) is not finite."""
    finite = torch.isfinite(out).reshape(out.shape[0], -1).all(dim=1)
    if isinstance(target, torch.Tensor) and target.is_floating_point() and target.shape[:1] == out.shape[:1]:
        finite &= torch.isfinite(target).reshape(target.shape[0], -1).all(dim=1)
    if bool(finite.all()):
        return
    rows = (torch.nonzero(~finite).flatten() + start).tolist()
    rows = rows if positions is None else sorted(int(positions[r]) for r in rows)
    x = inputs["x"] if isinstance(inputs, dict) else inputs
    peak = float(x[~finite.to(x.device)].abs().max()) if x.numel() else float("nan")
    raise ValueError(
        f"{type(estimator).__name__}: the network's output is not finite for {len(rows)} window(s) (first "
        f"indices {rows[:5]}): their values, standardised with the training mean and scale, reach {peak:.3g}, "
        "too large for the float32 computation. Values this far outside the training range cannot be "
        "predicted; remove or clip them."
    )
