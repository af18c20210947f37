"""SBTAnomalyDetector: anomaly scores from last-step errors of a Sparse Binary Transformer."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..anomaly import pot_threshold
from ..anomaly._typicality import anomaly_from_terms, fit_tail, fit_value_bins, marginal_rarity
from ..nn import SBTLastStepNet
from ._base import SBTBase
from ._export import FoldedIO
from ._input import two_valued_channels

__all__ = ["SBTAnomalyDetector"]

#: floor of a channel's reference error, relative to the mean reference error over channels
_ERROR_FLOOR = 1e-2
#: windows per chunk when the rarity term is computed (bounds its (chunk, channels, bins) temporaries)
_RARITY_CHUNK = 8192


class SBTAnomalyDetector(OutlierMixin, SBTBase):
    """Sparse Binary Transformer anomaly detector for multivariate time series windows.

    Every sample is one window of a multivariate series; its score belongs to the window's
    last step. The network is the SBT encoder of Gorbett et al. (2023) with step-T attention
    (past steps attend only to themselves, the last step attends to every past step but
    never to itself) and a sparse-binary decoder for the last step. It is trained on benign
    windows to output the last step, and a window is the more anomalous the larger the
    error on its last step (optionally, ``rarity``, also the rarer its last step's values
    are among the training values). The conventions are those of
    :class:`~sklearn.ensemble.IsolationForest`: :meth:`score_samples` is higher for more
    normal windows, ``decision_function = score_samples - offset_`` is negative for
    outliers, and :meth:`predict` returns -1 (outlier) or +1 (inlier).

    Parameters
    ----------
    p : float, default=0.5
        Prune rate: the fraction of weights removed in every sparse-binary layer (the paper
        uses 0.75 for anomaly detection; the original code's ``lin_prune_rate`` is the kept
        fraction ``1 - p``).
    binary : bool, default=True
        Sign-binary weights with a per-layer gain. ``binary=False, p=0`` is the dense FP32 twin.
    d : int, default=64
        Model width (the paper uses twice the number of channels).
    n_heads : int, default=2
        Attention heads (must divide ``d``).
    n_layers : int, default=2
        Encoder layers.
    d_ff : int, default=256
        Feed-forward width.
    attention : {"step_t", "full", "qkv_mask"}, default="step_t"
        Attention mode. ``"step_t"`` is the paper's mask, computed by a fast path in which
        only the last step runs real attention.
    norm : {"none", "layer", "layer_plain", "batch"}, default="none"
        Normalisation after each residual (the SBT anomaly model has none; ``"layer_plain"``:
        layer norm without gain and bias).
    pos_encoding : {"fixed", "learnable"}, default="fixed"
        Sinusoidal (any length) or learnable positional encoding.
    topk_scope : {"layer", "global"}, default="layer"
        Prune each layer to ``p`` (as SBT) or keep the top ``1 - p`` of scores over all layers.
    pals : bool, default=False
        Adapt the prune rate during training with PALS (``p`` is then the starting rate).
    pals_lambda, pals_gamma : float, default=1.1
        PALS loss tolerance and rate factor.
    pals_interval : int, default=20
        Training steps between PALS decisions.
    p_max : float, default=0.9
        Highest prune rate PALS may reach.
    target : {"predict", "reconstruct"}, default="predict"
        What the network outputs for the last step of a window. ``"predict"``: the last row
        is zeroed on input and predicted from the past steps (a one-step forecast error).
        ``"reconstruct"``: the paper's setting; the last row stays visible and is
        reconstructed, with attention from the last step to itself blocked, so the network
        sees the last step only through its own embedding and the residual connections.
        ``"predict"`` is the default: with the same budget it ranked anomalies better on MSL
        (ROC-AUC 61.8 vs 56.9) and neither target ranks SMAP's anomalies (40.2 vs 42.3);
        see the user guide.
    error_weighting : {"continuous", "none", "reference"}, default="continuous"
        How channels are combined in the score. ``"continuous"``: the mean squared error of
        the standardised last step over the channels that take more than two distinct values
        in training (over all channels if none does): on/off flags, such as the command
        channels of SMAP and MSL, are left out of the score (they still feed the network).
        Measured on MSL: ROC-AUC 70.1 against 60.7 for ``"none"`` (SMAP 39.5 against 41.5;
        see ``docs/benchmarks/anomaly_scoring_study.md``). ``"none"``: the mean over channels of
        the squared error of the standardised last step (the paper's score). ``"reference"``:
        each channel's squared error is first divided by its mean on the training windows
        (floored at 1 % of the mean over channels), so a channel counts by how unusual its
        error is rather than by how hard it is to predict. Measured: better on SMAP, worse
        on MSL, where channels that are constant in training get a large weight.
    rarity : {"marginal"} or None, default=None
        Also score how rare the window's last row is. ``None``: the error alone.
        ``"marginal"``: for every channel that takes more than two distinct values in
        training (all channels if none does), a histogram of its standardised training
        values on 64 equal-mass, left-closed bins (widths floored at 0.01 standard deviations,
        an exponential tail outside the training range) gives the row's ``-log`` density,
        summed over channels (channels taken as independent; a value repeated in training
        falls in the bin that starts at it, so a discrete channel's density reflects the gaps
        between its values). The score is then ``max(0, T_e + log 0.05) + T_v``, where ``T_e``
        and ``T_v`` are the ``-log`` upper-tail probabilities of the error and of that rarity
        among the training windows (kept as 65 quantiles each): the error counts once it is
        beyond its 95 % training quantile, the rarity always. It catches anomalies that the
        network predicts well, such as SMAP's flat stretches at unusual levels, and mutes the
        error below its training tail. Measured (p=0.75, medians of three seeds, ROC-AUC /
        PR-AUC, ``docs/benchmarks/anomaly.md``): SMAP 65.8 / 18.4 against 41.2 / 10.7 with
        ``None`` (the rarity does the work there: the dense twin scores the same), MSL 70.3 /
        26.4 against 70.1 / 24.1; one detector per SMAP channel, scores pooled through
        ``sbt_sklearn.anomaly.tail_levels``: 73.6 / 32.9 against 67.4 / 24.6
        (``docs/benchmarks/anomaly_per_channel.md``). On single telemetry channels, where
        anomalies are prediction failures, it is often worse (shipped samples, ROC-AUC with /
        without: G-7 52.2 / 67.9, M-7 76.1 / 93.2, T-8 52.3 / 53.1; over all 80 SMAP and MSL
        channels it ranks better in 43), hence not the default.
    loss : {"squared", "huber"}, default="squared"
        Training loss on the standardised last step. ``"squared"`` is the paper's mean
        squared error. ``"huber"`` (quadratic up to 1, linear beyond) keeps rare huge
        errors (a rarely switching 0/1 channel is tens of standard deviations away when it
        switches) from dominating the gradient; it trained more smoothly on MSL but ranked
        anomalies worse (ROC-AUC 59.0 vs 61.8). The score is the squared error either way.
    threshold : {"quantile", "pot"}, default="quantile"
        How ``offset_`` is set from the reference scores (the scores of the training
        windows; never from data that is scored later). ``"quantile"``: a fraction
        ``contamination`` of the reference windows are outliers. ``"pot"``:
        Peaks-Over-Threshold, a generalised Pareto fit of the tail of the reference anomaly
        scores (:func:`sbt_sklearn.anomaly.pot_threshold`) with risk ``q`` and initial
        level ``level``.
    contamination : float, default=0.01
        Expected fraction of outliers, in (0, 0.5], for ``threshold="quantile"`` (the paper
        uses 1 % on SMAP and MSL and 0.5 % on SMD).
    q : float, default=1e-3
        POT risk: the probability, under the fitted tail, that a normal window is flagged.
    level : float, default=0.98
        POT initial threshold: the ``level`` quantile of the reference anomaly scores.
    max_epochs : int, default=20
        Training epochs (a cosine schedule decays the learning rate to 0 over them).
    max_windows_per_epoch : int, float or None, default=10000
        Windows drawn (without replacement, freshly every epoch, seeded by
        ``random_state``) for each training epoch: an int is a count, a float in (0, 1] a
        fraction of the training windows, None uses all of them every epoch. Long series
        give hundreds of thousands of strongly overlapping windows; a fresh sample per epoch
        covers them over the epochs at a fixed cost per epoch.
    batch_size : int, default=128
        Mini-batch size (as in the paper); batches are reshuffled every epoch.
    lr : float or "auto", default="auto"
        Adam learning rate. ``"auto"`` is 0.02 for sign-binary models (``binary=True``) and
        1e-3 for FP32 weights.
    early_stopping : bool, default=False
        Hold out the last ``validation_fraction`` of the training windows (time order is
        kept, with a gap of one window length so no step is shared with training windows),
        stop when the validation loss has not improved for ``n_iter_no_change`` epochs and
        restore the best weights. The reference scores of the threshold are still computed
        on all training windows.
    validation_fraction : float, default=0.1
        Held-out tail for early stopping.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    missing : {"raise", "interpolate"}, default="raise"
        NaN/inf in X raise a ValueError, or are linearly interpolated along time.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Where to train and score; a model trained on a GPU scores on a CPU-only machine.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, scores, masks, window sampling and batch order: two fits with the
        same integer give identical scores on the CPU.
    verbose : int, default=0
        0 prints nothing; 1 shows a progress bar and a line per epoch.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks.

    Attributes
    ----------
    offset_ : float
        ``decision_function = score_samples - offset_``; windows with a negative decision
        are outliers. Equal to minus the anomaly-score threshold.
    threshold_ : float
        The anomaly-score threshold (``-offset_``): a window whose anomaly score (minus
        :meth:`score_samples`) exceeds it is an outlier.
    channel_weights_ : ndarray of shape (n_channels,)
        Weight of each channel's squared standardised error in the score (all ones with
        ``error_weighting="none"``).
    rarity_channels_ : ndarray of shape (n_channels,) of bool or None
        Channels whose values enter the rarity term (None with ``rarity=None``).
    value_bins_ : ndarray of shape (n_rarity_channels, 65) or None
        Edges of each such channel's equal-mass histogram, on the standardised scale.
    error_tail_, rarity_tail_ : ndarray of shape (2, n_knots) or None
        The training distributions of the error and of the rarity: increasing values and
        their ``-log`` upper-tail probabilities.
    n_features_in_ : int
        Number of channels for 3-D input; number of timesteps for 2-D (univariate) input.
    n_channels_ : int
        Number of input channels.
    n_timesteps_ : int
        Window length seen in fit.
    scaler_mean_, scaler_scale_ : ndarray of shape (n_channels,)
        Per-channel standardisation learned in fit.
    seed_ : int
        The integer every random draw of the fit derives from.
    net_ : skorch.NeuralNet
        The trained skorch net; ``module_`` is its torch network.
    history_ : skorch.History
        Per-epoch training history.
    n_epochs_ : int
        Epochs actually trained.

    See Also
    --------
    sklearn.ensemble.IsolationForest : the outlier-detection conventions followed here.
    sbt_sklearn.anomaly.pot_threshold : the Peaks-Over-Threshold threshold.
    sbt_sklearn.anomaly.tail_levels : scores of detectors fitted on different series on one scale.
    sbt_sklearn.metrics.precision_recall_f1 : detection scores with or without point adjustment.
    sbt_sklearn.data.sliding_windows : zero-copy windows over a long series.

    Notes
    -----
    Long series: pass ``sliding_windows(series, window, horizon=0)[0]``, a read-only view;
    neither fitting nor scoring copies more than one batch of windows. :meth:`score_series`
    does this for you and returns one score per time step.

    The score is computed on the standardised scale learned in fit, so channels in
    different units are comparable. Windows with unequal lengths (padded panels) are
    rejected: every window must end with a real time step.

    References
    ----------
    .. [1] M. Gorbett, H. Shirazi, I. Ray. "Sparse Binary Transformers for Multivariate Time
       Series Modeling." KDD 2023.
    .. [2] A. Siffer, P.-A. Fouque, A. Termier, C. Largouët. "Anomaly detection in streams
       with extreme value theory." KDD 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn import SBTAnomalyDetector, sliding_windows
    >>> t = np.arange(3000, dtype="float32")
    >>> series = np.stack([np.sin(t / 10), np.cos(t / 10)], axis=1)  # (3000, 2)
    >>> X, _ = sliding_windows(series, window=20, horizon=0)  # zero-copy (2981, 2, 20)
    >>> det = SBTAnomalyDetector(d=16, d_ff=32, max_epochs=3, random_state=0).fit(X)
    >>> broken = series.copy()
    >>> broken[2500, 0] += 3.0  # a spike
    >>> scores = det.score_series(broken)
    >>> int(np.argmin(scores))
    2500
    >>> det.predict(X[:3]).tolist()
    [1, 1, 1]
    """

    _parameter_constraints: dict = {
        **SBTBase._parameter_constraints,
        "target": [StrOptions({"reconstruct", "predict"})],
        "error_weighting": [StrOptions({"continuous", "reference", "none"})],
        "rarity": [StrOptions({"marginal"}), None],
        "loss": [StrOptions({"squared", "huber"})],
        "threshold": [StrOptions({"quantile", "pot"})],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "q": [Interval(Real, 0, 1, closed="neither")],
        "level": [Interval(Real, 0, 1, closed="neither")],
        "max_windows_per_epoch": [Interval(Integral, 1, None, closed="left"),
                              Interval(Real, 0, 1, closed="right"), None],
    }

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
        norm="none",
        pos_encoding="fixed",
        topk_scope="layer",
        pals=False,
        pals_lambda=1.1,
        pals_gamma=1.1,
        pals_interval=20,
        p_max=0.9,
        target="predict",
        error_weighting="continuous",
        rarity=None,
        loss="squared",
        threshold="quantile",
        contamination=0.01,
        q=1e-3,
        level=0.98,
        max_epochs=20,
        max_windows_per_epoch=10000,
        batch_size=128,
        lr="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        missing="raise",
        device="cpu",
        random_state=None,
        verbose=0,
        callbacks=None,
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
        self.target = target
        self.error_weighting = error_weighting
        self.rarity = rarity
        self.loss = loss
        self.threshold = threshold
        self.contamination = contamination
        self.q = q
        self.level = level
        self.max_epochs = max_epochs
        self.max_windows_per_epoch = max_windows_per_epoch
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.missing = missing
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # -- export ------------------------------------------------------------------------------------
    _report_task = "anomaly"

    def _folded_io(self) -> FoldedIO:
        """The last row zeroed on input (``target="predict"``) or kept (``"reconstruct"``); out,
        ``score_samples``: minus the weighted squared error of the last row (combined with the
        value rarity when ``rarity`` is set)."""
        return FoldedIO("zero_last" if self.target == "predict" else "keep_last", "neg_weighted_error", 0)

    def _rarity_tables(self):
        if self.rarity is None:
            return None
        return (np.flatnonzero(self.rarity_channels_), self.value_bins_, self.error_tail_, self.rarity_tail_)

    def _report_extras(self) -> dict:
        """The rarity tables: histogram edges and tail knots; per channel a comparison per bin
        edge and a few operations, per tail one per knot (an estimate, not a measured count)."""
        tables = self._rarity_tables()
        if tables is None:
            return {}
        _, bins, error_tail, rarity_tail = tables
        return {"score_tables": (bins.size + error_tail.size + rarity_tail.size,
                                 bins.size + 6 * bins.shape[0] + error_tail.shape[1] + rarity_tail.shape[1] + 12)}

    # -- batches ---------------------------------------------------------------------------------
    def _make_batch(self, x, y, pad):
        """Network inputs and the last-step target for standardised windows ``x`` (B, T, C)."""
        target = x[:, -1].clone()  # (B, C)
        if self.target == "predict":
            x[:, -1] = 0.0  # the batch is a private copy: zero the step to predict
        return {"x": x}, target

    def _check_X(self, X, *, reset: bool):
        X, pad = super()._check_X(X, reset=reset)
        if pad is not None:
            raise ValueError(
                "SBTAnomalyDetector needs windows of equal length (every window must end with a real "
                "time step); got a panel of unequal lengths. Cut the series with "
                "sbt_sklearn.sliding_windows(series, window, horizon=0) instead."
            )
        return X, pad

    # -- fit -------------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector on benign windows and set the threshold from their scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Training windows, assumed (mostly) normal; each window is scored at its last step.
            Read-only strided views from :func:`sbt_sklearn.sliding_windows` are used without
            copying.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : SBTAnomalyDetector
            The fitted detector.
        """
        self._check_hyperparameters()
        X, _ = self._check_X(X, reset=True)
        self.n_channels_, self.n_timesteps_ = X.shape[1], X.shape[2]
        self._fit_scaler(X, None)

        model_seed, shuffle_rng, _ = self._seeds()
        kwargs = self._module_kwargs(
            model_seed, max_len=max(self.n_timesteps_, 512 if self.pos_encoding == "learnable" else 1)
        )
        kwargs.update(n_channels=self.n_channels_, n_outputs=self.n_channels_)
        criterion = torch.nn.HuberLoss if self.loss == "huber" else torch.nn.MSELoss
        # early stopping and PALS hold out the last windows (time order, one-window gap): SBTBase
        # windows per epoch: max_windows_per_epoch, drawn afresh every epoch by the batch loader
        self._train(SBTLastStepNet, kwargs, criterion, self._dataset(X), None, shuffle_rng)

        continuous = None
        if self.error_weighting == "continuous" or self.rarity is not None:
            continuous = ~two_valued_channels(X)
            if not continuous.any():
                continuous[:] = True
        self.rarity_channels_ = continuous if self.rarity is not None else None
        errors, last = self._window_terms(X)  # on the reference (training) windows
        if self.error_weighting == "reference":
            ref = errors.mean(axis=0, dtype=np.float64)
            floor = _ERROR_FLOOR * max(float(ref.mean()), np.finfo(np.float32).tiny)
            self.channel_weights_ = 1.0 / np.maximum(ref, floor)
        elif self.error_weighting == "continuous":
            # scores divide by n_channels_: these weights make that the mean over the kept channels
            self.channel_weights_ = np.where(continuous, self.n_channels_ / continuous.sum(), 0.0)
        else:
            self.channel_weights_ = np.ones(self.n_channels_)
        error = errors @ self.channel_weights_ / self.n_channels_
        self.value_bins_ = self.error_tail_ = self.rarity_tail_ = None
        rarity = None
        if self.rarity is not None:
            self.value_bins_ = fit_value_bins(last)
            rarity = self._rarity_of(last)
            self.error_tail_, self.rarity_tail_ = fit_tail(error), fit_tail(rarity)
        anomaly = self._anomaly(error, rarity)  # higher = more anomalous
        self.threshold_ = self._threshold_from(anomaly)
        self.offset_ = -self.threshold_
        return self

    def _threshold_from(self, anomaly_scores: np.ndarray) -> float:
        """Anomaly-score threshold from reference anomaly scores (higher = more anomalous)."""
        if self.threshold == "pot":
            return float(pot_threshold(anomaly_scores, q=self.q, level=self.level))
        # offset_ = the contamination-quantile of score_samples, as IsolationForest does
        return -float(np.percentile(-anomaly_scores, 100.0 * self.contamination))

    # -- scoring ---------------------------------------------------------------------------------
    def _window_terms(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """Squared standardised last-step errors (n, C) and, with ``rarity``, the standardised last
        rows of the rarity channels (n, c), both float64, one batch at a time."""
        keep = None if self.rarity is None else torch.from_numpy(np.flatnonzero(self.rarity_channels_))
        errors, last = [], []
        for pred, target in self._predict_batches(self._dataset(X)):
            errors.append((pred.double() - target.double()) ** 2)
            if keep is not None:  # the target of either task is the standardised last row
                last.append(target.index_select(1, keep.to(target.device)).double())
        return torch.cat(errors).numpy(), (torch.cat(last).numpy() if keep is not None else None)

    def _rarity_of(self, last: np.ndarray) -> np.ndarray:
        """Rarity (minus the summed log histogram density) of standardised last rows (n, c)."""
        bins = torch.from_numpy(self.value_bins_).double()
        return np.concatenate([marginal_rarity(torch.from_numpy(last[i : i + _RARITY_CHUNK]), bins).numpy()
                               for i in range(0, len(last), _RARITY_CHUNK)])

    def _anomaly(self, error: np.ndarray, rarity: np.ndarray | None) -> np.ndarray:
        """Anomaly score (higher = more anomalous) from the weighted error (n,) and the rarity (n,)."""
        if self.rarity is None:
            return error
        knots = [torch.from_numpy(t).double() for t in (self.error_tail_, self.rarity_tail_)]
        return np.concatenate([
            anomaly_from_terms(torch.from_numpy(error[i : i + _RARITY_CHUNK]),
                               torch.from_numpy(rarity[i : i + _RARITY_CHUNK]), *knots).numpy()
            for i in range(0, len(error), _RARITY_CHUNK)])

    def score_samples(self, X):
        """Normality score of each window (higher = more normal).

        With ``rarity=None`` (default): minus the weighted mean squared error of the last step.
        With ``rarity="marginal"``: minus ``max(0, T_e + log 0.05) + T_v``, where ``T_e``
        is the ``-log`` upper-tail probability of that error among the training windows'
        errors and ``T_v`` the same for how rare the window's last row is (see ``rarity``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Windows to score; each window's score belongs to its last step.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Higher is more normal (float64).
        """
        check_is_fitted(self)
        X, _ = self._check_X(X, reset=False)
        errors, last = self._window_terms(X)
        rarity = None if self.rarity is None else self._rarity_of(last)
        return -self._anomaly(errors @ self.channel_weights_ / self.n_channels_, rarity)

    def decision_function(self, X):
        """Shifted scores: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Windows to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each window as an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Windows to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            -1 where ``decision_function(X) < 0``, else +1.
        """
        decision = self.decision_function(X)
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels

    def score_series(self, series, *, smooth=1):
        """Normality score of every time step of a long series (higher = more normal).

        The series is cut into windows of ``n_timesteps_`` steps without copying
        (:func:`sbt_sklearn.sliding_windows` with ``horizon=0``); step ``t`` gets the score of
        the window that ends at ``t``. The first ``n_timesteps_ - 1`` steps have no full
        window and get the score of the first window.

        Parameters
        ----------
        series : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
            The series, time along the first axis, at least ``n_timesteps_`` steps long.
        smooth : int, default=1
            Give step ``t`` the lowest score of the windows ending at ``t - smooth + 1`` ...
            ``t`` (a causal running maximum of the anomaly score), so that a large error keeps
            its step flagged for ``smooth`` steps. Measured with ``smooth=25`` (ROC-AUC /
            PR-AUC): with the error alone, MSL 77.3 / 27.5 against 70.1 / 24.1 (seed 0; seeds 1
            and 2: 75.8 and 76.1 ROC-AUC), SMAP 42.1 / 11.0 against 39.5 / 10.5; with
            ``rarity="marginal"`` (medians of three seeds, ``docs/benchmarks/anomaly.md``) MSL
            77.7 / 29.8 against 70.3 / 26.4, but SMAP 59.1 / 15.3 against 65.8 / 18.4 (a rare
            value is rare at its own step; holding it for 25 steps adds false alarms).
            Smoothed scores are lower than window scores:
            set thresholds on smoothed reference scores (``score_series`` of the training
            series), not on ``offset_``.

        Returns
        -------
        scores : ndarray of shape (n_timesteps,)
            One score per time step (float64).
        """
        if isinstance(smooth, (bool, np.bool_)) or not isinstance(smooth, Integral) or smooth < 1:
            raise ValueError(f"smooth must be an integer >= 1; got {smooth!r}")
        from ..data import sliding_windows

        check_is_fitted(self)
        windows, _ = sliding_windows(series, self.n_timesteps_, horizon=0)
        if self.n_channels_ == 1 and self.n_features_in_ != 1:  # fitted on 2-D (n, T) windows
            windows = windows[:, 0, :]
        scores = self.score_samples(windows)
        if smooth > 1:  # running minimum of the normality score over the last `smooth` windows
            from scipy.ndimage import minimum_filter1d

            scores = minimum_filter1d(scores, size=smooth, origin=(smooth - 1) // 2, mode="nearest")
        return np.concatenate([np.full(self.n_timesteps_ - 1, scores[0]), scores])
