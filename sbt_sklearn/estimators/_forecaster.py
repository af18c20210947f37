"""SBTForecaster: single-step, direct multi-horizon and rolled-out forecasting with a Sparse Binary
Transformer."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.exceptions import DataConversionWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._docstrings import fill_doc
from ..nn import SBTLastStepNet
from ..nn._lags import base_forecast
from ._base import SBTBase, fits_atomically
from ._export import FoldedIO
from ._input import all_finite, as_real_array, check_values
from ._linear_base import fit_linear_base
from ._threads import uses_threads

__all__ = ["SBTForecaster"]



@fill_doc("forecaster")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTForecaster(RegressorMixin, SBTBase):
    """Sparse Binary Transformer for forecasting multivariate time series, one step or H steps ahead.

    Every sample is one window of the past, and the target is the row that follows it. As in
    Gorbett et al. (2023), a zero row is appended to each standardised window and the network
    predicts it under the step-T attention mask (past steps attend only to themselves, the last
    step attends to every past step but not to itself), so only the last step needs real
    attention and the final layer is computed for that step alone. The weights are pruned and
    sign-binary (Biprop: only scores, gains and norms are trained).

    With ``horizon=H`` the model is direct: ``H`` zero rows follow the window, each a query that
    attends to every observed row (not to itself or another query), and one forward pass
    predicts the next ``H`` rows; y then holds those rows, shape (n_samples, n_channels, H).

    By default (``target="relative"``) every window is re-referenced to its last observed row
    and the network predicts the change from that row, which is added back on output (as in
    NLinear, Zeng et al. 2023). The network is then equivariant to the level of the series:
    shifting a window shifts its output by the same amount, so a level never seen in training
    (drift between the training and test periods) does not confuse it, and persistence is the
    zero function (the one-step linear base below sees the level too, so that it can learn mean
    reversion; the direct base of ``horizon > 1`` does not, so with it, or with
    ``linear_base=None``, the whole model is equivariant). ``target="delta"``
    predicts the change but feeds the window as it is; ``target="value"`` is the paper's recipe
    (predict the next row itself).

    With ``linear_base="ridge"`` (the default) a closed-form ridge regression on the recent
    lags is fitted first and the SBT learns what it leaves (its residual); the forecast is the
    sum. The network's output is then scaled by a trainable per-channel gate (starting at 1),
    so that a channel where the network does not help can be shrunk towards the ridge forecast.
    The base's coefficients are stored in float16; with a long window they can take more of the
    model file than the SBT itself, which ``linear_base=None`` saves. On ETTm1 and Weather the
    base is what lets the SBT beat a tuned Ridge. :doc:`/user_guide/forecasting` gives the
    measurements of both.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    n_features_in_ : int
        Number of channels for 3-D input; number of timesteps for 2-D (univariate) input.
    n_channels_ : int
        Number of channels (also the number of outputs).
    n_timesteps_ : int
        Window length seen in fit; :meth:`forecast` uses windows of this length.
    scaler_mean_, scaler_scale_ : ndarray of shape (n_channels,)
        Per-channel standardisation learned in fit, applied to X and y and inverted on output.
    base_lags_ : int
        Lags of the fitted linear base (0 without one).
    base_alpha_ : float or None
        Its ridge penalty.
    base_coef_ : ndarray of shape (base_lags_ * n_channels, n_channels) or (base_lags_, horizon) or None
        Its coefficients (standardised scale; features as described for ``linear_base``), in
        float16: the precision the model uses and stores. With ``horizon > 1`` one (lags, H)
        map shared by every channel.
    base_intercept_ : ndarray of shape (n_channels,) or (horizon,) or None
        Its intercept.
    net_blend_ : ndarray of shape (horizon,)
        Only with ``horizon > 1``: per step ahead, the weight in [0, 1] of the network's output
        added to the linear base's forecast, the smaller of the least-squares weights on the two
        halves of the held-out last ``validation_fraction`` of the training windows (0 where the
        network does not help on both).
    seed_ : int
        The integer every random draw of the fit derives from.
    net_ : skorch.NeuralNet
        The trained skorch net; ``module_`` is its torch network.
    history_ : skorch.History
        Per-epoch training history (``train_loss`` and, with early stopping, ``valid_loss``,
        both mean squared errors on the standardised scale).
    n_epochs_ : int
        Epochs actually trained.

    See Also
    --------
    SBTClassifier : Classification with the same encoder.
    sbt_sklearn.sliding_windows : Zero-copy (X, y) windows of a series.

    Notes
    -----
    The estimator never copies the window array: validation reads the first window and the
    rows the windows cover, and training and prediction materialise one batch of windows at a
    time. Windows from :func:`sbt_sklearn.sliding_windows` over a long series therefore cost
    no more memory than the series itself.

    Metrics of the paper are on the standardised scale; :meth:`predict` returns the original
    scale, so divide errors by ``scaler_scale_`` to compare.

    References
    ----------
    .. [1] M. Gorbett, H. Shirazi, I. Ray. "Sparse Binary Transformers for Multivariate Time
       Series Modeling." KDD 2023.
    .. [2] J. Diffenderfer, B. Kailkhura. "Multi-Prize Lottery Ticket Hypothesis." ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn import SBTForecaster, sliding_windows
    >>> t = np.arange(600, dtype="float32")
    >>> series = np.stack([np.sin(t / 10), np.cos(t / 7)], axis=1)  # (timesteps, channels)
    >>> X, y = sliding_windows(series, window=24)                    # zero-copy views
    >>> X.shape, y.shape
    ((576, 2, 24), (576, 2))
    >>> model = SBTForecaster(d=16, d_ff=32, max_epochs=3, random_state=0).fit(X, y)
    >>> model.predict(X[-2:]).shape
    (2, 2)
    >>> model.forecast(series[-100:], n_steps=5).shape
    (5, 2)

    Direct forecasts of the next 12 rows:

    >>> X, y = sliding_windows(series, window=48, horizon=12)
    >>> y.shape
    (541, 2, 12)
    >>> direct = SBTForecaster(horizon=12, d=16, d_ff=32, max_epochs=3, random_state=0).fit(X, y)
    >>> direct.predict(X[-2:]).shape
    (2, 2, 12)
    """

    _parameter_constraints: dict = {
        **SBTBase._parameter_constraints,
        "horizon": [Interval(Integral, 1, None, closed="left")],
        "target": [StrOptions({"delta", "relative", "value"})],
        "linear_base": [StrOptions({"ridge"}), None],
        "base_lags": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "base_alpha": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "max_windows_per_epoch": [Interval(Integral, 1, None, closed="left"), None],
    }

    #: max_epochs="auto": about 300 steps, at least 10 epochs (the fixed default it replaced, which
    #: every training set of 3,840 windows or more still gets), at most 500
    _AUTO_STEPS, _AUTO_MIN_EPOCHS, _AUTO_MAX_EPOCHS = 300, 10, 500

    #: max_epochs="auto" with horizon > 1: about 300 steps, at least 1 epoch (an H-row query costs H
    #: times a single step's last layer; 10 epochs of ETTm1 took more than half an hour)
    _AUTO_MIN_EPOCHS_DIRECT = 1

    def _auto_epoch_rule(self) -> tuple[int, int, int]:  # noqa: D102
        low = self._AUTO_MIN_EPOCHS_DIRECT if self.horizon > 1 else self._AUTO_MIN_EPOCHS
        return self._AUTO_STEPS, low, self._AUTO_MAX_EPOCHS

    #: the paper trains forecasting models without gradient clipping
    _clip_grad_norm = None
    #: y was given flat, (n_samples, n_channels * H): predict returns that form (set in fit, and in
    #: a model file, only when True)
    _y_flat = False
    _step_t_is_linear = True

    def __init__(
        self,
        *,
        p=0.5,
        binary=True,
        d=64,
        n_heads=2,
        n_layers=2,
        d_ff=256,
        attention="step_t",
        norm="layer",
        pos_encoding="fixed",
        topk_scope="layer",
        pals=False,
        pals_lambda=1.1,
        pals_gamma=1.1,
        pals_interval=20,
        p_max=0.9,
        horizon=1,
        target="relative",
        linear_base="ridge",
        base_lags="auto",
        base_alpha="auto",
        max_epochs="auto",
        batch_size=128,
        max_windows_per_epoch=None,
        lr="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=3,
        missing="raise",
        device="cpu",
        n_jobs="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
    ):
        self.p = p
        self.binary = binary
        self.d = d
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.attention = attention
        self.norm = norm
        self.pos_encoding = pos_encoding
        self.topk_scope = topk_scope
        self.pals = pals
        self.pals_lambda = pals_lambda
        self.pals_gamma = pals_gamma
        self.pals_interval = pals_interval
        self.p_max = p_max
        self.horizon = horizon
        self.target = target
        self.linear_base = linear_base
        self.base_lags = base_lags
        self.base_alpha = base_alpha
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.max_windows_per_epoch = max_windows_per_epoch
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.missing = missing
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start

    # -- export ------------------------------------------------------------------------------------
    _report_task = "forecast"

    def _c_output_doc(self) -> str:  # noqa: D102
        return ("out[N_CHANNELS] = the row that follows the window on the original scale (predict; the "
                "network's output plus the last observed row and the linear base, as fitted).")

    def _folded_io(self) -> FoldedIO:
        """A zero row appended to the window (after re-referencing it to its last row with
        ``target="relative"``); the next row on the original scale out, the last observed row
        added back first when the network predicts the change (``"delta"``, ``"relative"``).
        The linear base is added by the folded model itself (:meth:`_linear_base`)."""
        input_mode = "relative_append_zero" if self.target == "relative" else "append_zero"
        return FoldedIO(input_mode, "rescale" if self.target == "value" else "rescale_level", self._n_queries())

    def _n_queries(self) -> int:
        """Rows one forward pass predicts: the fitted network's (``horizon`` before fitting)."""
        net = getattr(getattr(self, "net_", None), "module_", None)
        return int(getattr(net, "n_queries", self.horizon))

    def _linear_base(self):
        """The fitted ridge base as ``(weight, bias)``, or None (see ``linear_base``)."""
        return (self.base_coef_, self.base_intercept_) if getattr(self, "base_lags_", 0) else None

    def _report_extras(self) -> dict:
        """The linear base: its coefficients and intercepts, one multiply-add per coefficient."""
        parts = self._linear_base()
        if parts is None:
            return {}
        uses = self.n_channels_ if self._n_queries() > 1 else 1  # a shared map runs once per channel
        return {"linear_base": (parts[0].size + parts[1].size, uses * parts[0].size)}

    def _base_forecast(self, x):
        """The linear base's output for standardised windows ``x`` (B, T, C): (B, C), or (B, H, C)
        with ``horizon > 1``; None without a base."""
        parts = self._linear_base()
        if parts is None:
            return None
        weight, bias = (torch.as_tensor(v, device=x.device).float() for v in parts)
        return base_forecast(x, weight, bias, shared=self._n_queries() > 1)

    # -- batches ----------------------------------------------------------------------------------
    def _make_batch(self, x, y, pad):
        """Network inputs for standardised windows ``x`` (B, T, C) and the standardised target.

        ``H = horizon`` zero rows are appended (the rows to predict). With ``target="relative"``
        the window is first re-referenced to its last observed row. The target is the next row
        (or, with ``horizon > 1``, the next H rows as (B, H, C)), or its change from the last
        observed row (``"delta"``, ``"relative"``). Without ``y`` the second item is the level
        that :meth:`_predict_std` adds back to the network output (None for ``"value"``).
        """
        b, _, c = x.shape
        h = self._n_queries()
        last = x[:, -1, :]  # (B, C) the last observed row
        level = None if self.target == "value" else (last if h == 1 else last[:, None, :])
        base = self._base_forecast(x)
        if base is not None:  # the linear base's forecast joins the level the network output is added to
            level = base if level is None else level + base
        if self.target == "relative":
            x = x - last[:, None, :]
        inputs = {"x": torch.cat([x, x.new_zeros(b, h, c)], dim=1)}  # (B, T+H, C)
        if y is None:
            return inputs, level
        mean, scale = torch.as_tensor(self.scaler_mean_), torch.as_tensor(self.scaler_scale_)
        if h == 1:
            y = (y.reshape(b, c).to(torch.float32) - mean) / scale
        else:  # (B, C, H) -> (B, H, C), as the network outputs
            y = (y.reshape(b, c, h).to(torch.float32).transpose(1, 2) - mean) / scale
        return inputs, y if level is None else y - level

    def _check_y(self, y, n_samples: int, two_d_X: bool):
        """Validate y without copying float arrays; return (y as (n, C) array, or (n, C, H) with
        ``horizon > 1``, whether the channel axis was left out, whether y came flat as (n, C * H))."""
        if y is None:
            raise ValueError("SBTForecaster requires y to be passed, but the target y is None")
        y = as_real_array(y, name="y")  # float arrays as they are; complex or non-numeric data raise
        if self.horizon > 1:
            return self._check_y_horizon(y, n_samples)
        if y.ndim == 2 and y.shape[1] == 1 and two_d_X:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected (2-D X holds univariate "
                "windows); y is raveled and predict returns a 1-D array.",
                DataConversionWarning, stacklevel=3,
            )
            y = y[:, 0]
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D (n_samples,) or 2-D (n_samples, n_channels); got shape {y.shape}")
        if y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]}")
        was_1d = y.ndim == 1
        if was_1d:
            if self.n_channels_ != 1:
                raise ValueError(
                    f"y is 1-D but X has {self.n_channels_} channels: pass y of shape (n_samples, "
                    f"{self.n_channels_}), the next row of every channel"
                )
            y = y[:, None]
        elif y.shape[1] != self.n_channels_:
            raise ValueError(
                f"y has {y.shape[1]} columns but X has {self.n_channels_} channels: y must hold the next "
                f"row of every channel, shape (n_samples, {self.n_channels_})"
            )
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        check_values(y, name="y")
        return y, was_1d, False

    def _check_y_horizon(self, y, n_samples: int):
        """y of a direct forecaster: (n, C, H), its flat form (n, C * H) (channel after channel, as
        ``y.reshape(n, -1)`` gives), or (n, H) for one channel; its values are read in bounded
        blocks (the rows under a sliding-window view once), never materialised."""
        h, c = self.horizon, self.n_channels_
        shape = f"(n_samples, {c}, {h})" + (f" or (n_samples, {h})" if c == 1 else f" or (n_samples, {c * h})")
        flat = False
        if y.ndim == 2 and c > 1 and y.shape[1] == c * h:  # sklearn's scorers and splitters take 2-D y
            y, flat = y.reshape(len(y), c, h), True
        if y.ndim == 2 and c == 1:
            if y.shape[1] != h:
                raise ValueError(f"y has {y.shape[1]} columns but horizon={h}: y must hold the next {h} rows, "
                                 f"shape {shape}")
            y, was_1d = y[:, None, :], True
        elif y.ndim == 3:
            if y.shape[1:] != (c, h):
                raise ValueError(f"y has shape {y.shape} but X has {c} channel(s) and horizon={h}: y must hold "
                                 f"the next {h} rows of every channel, shape {shape} (sliding_windows(series, "
                                 f"window, horizon={h}) gives it)")
            was_1d = False
        elif y.ndim == 2 and y.shape[1] == h:
            raise ValueError(f"a 2-D y of shape (n_samples, {h}) is for one channel, but X has {c} channels: with "
                             f"horizon={h} pass y of shape {shape} (flat: every channel's {h} rows, channel "
                             f"after channel)")
        else:
            raise ValueError(f"with horizon={h}, y must have shape {shape}; got shape {y.shape}")
        if y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {y.shape[0]}")
        if not all_finite(y):
            raise ValueError("Input y contains NaN or infinity.")
        check_values(y, name="y")
        return y, was_1d, flat

    # -- fit ----------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @fits_atomically
    @uses_threads(blas=True)
    def fit(self, X, y):
        """Fit the forecaster on windows and the rows that follow them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Past windows, channels before time (as returned by :func:`sbt_sklearn.sliding_windows`);
            2-D X holds univariate windows. Float arrays, including read-only strided views, are
            never copied.
        y : array-like of shape (n_samples, n_channels), (n_samples,), or (n_samples, n_channels, H)
            The row that follows each window (1-D y, univariate X only, makes :meth:`predict`
            return a 1-D array), or the next ``H`` rows, channels before time as in X (the
            2-D form (n_samples, H), one channel only, makes :meth:`predict` return
            (n_samples, H)). The flat form (n_samples, n_channels * H), every channel's ``H``
            rows one channel after another (``y.reshape(n_samples, -1)`` of the 3-D form), is
            the one sklearn's scorers (``scoring="neg_mean_squared_error"``) and metrics accept;
            :meth:`predict` then returns it too.

        Returns
        -------
        self : SBTForecaster
            The fitted forecaster.
        """
        self._check_hyperparameters()
        two_d = getattr(X, "ndim", None) == 2
        warm = self._warm()
        X, pad = self._check_X(X, reset=not warm)
        if pad is not None:
            raise ValueError("SBTForecaster needs windows of equal length; got an unequal-length panel")
        if warm and X.shape[2] != self.n_timesteps_:
            raise ValueError(f"warm_start=True continues a forecaster of windows of n_timesteps_={self.n_timesteps_} "
                             f"steps; got windows of {X.shape[2]}")
        if warm and self._n_queries() != self.horizon:
            raise ValueError(f"warm_start=True continues a forecaster of horizon {self._n_queries()}; got "
                             f"horizon={self.horizon}")
        self.n_channels_, self.n_timesteps_ = X.shape[1], X.shape[2]
        y, y_1d, flat = self._check_y(y, X.shape[0], two_d)
        if warm and (y_1d, flat) != (self._y_1d, self._y_flat):
            raise ValueError("warm_start=True continues a forecaster fitted with a y of another shape (1-D, 2-D, "
                             "3-D or flat)")
        self._y_1d = y_1d
        # stored only when set: files of the other layouts stay as earlier versions wrote and read them
        if flat:
            self._y_flat = True
        else:
            vars(self).pop("_y_flat", None)

        model_seed, shuffle_rng, base_rng = self._seeds()
        settings = {k: getattr(self, k) for k in ("target", "linear_base", "base_lags", "base_alpha")}
        kept = getattr(self, "_warm_settings", None)  # absent on a model loaded from a file
        if warm and kept is not None and kept != settings:
            changed = ", ".join(f"{k}: {kept[k]!r} -> {settings[k]!r}" for k in settings if kept[k] != settings[k])
            raise ValueError(f"warm_start=True keeps the fitted input transform and linear base, but {changed} "
                             "changed; set them back or fit with warm_start=False")
        if not warm:
            self._warm_settings = settings
        if not warm:  # warm_start keeps the scaler and the linear base: the network continues on their residual
            self._fit_scaler(X, pad)
            self.base_lags_, self.base_alpha_, self.base_coef_, self.base_intercept_ = 0, None, None, None
            if self.linear_base == "ridge":
                self.base_coef_, self.base_intercept_, self.base_lags_, self.base_alpha_ = fit_linear_base(
                    X, y, self.scaler_mean_, self.scaler_scale_, relative=self.target != "value",
                    lags=self.base_lags, alpha=self.base_alpha, rng=base_rng)
                if self.verbose:
                    print(f"linear base: ridge on {self.base_lags_} lags, alpha={self.base_alpha_:g}"
                          if self.base_lags_ else "linear base: none (more than 128 channels)", flush=True)
        kwargs = self._module_kwargs(model_seed, max_len=self.n_timesteps_ + self.horizon)
        kwargs.update(n_channels=self.n_channels_, n_outputs=self.n_channels_, output_gate=bool(self.base_lags_))
        if self.horizon > 1:  # horizon=1 builds the network (and writes the file) exactly as before
            kwargs["n_queries"] = self.horizon
        # early stopping and PALS hold out the last windows (time order), see SBTBase._holdout_indices
        train_ds, blend_ds = self._dataset(X, y, pad), None
        if self.horizon > 1:  # the network trains on the first windows; the tail sets its blend
            train_ds, blend_ds = self._validation_split(train_ds)
        self._train(SBTLastStepNet, kwargs, torch.nn.MSELoss, train_ds, blend_ds, shuffle_rng)
        if self.horizon > 1:
            self.net_blend_ = self._fit_blend(blend_ds)
        return self

    def _holdout_gap(self, dataset) -> int:
        """One window and its targets: with ``horizon=H`` a training window's targets reach H - 1 rows
        further, so the gap grows by as much (no held-out window or target overlaps a training one)."""
        return int(dataset.X.shape[2]) + self.horizon - 1

    def _fit_blend(self, blend_ds) -> np.ndarray:
        """Per step ahead, the weight in [0, 1] of the network's output on the held-out tail
        ``blend_ds`` (the network did not train on it): the clipped least-squares weight
        ``clip(<r, n> / <n, n>, 0, 1)`` over windows and channels (``n`` the network output, ``r``
        what it should predict: the target minus the last row and the linear base), computed on
        the first and on the second half of the tail (time order), and the smaller of the two
        kept: the network counts at a step only as far as it helps on both halves. 1 without a
        hold-out; with one held-out window, that window's weight."""
        h = self._n_queries()
        if blend_ds is None:
            return np.ones(h, dtype=np.float32)
        num, den = [], []  # per window and step, summed over channels
        for out, resid in self._predict_batches(blend_ds):
            out = out.double()
            num.append((out * resid.double()).sum(dim=2))
            den.append((out * out).sum(dim=2))
        num, den = torch.cat(num), torch.cat(den)
        cut = len(num) // 2
        halves = [slice(0, cut), slice(cut, None)] if cut else [slice(None)]
        weights = []
        for part in halves:
            a, b = num[part].sum(0), den[part].sum(0)
            weights.append(torch.where(b > 0, a / b.clamp_min(1e-300), torch.zeros_like(b)).clamp(0.0, 1.0))
        blend = torch.minimum(weights[0], weights[-1])
        if self.verbose:
            print(f"network blend on the held-out tail: mean {float(blend.mean()):.3f} (min {float(blend.min()):.3f}, "
                  f"max {float(blend.max()):.3f})", flush=True)
        return blend.numpy().astype(np.float32)

    def _output_scale(self):
        """Per-step weight of the network's output (``horizon > 1``), or None."""
        return getattr(self, "net_blend_", None)

    def _make_net(self, module, module_kwargs, criterion, valid_ds=None, shuffle_rng=None, criterion_kwargs=None,
                  device=None):
        """The base net with larger validation batches."""
        net = super()._make_net(module, module_kwargs, criterion, valid_ds, shuffle_rng, criterion_kwargs, device)
        net.iterator_valid__batch_size = self._predict_max_batch
        return net

    # -- predict ------------------------------------------------------------------------------------
    def _check_window_length(self, n_timesteps: int) -> None:
        """Windows must cover the linear base's lags (the network itself takes any length)."""
        if n_timesteps < self.base_lags_:
            raise ValueError(
                f"windows of {n_timesteps} step(s) are too short: the fitted linear base uses the last "
                f"base_lags_={self.base_lags_} rows (the model was fitted on windows of n_timesteps_="
                f"{self.n_timesteps_} steps)"
            )

    def _check_predict_X(self, X):
        """Equal-length windows that cover the linear base's lags."""
        X, pad = super()._check_predict_X(X)
        if pad is not None:
            raise ValueError("SBTForecaster needs windows of equal length; got an unequal-length panel")
        self._check_window_length(X.shape[2])
        return X, pad

    def _predict_std(self, X, pad=None) -> np.ndarray:
        """Standardised next rows (n, C), or (n, H, C) with ``horizon > 1``, for validated windows,
        one batch at a time."""
        outs = []
        scale = self._output_scale()
        scale = None if scale is None else torch.as_tensor(scale)[None, :, None]
        for pred, level in self._predict_batches(self._dataset(X, None, pad)):
            if scale is not None:
                pred = pred * scale
            outs.append(pred if level is None else pred + level)  # add back the last observed row
        return torch.cat(outs).numpy()

    @uses_threads
    def predict(self, X):
        """Predict the row that follows each window.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Past windows, with the channels seen in fit. They are processed one batch at a time.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_channels), (n_samples,), or (n_samples, n_channels, H)
            Predictions on the original scale (float64), in the shape of the y given to fit:
            the next row, or the next ``H`` rows with ``horizon=H > 1`` (channels before time;
            (n_samples, H) for a one-channel model fitted on a 2-D y; flat for a model fitted on
            a flat y).
        """
        X, _ = self._check_predict_X(X)
        pred = self._predict_std(X).astype(np.float64) * self.scaler_scale_ + self.scaler_mean_
        if pred.ndim == 3:  # (n, H, C) -> (n, C, H)
            pred = pred.transpose(0, 2, 1)
        if self._y_flat:
            return pred.reshape(len(pred), -1)
        return pred[:, 0] if self._y_1d else pred

    def score(self, X, y, sample_weight=None):
        """Coefficient of determination R^2 of :meth:`predict`, averaged uniformly over outputs.

        As :meth:`sklearn.base.RegressorMixin.score`; with ``horizon > 1`` every (channel, step)
        of the ``(n_samples, n_channels, H)`` forecast is one output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Windows.
        y : array-like
            True targets, in the shape fit was given.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R^2 of ``self.predict(X)`` against ``y``.
        """
        from sklearn.metrics import r2_score

        pred = self.predict(X)  # once: RegressorMixin.score would predict again
        y = np.asarray(y)
        if pred.ndim == 3 or y.ndim == 3:
            y, pred = y.reshape(len(y), -1), pred.reshape(len(pred), -1)
        return float(r2_score(y, pred, sample_weight=sample_weight))

    @uses_threads
    def forecast(self, history, n_steps):
        """Forecast ``n_steps`` rows after a history.

        A single-step model (``horizon=1``) is rolled forward: each predicted row is appended
        to the window, which slides by one step, and becomes the input of the next prediction
        (recursive forecasting). A direct model (``horizon=H``) predicts up to ``H`` rows in one
        pass; beyond, it rolls forward in blocks of ``H`` rows.

        Parameters
        ----------
        history : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
            The most recent rows, time along the first axis (a DataFrame works). At least
            ``n_timesteps_`` rows; only the last ``n_timesteps_`` are used.
        n_steps : int
            Number of future rows to forecast (at least 1).

        Returns
        -------
        forecast : ndarray of shape (n_steps, n_channels) or (n_steps,), or DataFrame
            The forecast on the original scale: 1-D for 1-D history, a DataFrame with the
            same columns for a DataFrame history (its index continues a regular
            ``DatetimeIndex``, otherwise it counts on from the history's length).
        """
        check_is_fitted(self)
        if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, Integral) or n_steps < 1:
            raise ValueError(f"n_steps must be an integer >= 1; got {n_steps!r}")
        frame = history if isinstance(history, pd.DataFrame) else None
        hist = as_real_array(history, name="history").astype(np.float64, copy=False)
        one_d = hist.ndim == 1
        if one_d:
            hist = hist[:, None]
        if hist.ndim != 2:
            raise ValueError(f"history must be 1-D or 2-D (n_timesteps, n_channels); got shape {hist.shape}")
        if hist.shape[1] != self.n_channels_:
            raise ValueError(f"history has {hist.shape[1]} channels, but SBTForecaster was fitted with "
                             f"{self.n_channels_} channels")
        if hist.shape[0] < self.n_timesteps_:
            raise ValueError(f"history has {hist.shape[0]} rows; SBTForecaster needs at least the "
                             f"window length n_timesteps_={self.n_timesteps_}")
        if not np.isfinite(hist[-self.n_timesteps_:]).all():
            raise ValueError("history contains NaN or infinity in its last n_timesteps_ rows.")
        check_values(hist[-self.n_timesteps_:], name="history")
        window = np.ascontiguousarray(hist[-self.n_timesteps_:].T[None], dtype=np.float32)  # (1, C, T)
        out = np.empty((n_steps, self.n_channels_), dtype=np.float64)
        done, t = 0, self.n_timesteps_
        while done < n_steps:
            rows = self._predict_std(window)[0].reshape(-1, self.n_channels_)  # (H, C) standardised
            rows = rows.astype(np.float64) * self.scaler_scale_ + self.scaler_mean_
            take = min(len(rows), n_steps - done)
            out[done : done + take] = rows[:take]
            done += take
            window = np.concatenate([window, rows.T.astype(np.float32)[None]], axis=2)[:, :, -t:]
        if frame is not None:
            index = _future_index(frame.index, n_steps)
            return pd.DataFrame(out, index=index, columns=frame.columns)
        return out[:, 0] if one_d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True  # a windowed transformer is not built for tabular toy data
        return tags


def _future_index(index: pd.Index, n_steps: int) -> pd.Index:
    """The ``n_steps`` labels after a history index: continue a regular DatetimeIndex, else count on."""
    if isinstance(index, pd.DatetimeIndex) and len(index) >= 3:
        freq = index.freq or pd.infer_freq(index[-3:])
        if freq is not None:
            return pd.date_range(index[-1], periods=n_steps + 1, freq=freq)[1:]
    return pd.RangeIndex(len(index), len(index) + n_steps)
