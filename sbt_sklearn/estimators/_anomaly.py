"""SBTAnomalyDetector: anomaly scores from last-step errors of a Sparse Binary Transformer."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._docstrings import fill_doc
from ..anomaly import pot_threshold
from ..anomaly._multiscale import fit_scale_tails, multiscale_levels
from ..anomaly._synthetic import ANOMALY_KINDS, choose_robust, inject_anomalies, moving_mean, rank_rules
from ..anomaly._typicality import combine_terms, fit_tail, fit_value_bins, marginal_rarity
from ..nn import SBTLastStepNet
from ._base import SBTBase, fits_atomically
from ._export import FoldedIO
from ._input import as_real_array, check_values, two_valued_channels
from ._threads import uses_threads

__all__ = ["SBTAnomalyDetector"]

#: floor of a channel's reference error, relative to the mean reference error over channels
_ERROR_FLOOR = 1e-2
#: windows per chunk when the rarity term is computed (bounds its (chunk, channels, bins) temporaries)
_RARITY_CHUNK = 8192
#: steps of each stretch of the training series that the score rule is chosen on, and stretches
_SELECTION_STEPS, _SELECTION_BLOCKS = 4096, 3


@fill_doc("anomaly")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTAnomalyDetector(OutlierMixin, SBTBase):
    """Sparse Binary Transformer anomaly detector for multivariate time series windows.

    Every sample is one window of a multivariate series; its score belongs to the window's
    last step. The network is the SBT encoder of Gorbett et al. (2023) with step-T attention
    (past steps attend only to themselves, the last step attends to every past step but
    never to itself) and a sparse-binary decoder for the last step. It is trained on benign
    windows to output the last step, and a window is the more anomalous the larger the
    error on its last step or the rarer its last step's values among the training values
    (``rarity="max"``, the default: the larger of the two, each calibrated on the training
    windows; ``rarity=None`` scores the error alone, and ``rarity="auto"`` chooses the rule
    in fit, without labels, by how well each ranks synthetic anomalies written into the
    training series).
    :meth:`score_series` scores the steps of a series on several time scales at once
    (``smooth``). The conventions are those of
    :class:`~sklearn.ensemble.IsolationForest`: :meth:`score_samples` is higher for more
    normal windows, ``decision_function = score_samples - offset_`` is negative for
    outliers, and :meth:`predict` returns -1 (outlier) or +1 (inlier).

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    offset_ : float
        ``decision_function = score_samples - offset_``; windows with a negative decision
        are outliers. Equal to minus the anomaly-score threshold.
    threshold_ : float
        The anomaly-score threshold (``-offset_``): a window whose anomaly score (minus
        :meth:`score_samples`) exceeds it is an outlier.
    series_threshold_ : float
        The same threshold rule applied to the training series' smoothed scores: a step whose
        anomaly score (minus :meth:`score_series`) exceeds it is flagged. Equal to
        ``threshold_`` when nothing is smoothed or the training windows are not consecutive
        (not a series to smooth).
    channel_weights_ : ndarray of shape (n_channels,)
        Weight of each channel's squared standardised error in the score (all ones with
        ``error_weighting="none"``).
    rarity_ : {"max", "marginal"} or None
        The rarity rule the scores use: ``rarity``, or the choice of ``rarity="auto"``.
    smooth_ : "multiscale" or int
        How :meth:`score_series` smooths: ``smooth``, or what ``smooth="auto"`` resolved to
        (``"multiscale"`` on consecutive windows, 1 otherwise).
    scale_tails_ : ndarray of shape (5, 65), (2, 5, 65) or None
        With ``smooth_="multiscale"``: the quantiles of the training series' scores averaged
        over each scale (1, 5, 10, 25 and 50 steps); with ``rarity_="max"`` those of the error
        and of the rarity, each smoothed on its own (``[0]`` and ``[1]``); None otherwise.
    score_selection_ : list of dict or None
        With ``rarity="auto"``: one record per candidate rule (``rarity``, ``smooth``, its
        average precision ``ap_<kind>`` on each kind of synthetic anomaly,
        ``worst_relative_ap``, the criterion, and ``chosen``); ``pandas.DataFrame(score_selection_)``
        shows them. None when nothing was chosen.
    rarity_channels_ : ndarray of shape (n_channels,) of bool or None
        Channels whose values enter the rarity term (None when ``rarity_`` is None).
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
        "rarity": [StrOptions({"auto", "marginal", "max"}), None],
        "smooth": [StrOptions({"auto", "multiscale"}), Interval(Integral, 1, None, closed="left")],
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
        rarity="max",
        smooth="auto",
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
        self.target = target
        self.error_weighting = error_weighting
        self.rarity = rarity
        self.smooth = smooth
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
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start

    # -- export ------------------------------------------------------------------------------------
    _report_task = "anomaly"
    _step_t_is_linear = True

    def _c_output_doc(self) -> str:
        terms = ("" if self.rarity_ is None else
                 " out[1] and out[2] = the window's weighted squared error and value rarity, the two terms of "
                 f"the score (rarity_={self.rarity_!r}).")
        return ("out[0] = the normality score of the window's last step (score_samples: higher is more "
                f"normal); <name>_is_anomaly(out[0]) applies the fitted threshold (predict == -1).{terms} For a "
                "series, call <name>_series_reset(&state) once, then for each window in time order "
                "<name>_series_score(&state, out): the step's score_series value (the fitted smoothing "
                "smooth_), flagged by <name>_series_is_anomaly (series_threshold_).")

    def _c_series_scorer(self, name: str):
        """``<name>_series_score``: score_series' smoothing (``smooth_``) one window at a time."""
        from ..anomaly._multiscale import _TAIL_P, SCALES
        from ..compression._c_series import series_scorer_c

        streams = 2 if self.rarity_ == "max" and self.smooth_ == "multiscale" else 1
        return series_scorer_c(name, self.smooth_, self.series_threshold_, scales=SCALES, tails=self.scale_tails_,
                               tail_levels=-np.log(_TAIL_P), streams=streams)

    def _folded_io(self) -> FoldedIO:
        """The last row zeroed on input (``target="predict"``) or kept (``"reconstruct"``); out,
        ``score_samples``: minus the weighted squared error of the last row (combined with the
        value rarity when ``rarity`` is set)."""
        return FoldedIO("zero_last" if self.target == "predict" else "keep_last", "neg_weighted_error", 0)

    def _rarity_tables(self):
        if self.rarity_ is None:
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

    _series_hint = ("fit it with fit_series(series, window), which cuts the windows, and score it with "
                    "score_series(series)")

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
    @fits_atomically
    @uses_threads(blas=True)
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
        return self._fit_score_rule(self._fit_network(X))

    def _fit_network(self, X, train_windows=None):
        """Check ``X``, fit the scaler and train the network (on the windows ``train_windows`` of
        ``X`` when given: ``fit_detectors`` trains on the windows inside each of several series);
        return the checked ``X``."""
        self._check_hyperparameters()
        warm = self._warm()
        X, _ = self._check_X(X, reset=not warm)
        if warm and X.shape[2] != self.n_timesteps_:
            raise ValueError(f"warm_start=True continues a detector of windows of n_timesteps_={self.n_timesteps_} "
                             f"steps; got windows of {X.shape[2]}")
        if self.smooth == "multiscale" and not _consecutive(X):  # before training, not after
            raise ValueError("smooth='multiscale' needs consecutive windows, each one step after the previous "
                             "(fit_series(series, window), or sliding_windows(series, window, horizon=0)[0])")
        self.n_channels_, self.n_timesteps_ = X.shape[1], X.shape[2]
        if not warm:  # warm_start keeps the scaler; the weights and the threshold are refitted below
            self._fit_scaler(X, None)

        model_seed, shuffle_rng, _ = self._seeds()
        kwargs = self._module_kwargs(
            model_seed, max_len=max(self.n_timesteps_, 512 if self.pos_encoding == "learnable" else 1)
        )
        kwargs.update(n_channels=self.n_channels_, n_outputs=self.n_channels_)
        criterion = torch.nn.HuberLoss if self.loss == "huber" else torch.nn.MSELoss
        # early stopping and PALS hold out the last windows (time order, one-window gap): SBTBase
        # windows per epoch: max_windows_per_epoch, drawn afresh every epoch by the batch loader
        dataset = self._dataset(X)
        if train_windows is not None:
            dataset = dataset.subset(train_windows)
        self._train(SBTLastStepNet, kwargs, criterion, dataset, None, shuffle_rng)
        return X

    def _fit_score_rule(self, X):
        """Everything after training: channel weights, rarity tables, the score rule and the
        thresholds, from the trained network's scores of the reference windows ``X``."""
        tables = self.rarity is not None  # "marginal", or "auto" (the tables are fitted to be tried)
        continuous = None
        if self.error_weighting == "continuous" or tables:
            continuous = ~two_valued_channels(X)
            if not continuous.any():
                continuous[:] = True
        self.rarity_channels_ = continuous if tables else None
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
        if tables:
            self.value_bins_ = fit_value_bins(last)
            rarity = self._rarity_of(last)
            self.error_tail_, self.rarity_tail_ = fit_tail(error), fit_tail(rarity)
        consecutive = _consecutive(X)  # smooth="multiscale" on other windows was refused before training
        rarities = ([None, "marginal", "max"] if self.rarity == "auto" else [self.rarity])
        self.smooth_ = ("multiscale" if consecutive else 1) if self.smooth == "auto" else self.smooth
        # each candidate rule's training scores and, for the multi-scale rule, their tails ("max":
        # the error's and the rarity's, each smoothed and calibrated on its own)
        reference = {r: self._anomaly(error, rarity, rarity_rule=r) for r in rarities}
        tails = {}
        if self.smooth_ == "multiscale":
            tails = {r: (np.stack([fit_scale_tails(error), fit_scale_tails(rarity)]) if r == "max"
                         else fit_scale_tails(a)) for r, a in reference.items()}
        self.rarity_, self.score_selection_ = rarities[0], None
        if self.rarity == "auto" and consecutive and self.n_timesteps_ >= 2 and len(X) >= 2 * self.n_timesteps_ + 8:
            self._select_score_rule(X, continuous, rarities, tails)
        self.scale_tails_ = tails.get(self.rarity_)
        if self.rarity_ is None:  # the error alone: the rarity tables are not kept
            self.rarity_channels_ = self.value_bins_ = self.error_tail_ = self.rarity_tail_ = None
        self.threshold_ = self._threshold_from(reference[self.rarity_])
        self.offset_ = -self.threshold_
        # the same rule on the training series' smoothed scores (what score_series returns)
        self.series_threshold_ = self.threshold_ if self.smooth_ == 1 or not consecutive else self._threshold_from(
            self._series_anomaly(error, rarity, self.smooth_))
        return self

    def _select_score_rule(self, X, continuous, rarities, tails) -> None:
        """``rarity="auto"``: choose ``rarity_`` between the error alone and the error with rarity.

        Anomalies of one kind at a time are written into stretches of the training series
        (:mod:`sbt_sklearn.anomaly._synthetic`), rebuilt from the consecutive windows; both
        rules score every step (smoothed by ``smooth_``), and the rule whose worst relative
        average precision over the kinds is highest wins (the error alone on a tie).
        """
        T = self.n_timesteps_
        rng = np.random.default_rng([self.seed_, 20])
        n_steps = len(X) + T - 1
        length = min(n_steps, max(_SELECTION_STEPS, 20 * T))
        starts = [0] if length == n_steps else sorted(rng.integers(0, n_steps - length + 1, _SELECTION_BLOCKS))
        ap = np.zeros((len(rarities), len(ANOMALY_KINDS)))
        channels = np.flatnonzero(continuous)
        for at in starts:  # the stretch [at, at + length) of the series, rebuilt from the windows
            rows = np.concatenate([np.asarray(X[at]).T, np.asarray(X[at + 1 : at + length - T + 1, :, -1])])
            z = (rows - self.scaler_mean_) / self.scaler_scale_
            for j, kind in enumerate(ANOMALY_KINDS):  # one kind at a time: each kind weighs alike
                injected, labels, _ = inject_anomalies(z, rng, start=T - 1, channels=channels, kinds=(kind,))
                raw = (injected * self.scaler_scale_ + self.scaler_mean_).astype(np.float32)
                errors, last = self._window_terms(np.lib.stride_tricks.sliding_window_view(raw, T, axis=0))
                error = errors @ self.channel_weights_ / self.n_channels_
                rarity = self._rarity_of(last)
                scores = {r: self._series_anomaly(error, rarity, self.smooth_, rarity_rule=r, tails=tails.get(r))
                          for r in rarities}
                found = rank_rules(scores, labels[T - 1:])
                ap[:, j] += np.array([found[r] for r in rarities]) / len(starts)
        worst = choose_robust(ap)
        best = int(np.argmax(worst))
        self.rarity_ = rarities[best]
        self.score_selection_ = [
            dict(rarity=r, smooth=self.smooth_, worst_relative_ap=float(worst[i]), chosen=i == best,
                 **{f"ap_{kind}": float(ap[i, j]) for j, kind in enumerate(ANOMALY_KINDS)})
            for i, r in enumerate(rarities)]

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
        channels = getattr(self, "rarity_channels_", None)
        keep = None if channels is None else torch.from_numpy(np.flatnonzero(channels))
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

    def _anomaly(self, error: np.ndarray, rarity: np.ndarray | None, *, rarity_rule="fitted") -> np.ndarray:
        """Anomaly score (higher = more anomalous) of windows from the weighted error (n,) and the
        rarity (n,), by the fitted rule ``rarity_`` (or ``rarity_rule`` where given)."""
        rule = self.rarity_ if rarity_rule == "fitted" else rarity_rule
        if rule is None:
            return error
        knots = [torch.from_numpy(t).double() for t in (self.error_tail_, self.rarity_tail_)]
        return np.concatenate([
            combine_terms(torch.from_numpy(error[i : i + _RARITY_CHUNK]),
                          torch.from_numpy(rarity[i : i + _RARITY_CHUNK]), *knots, larger=rule == "max").numpy()
            for i in range(0, len(error), _RARITY_CHUNK)])

    def _series_anomaly(self, error: np.ndarray, rarity: np.ndarray | None, smooth, *, rarity_rule="fitted",
                        tails="fitted") -> np.ndarray:
        """Anomaly scores of consecutive windows, smoothed by ``smooth`` (what ``score_series``
        returns, negated). With ``rarity_="max"`` and the multi-scale rule the error and the
        rarity are smoothed and calibrated each on its own, and the larger level counts."""
        rule = self.rarity_ if rarity_rule == "fitted" else rarity_rule
        tails = self.scale_tails_ if isinstance(tails, str) else tails
        if rule == "max" and smooth == "multiscale":
            return np.maximum(multiscale_levels(error, tails[0]), multiscale_levels(rarity, tails[1]))
        return smoothed_anomaly(self._anomaly(error, rarity, rarity_rule=rule), smooth, tails)

    @uses_threads
    def score_samples(self, X):
        """Normality score of each window (higher = more normal).

        With ``rarity_="max"`` (the default): minus ``max(T_e, T_v)``, where ``T_e`` is the
        ``-log`` upper-tail probability of the weighted mean squared error of the last step
        among the training windows' errors and ``T_v`` the same for how rare the window's
        last row is (see ``rarity``). With ``rarity_="marginal"``: minus
        ``max(0, T_e + log 0.05) + T_v``. With ``rarity_=None``: minus the weighted mean
        squared error itself.

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
        return -self._anomaly(*self._score_terms(X))

    def _score_terms(self, X) -> tuple[np.ndarray, np.ndarray | None]:
        """The weighted error (n,) and, with a rarity rule, the rarity (n,) of checked windows."""
        errors, last = self._window_terms(X)
        return errors @ self.channel_weights_ / self.n_channels_, (None if self.rarity_ is None else
                                                                   self._rarity_of(last))

    @uses_threads
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

    @uses_threads
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

    @uses_threads
    def fit_series(self, series, window):
        """Fit on one long (mostly normal) series: cut it into windows of ``window`` steps and fit.

        The windows are zero-copy views (:func:`sbt_sklearn.sliding_windows` with ``horizon=0``):
        ``fit_series(series, 50)`` is ``fit(sliding_windows(series, 50, horizon=0)[0])``. Score
        a series with :meth:`score_series`, which cuts it the same way.

        Parameters
        ----------
        series : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
            The training series, time along the first axis (a DataFrame or Series works).
        window : int
            Steps per window (at least 1, at most the series' length).

        Returns
        -------
        self : SBTAnomalyDetector
            The fitted detector.

        Examples
        --------
        >>> import numpy as np
        >>> from sbt_sklearn import SBTAnomalyDetector
        >>> series = np.sin(np.arange(300) / 5.0)[:, None]
        >>> det = SBTAnomalyDetector(d=8, d_ff=16, max_epochs=2, random_state=0).fit_series(series, 20)
        >>> det.n_timesteps_, det.score_series(series).shape
        (20, (300,))
        """
        return self.fit(series_windows(series, window))

    @uses_threads
    def score_series(self, series, *, smooth=None):
        """Normality score of every time step of a long series (higher = more normal).

        The series is cut into windows of ``n_timesteps_`` steps without copying
        (:func:`sbt_sklearn.sliding_windows` with ``horizon=0``); step ``t`` gets the score of
        the window that ends at ``t``, averaged over the last ``smooth`` windows. The first
        ``n_timesteps_ - 1`` steps have no full window and get the score of the first window.

        Parameters
        ----------
        series : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
            The series, time along the first axis, at least ``n_timesteps_`` steps long.
        smooth : int, "multiscale" or None, default=None
            Give step ``t`` the mean score of the windows ending at ``t - smooth + 1`` ... ``t``
            (fewer at the start): a causal moving average, so that an anomaly that lasts keeps
            its steps flagged and a single noisy error counts less; ``"multiscale"``: the rule
            of the ``smooth`` hyperparameter (needs a detector fitted with it). None: the
            fitted ``smooth_``. Smoothed scores vary less than
            window scores: set thresholds on smoothed reference scores (``score_series`` of the
            training series), not on ``offset_``. (Before the ``"auto"`` rule, ``smooth``
            took the lowest score of those windows; the mean ranked the anomalies of four of
            the five labelled series we tried better, see :doc:`/user_guide/anomaly_detection`.)

        Returns
        -------
        scores : ndarray of shape (n_timesteps,), or pandas Series
            One score per time step (float64); a Series with the same index when ``series`` is a
            pandas Series or DataFrame.
        """
        check_is_fitted(self)
        if smooth is None:
            smooth = self.smooth_
        if smooth == "multiscale" and self.scale_tails_ is None:
            raise ValueError("smooth='multiscale' needs the training series' multi-scale tails, which a fit "
                             "keeps only with smooth_='multiscale': refit with smooth='multiscale'")
        if smooth != "multiscale" and (isinstance(smooth, (bool, np.bool_)) or not isinstance(smooth, Integral)
                                       or smooth < 1):
            raise ValueError(f"smooth must be None, 'multiscale' or an integer >= 1; got {smooth!r}")
        from ..data import sliding_windows

        index = series.index if isinstance(series, (pd.Series, pd.DataFrame)) else None
        series = as_real_array(series, name="series")
        check_values(series, name="series")
        windows, _ = sliding_windows(series, self.n_timesteps_, horizon=0)
        if self.n_channels_ == 1 and self.n_features_in_ != 1:  # fitted on 2-D (n, T) windows
            windows = windows[:, 0, :]
        X, _ = self._check_X(windows, reset=False)
        scores = -self._series_anomaly(*self._score_terms(X), smooth)
        scores = np.concatenate([np.full(self.n_timesteps_ - 1, scores[0]), scores])
        return scores if index is None else pd.Series(scores, index=index, name="score")


def smoothed_anomaly(anomaly, smooth, tails) -> np.ndarray:
    """Anomaly scores of consecutive windows under a smoothing rule: the moving mean over
    ``smooth`` steps, or with ``"multiscale"`` the mean tail level over the scales."""
    if smooth == "multiscale":
        return multiscale_levels(anomaly, tails)
    return moving_mean(anomaly, int(smooth))


def _consecutive(X) -> bool:
    """Whether windows (n, C, T) look cut from one series one step apart (checked on up to 64
    pairs of neighbours: each window's rows 1.. equal the next window's rows ..T-1)."""
    if len(X) < 2 or X.shape[2] < 2:
        return False
    idx = np.unique(np.linspace(0, len(X) - 2, min(len(X) - 1, 64)).astype(int))
    return bool(np.array_equal(np.asarray(X[idx, :, 1:]), np.asarray(X[idx + 1, :, :-1]), equal_nan=True))


def series_windows(series, window) -> np.ndarray:
    """Zero-copy windows (n, C, window) of a (T, C) or (T,) series, for ``fit_series``; ValueError
    for a window that is not an integer >= 1 or longer than the series."""
    from ..data import sliding_windows

    if isinstance(window, (bool, np.bool_)) or not isinstance(window, Integral) or window < 1:
        raise ValueError(f"window must be an integer >= 1; got {window!r}")
    values = as_real_array(series, name="series")
    values = values[:, None] if values.ndim == 1 else values
    if values.ndim != 2 or len(values) < window:
        raise ValueError(f"series must be (n_timesteps, n_channels) with at least window={window} steps; "
                         f"got shape {values.shape}")
    return sliding_windows(values, int(window), horizon=0)[0]
