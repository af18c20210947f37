"""One place for the parameter documentation of the SBT estimators and their sktime adapters.

The three estimators (:class:`~sbt_sklearn.SBTClassifier`, :class:`~sbt_sklearn.SBTForecaster`,
:class:`~sbt_sklearn.SBTAnomalyDetector`) share most hyperparameters, and each sktime adapter in
:mod:`sbt_sklearn.sktime` takes exactly the hyperparameters of its estimator. Their descriptions
live here, once, and :func:`fill_doc` writes them into the class docstrings at import time, so
the six classes cannot drift apart.

How a class uses it::

    @fill_doc("forecaster")
    class SBTForecaster(RegressorMixin, SBTBase):
        '''One-line summary.

        Parameters
        ----------
        {p}
        {binary}
        ...
        '''

A line that holds nothing but ``{name}`` becomes the entry of parameter ``name``, indented like
the placeholder; a line ``{parameters}`` becomes the entries of every parameter of the class's
``__init__`` that has one here, in signature order (the sktime adapters use it). Other text,
braces included, is left alone, so a class may keep a literal entry of its own next to the
placeholders.

Where the entries come from, for a class of task ``task`` (``"classifier"``, ``"forecaster"``
or ``"anomaly"``; an adapter uses the task of the estimator it wraps):

* :data:`TASK_PARAMETERS` ``[task]``: parameters of one task, shared by the estimator and its
  adapter (the forecaster's ``target``, ``linear_base``...; the detector's ``rarity``...);
* :data:`PARAMETERS`: parameters shared by the tasks (``p``, ``d``, ``lr``...), each followed
  by the sentence :data:`TASK_NOTES` ``[task]`` holds for it, if any (the paper's setting for
  that task, how the validation hold-out is drawn...).

Entries are numpydoc text whose first line reads ``name : type, default={default}``. The
default is never written here: it is taken from the signature of the class being documented,
so every class states its own default (``attention`` is ``"qkv_mask"`` for the classifier and
``"step_t"`` for the forecaster). Descriptions are re-wrapped when they are rendered.

Measured numbers do not belong in these entries: state the finding in a sentence and point to
the user guide page that gives the numbers and the benchmark file they come from.

This module imports only the standard library: :mod:`sbt_sklearn.nn` and
:mod:`sbt_sklearn.sparsity` must stay importable without scikit-learn, and they do not import
this module either.
"""

from __future__ import annotations

import inspect
import re
import textwrap

__all__ = ["PARAMETERS", "TASK_PARAMETERS", "TASK_NOTES", "TASKS", "fill_doc", "parameter_entry"]

#: the tasks; an sktime adapter documents its parameters with the task of its estimator
TASKS = ("classifier", "forecaster", "anomaly")

#: longest line of a rendered entry, indentation included
_WIDTH = 96


def _entries(**texts: str) -> dict[str, str]:
    return {name: textwrap.dedent(text).strip("\n") for name, text in texts.items()}


# -- parameters shared by the tasks -------------------------------------------------------------
PARAMETERS: dict[str, str] = _entries(
    p="""
        p : float, default={default}
            Prune rate (see :doc:`/user_guide/choosing_p_and_d`): the fraction of weights
            removed in every sparse-binary layer (the paper's p; the original code's
            ``prune_rate`` is the kept fraction ``1 - p``), in [0, 1): ``p=1`` would remove every
            weight and is refused. With ``attention="qkv_mask"`` it is also the fraction of the Q,
            K and V activations masked.
        """,
    binary="""
        binary : bool, default={default}
            Sign-binary weights with one gain per layer, learned with Biprop (only the scores
            that choose the kept weights are trained). ``binary=False, p=0`` is the dense FP32
            twin of the same architecture.
        """,
    d="""
        d : int, default={default}
            Model width (must be divisible by ``n_heads``).
        """,
    n_heads="""
        n_heads : int, default={default}
            Attention heads (must divide ``d``).
        """,
    n_layers="""
        n_layers : int, default={default}
            Encoder layers.
        """,
    d_ff="""
        d_ff : int, default={default}
            Feed-forward width.
        """,
    attention="""
        attention : {"qkv_mask", "full", "step_t"}, default={default}
            Attention mode. ``"qkv_mask"``: every step attends to every (non-padded) step, after
            a fixed random fraction ``p`` of the Q, K and V activations is zeroed. ``"full"``:
            every step attends to every (non-padded) step. ``"step_t"``: past steps attend only
            to themselves and the last step attends to every past step but not to itself,
            computed by a fast path in which only the last step runs real attention.
        """,
    norm="""
        norm : {"batch", "layer", "layer_plain", "none"}, default={default}
            Normalisation after each residual connection: batch norm (its statistics ignore
            padded steps), layer norm, ``"layer_plain"`` (layer norm without its trainable gain
            and bias, so that the model file holds no float norm parameters; see
            :doc:`/user_guide/compression`) or none.
        """,
    pos_encoding="""
        pos_encoding : {"fixed", "learnable"}, default={default}
            Sinusoidal (any length) or learnable positional encoding.
        """,
    topk_scope="""
        topk_scope : {"layer", "global"}, default={default}
            Prune each layer to ``p`` (as SBT does), or keep the top ``1 - p`` of the scores of
            all layers together.
        """,
    pals="""
        pals : bool, default={default}
            Adapt the prune rate during training with PALS (``p`` is then the starting rate),
            from the loss on a held-out ``validation_fraction`` of the training data. Not with
            ``early_stopping=True`` (PALS already restores its best checkpoint); with
            ``binary=False`` start dense, at ``p=0``. See :doc:`/user_guide/pals`.
        """,
    pals_lambda="""
        pals_lambda : float, default={default}
            PALS loss tolerance (at least 1): the prune rate rises while the validation loss
            stays within ``pals_lambda`` times the best loss so far, and may fall back when it
            does not.
        """,
    pals_gamma="""
        pals_gamma : float, default={default}
            PALS rate factor (above 1): a decision scales the kept fraction by
            ``1 - zeta (pals_gamma - 1)`` or ``1 + zeta (pals_gamma - 1)``, where ``zeta``
            decays from 0.5 to 0.005 over training.
        """,
    pals_interval="""
        pals_interval : int, default={default}
            Training steps between PALS decisions.
        """,
    p_max="""
        p_max : float, default={default}
            Highest prune rate PALS may reach.
        """,
    warm_start="""
        warm_start : bool, default={default}
            When the estimator is already fitted, ``fit`` continues training its network on the
            new data (a fresh optimizer and learning-rate schedule over this fit's epochs)
            instead of starting from a new one, as in scikit-learn's ``MLPClassifier``. What the
            first fit learned around the network stays: the input scaler, the classes, the patch
            length, the forecaster's linear base (the detector's threshold is refitted on the new
            data); the training settings (loss, class weights, budget) are this call's. The
            network's hyperparameters, and the forecaster's ``target`` and linear base settings,
            must not change between the calls (checked).
            ``n_epochs_`` and ``history_`` count every call's epochs. The sktime adapters refuse
            ``True``: sktime resets an estimator before every fit.
        """,
    max_epochs="""
        max_epochs : int or "auto", default={default}
            Training epochs; a cosine schedule decays the learning rate to 0 over them. ``"auto"``
            sizes them from the data: ``ceil(S / batches per epoch)`` epochs within bounds, so
            that a small training set still gets about S optimizer steps (S and the bounds
            below). A fit with fewer than 100 optimizer steps in all (epochs times batches per
            epoch) warns with a ``ConvergenceWarning``: such a model is likely undertrained.
        """,
    batch_size="""
        batch_size : int, default={default}
            Mini-batch size; batches are reshuffled every epoch.
        """,
    lr="""
        lr : float or "auto", default={default}
            Adam learning rate. ``"auto"`` is 0.02 for sign-binary models (``binary=True``:
            only scores, gains and norms train, and a mask changes only when scores cross each
            other, which needs large steps) and 1e-3 for FP32 weights (``binary=False``).
        """,
    early_stopping="""
        early_stopping : bool or "auto", default={default}
            Hold out ``validation_fraction`` of the training data, stop when the validation loss
            has not improved for ``n_iter_no_change`` epochs and restore the best weights.
            ``"auto"`` turns it on from 1,000 training samples and leaves it off below, where a
            hold-out of a few series gives a noisy loss that stops training while the learning
            rate is still high (measured on the small UCR sets, see
            :doc:`/user_guide/long_series`); PALS keeps its own best checkpoint and never stops
            early.
        """,
    validation_fraction="""
        validation_fraction : float, default={default}
            Fraction of the training data held out as validation data for ``early_stopping``
            and ``pals`` (see ``early_stopping`` for which part).
        """,
    n_iter_no_change="""
        n_iter_no_change : int, default={default}
            Patience of early stopping, in epochs.
        """,
    missing="""
        missing : {"raise", "interpolate"}, default={default}
            NaN or infinite values in X raise a ValueError, or are linearly interpolated along
            time (in a float32 copy of X, made only when X has such values; a channel with no
            finite value becomes 0). The sktime forecaster then interpolates the series ``y``
            itself before cutting windows (and the last window before forecasting), and tells
            sktime it takes missing values.
        """,
    device="""
        device : {"cpu", "cuda", "auto"} or str, default={default}
            Where to train and run the model: ``"auto"`` picks CUDA when it is available, and
            any torch device string (``"cuda:1"``) works. A model trained on a GPU predicts on a
            CPU-only machine.
        """,
    n_jobs="""
        n_jobs : "auto", int or None, default={default}
            Torch threads (and, during ``fit``, BLAS threads) for each call of ``fit``,
            ``predict`` and the scoring methods; the previous thread counts are restored when the
            call returns, so no global torch setting is left changed. ``"auto"`` uses the CPUs
            that other processes leave free when the call starts (at least one), and a fit
            counts again about once a second: on a quiet machine that is every CPU, with other
            work on the cores it is one thread, which keeps these small models' fit times steady
            where more threads would make them several times slower (numbers in
            :doc:`/user_guide/scaling`). The load is read from ``/proc/stat`` (Linux); elsewhere
            ``"auto"`` means one thread. ``None`` means one thread (scikit-learn's meaning),
            ``-1`` every CPU the process may use, ``-2`` all but one; any count is capped at the
            CPUs available to the process (its affinity and ``OMP_NUM_THREADS``, which joblib and
            ``dask_backend`` set in their workers), so a parallel grid search never
            oversubscribes the cores. Float sums depend on the thread count: a fitted model
            predicts the same with any ``n_jobs`` up to float rounding, but fits with different
            thread counts follow different rounding and agree only statistically, not bit for
            bit; pass an integer (or None) when refits must repeat exactly whatever the load.
        """,
    random_state="""
        random_state : int, RandomState instance or None, default={default}
            Seeds every random draw of a fit (weights, scores, masks, batch order and any
            random subset of the training data): two fits with the same integer and the same
            integer (or None) ``n_jobs`` give identical results on the CPU (``n_jobs="auto"``
            follows the load, see ``n_jobs``).
        """,
    verbose="""
        verbose : int, default={default}
            0 prints nothing; 1 shows a progress bar and a line per epoch.
        """,
    callbacks="""
        callbacks : list of skorch callbacks or None, default={default}
            Extra skorch callbacks (for example ``skorch.callbacks.Checkpoint``), run after the
            estimator's own. Model files do not store them.
        """,
    # the series-level sktime adapters (forecaster and detector) only
    window_length="""
        window_length : int, default={default}
            Steps per window: ``fit`` cuts the series into windows of this length (without
            copying it) and fits the wrapped estimator on them.
        """,
)

# -- task-specific sentences appended to a shared entry -----------------------------------------
_WINDOW_HOLDOUT = (
    "The hold-out is the last windows, in the order given (which should be time order), and the "
    "``n_timesteps`` windows before it are dropped, so that no training window overlaps a "
    "validation window."
)

TASK_NOTES: dict[str, dict[str, str]] = {
    "classifier": {
        "attention": '``"qkv_mask"`` is the paper\'s classification setting.',
        "lr": "On JapaneseVowels ``\"auto\"`` did better than smaller rates (see "
              ":doc:`/user_guide/classification`).",
        "early_stopping": "The hold-out is stratified by class.",
        "max_epochs": '``"auto"``: S = 1,000 steps, 100 to 500 epochs (a set of 20 series trains 500 '
                      "epochs, JapaneseVowels' 270 series 112).",
    },
    "forecaster": {
        "d": "The paper uses 64 for ETTm1 and 100 for Weather.",
        "attention": '``"step_t"`` is the paper\'s forecasting mask.',
        "batch_size": "The default is the paper's forecasting batch.",
        "early_stopping": _WINDOW_HOLDOUT,
        "max_epochs": '``"auto"``: S = 300 steps, 10 to 500 epochs: 10 epochs from 3,840 windows on (the '
                      "earlier fixed default), more on short series (96 windows: 300 epochs of one batch).",
        "window_length": "An integer >= 1. Forecasts roll forward from the last ``window_length`` "
                         "observations. Shortened to ``len(y) - 1`` for shorter training series.",
    },
    "anomaly": {
        "p": "The paper uses 0.75 for anomaly detection.",
        "d": "The paper uses twice the number of channels.",
        "attention": '``"step_t"`` is the paper\'s setting for anomaly detection.',
        "norm": "The paper's anomaly model has none.",
        "batch_size": "The default is the paper's.",
        "max_epochs": '``"auto"``: S = 1,000 steps, 100 to 500 epochs.',
        "early_stopping": _WINDOW_HOLDOUT + " The reference scores that set the threshold are "
                          "still computed on all training windows.",
        "window_length": "An integer >= 2 with ``target=\"predict\"`` (the last step is predicted from "
                         "the steps before it), >= 1 with ``\"reconstruct\"``. Time point t is scored by "
                         "the window that ends at t. Shortened to the series length for shorter training "
                         "series.",
    },
}

# -- parameters of one task (its estimator and its sktime adapter) ------------------------------
TASK_PARAMETERS: dict[str, dict[str, str]] = {
    "classifier": _entries(
        patch_len="""
            patch_len : int or "auto", default={default}
                Steps per token. Every ``patch_len`` consecutive steps of a series become one
                token (their values, step after step, through the sparse-binary embedding), so a
                series of T steps costs ``ceil(T / patch_len)`` tokens in attention instead of T;
                the last patch of a series is completed with zeros (the standardised mean), and a
                token is padding only where all its steps are. ``"auto"`` keeps per-step tokens
                (1) for series of up to 32 steps and uses ``ceil(T / 32)`` beyond, T the longest
                training series (see :doc:`/user_guide/long_series`). Fitted value:
                ``patch_len_``.
            """,
        class_weight="""
            class_weight : dict, "balanced" or None, default={default}
                Weights of the classes in the loss: a dict ``{label: weight}`` (classes not in
                it weigh 1), ``"balanced"`` (inversely proportional to the class frequencies,
                as in scikit-learn) or None (all 1).
            """,
    ),
    "forecaster": _entries(
        horizon="""
            horizon : int, default={default}
                Rows predicted by one forward pass. ``1``: the row that follows each window (y of
                shape (n_samples, n_channels)). ``H > 1``: the next ``H`` rows at once (direct
                multi-horizon forecasting, y of shape (n_samples, n_channels, H), its flat form
                (n_samples, n_channels * H) for sklearn's scorers, or (n_samples, H) for one
                channel): ``H`` zero query rows follow the window, each
                attends to every observed row under the step-T mask (not to itself or another
                query), and the final layer runs for the query rows alone; the linear base is
                then direct and shared by the channels (an (L, H) map of every channel's own
                lags). :func:`sbt_sklearn.sliding_windows` with the same ``horizon`` gives
                matching ``(X, y)`` views (see :doc:`/user_guide/forecasting`).
            """,
        target="""
            target : {"relative", "delta", "value"}, default={default}
                What the network sees and outputs. ``"relative"``: the window minus its last
                observed row in, the change from that row out. ``"delta"``: the window as it is
                in, the change out. ``"value"``: the window in, the next row itself out (the
                paper). On ETTm1 ``"value"`` trained far more slowly than the other two (see
                :doc:`/user_guide/forecasting`).
            """,
        linear_base="""
            linear_base : {"ridge"} or None, default={default}
                Fit a ridge regression of the target (the change from the last row, or the next
                row for ``target="value"``) on the last ``base_lags`` rows before training, and
                train the SBT on its residual. Features: the last row and the rows before it
                minus the last row. Its float16 coefficients can take more of the model file
                than the SBT itself (sizes in :doc:`/user_guide/forecasting`); None saves them.
            """,
        base_lags="""
            base_lags : int or "auto", default={default}
                Rows the linear base sees. ``"auto"`` chooses among 1, 2, 4, 8, 16, 24, 48, 96,
                144, 192, ... (up to the window length, 1,536 features and 16,384 coefficients)
                on the last 10 % of the training windows (after a gap of one window), then
                refits on all of them. With more than 128 channels no automatic base is fitted
                (one lag would already need more than 16,384 coefficients); pass an integer to
                force one. With ``horizon > 1`` the base is channel-shared and the limit is
                262,144 coefficients (``base_lags * horizon``), e.g. 336 lags at a horizon of 720;
                ``"auto"`` is then the whole window.
            """,
        base_alpha="""
            base_alpha : float or "auto", default={default}
                Ridge penalty on the mean squared error (independent of the number of windows);
                ``"auto"`` chooses among 1e-6 ... 1 with ``base_lags``; with ``horizon > 1`` by
                blocked 5-fold cross-validation over every training window (each block scored by
                the ridge of the windows more than a window and its targets away from it).
            """,
        max_windows_per_epoch="""
            max_windows_per_epoch : int or None, default={default}
                If set, every epoch visits a fresh random subset of this many training windows
                (seeded by ``random_state``), for very long series. None visits every window
                every epoch.
            """,
    ),
    "anomaly": _entries(
        target="""
            target : {"predict", "reconstruct"}, default={default}
                What the network outputs for the last step of a window. ``"predict"``: the last
                row is zeroed on input and predicted from the past steps (a one-step forecast
                error). ``"reconstruct"``: the paper's setting; the last row stays visible and is
                reconstructed, with attention from the last step to itself blocked, so the
                network sees the last step only through its own embedding and the residual
                connections. ``"predict"`` is the default: with the same budget it ranked MSL's
                anomalies better, and neither target ranks SMAP's (see
                :doc:`/user_guide/anomaly_detection`).
            """,
        error_weighting="""
            error_weighting : {"continuous", "none", "reference"}, default={default}
                How channels are combined in the score. ``"continuous"``: the mean squared error
                of the standardised last step over the channels that take more than two distinct
                values in training (over all channels if none does): on/off flags, such as the
                command channels of SMAP and MSL, are left out of the score (they still feed the
                network). It ranks MSL's anomalies much better than ``"none"`` and changes little
                on SMAP (see :doc:`/user_guide/anomaly_detection`). ``"none"``: the mean over
                channels of the squared error of the standardised last step (the paper's
                score). ``"reference"``: each channel's squared error is first divided by its
                mean on the training windows (floored at 1 % of the mean over channels), so a
                channel counts by how unusual its error is rather than by how hard it is to
                predict; it did better on SMAP and worse on MSL, where channels that are
                constant in training get a large weight.
            """,
        rarity="""
            rarity : {"max", "marginal", "auto"} or None, default={default}
                Also score how rare the window's last row is. For every channel that takes
                more than two distinct values in training (all channels if none does), a
                histogram of its standardised training values on 64 equal-mass, left-closed
                bins (widths floored at 0.01 standard deviations, an exponential tail outside
                the training range) gives the row's ``-log`` density, summed over channels
                (channels taken as independent; a value repeated in training falls in the bin
                that starts at it, so a discrete channel's density reflects the gaps between
                its values). Error and rarity are put on one scale by their ``-log`` upper-tail
                probabilities ``T_e`` and ``T_v`` among the training windows (kept as 65
                quantiles each).

                ``"max"``: the window's score is ``max(T_e, T_v)``, and :meth:`score_series`
                smooths and calibrates the error and the rarity each on its own (the
                multi-scale rule of ``smooth``) and keeps the larger level: a step is as
                anomalous as the more surprising of the two. A series whose anomalies the
                network predicts well (flat stretches at unusual levels, values outside the
                training range) is caught by the rarity; one whose values stay in range but
                break the series' dynamics by the error; where one of them is noise, its
                level stays near its training tail and the other decides. None: the error
                alone. ``"marginal"``: ``max(0, T_e + log 0.05) + T_v`` (the error counts once
                it is beyond its 95 % training quantile, the rarity always); it lets the rarity
                dominate, which helped on SMAP and hurt on other series.

                ``"auto"``: chosen in fit among None, ``"marginal"`` and ``"max"`` by how well
                each ranks synthetic anomalies written into the training series (spikes, level
                shifts, flat stretches, noise bursts, swapped, reversed and sped-up stretches;
                :mod:`sbt_sklearn.anomaly._synthetic` gives their sizes), one kind at a time:
                the rule nearest the best on its worst kind wins. The choice is ``rarity_``,
                every rule's results are in ``score_selection_``, and a seeded fit repeats it.
                It needs consecutive windows (as ``fit_series`` and ``sliding_windows`` cut
                them); with other windows it keeps the error alone. The default is ``"max"``:
                on the labelled series we measured, the error alone ranked SMAP's anomalies
                below chance and ``"marginal"`` fell far below the error on a telemetry
                channel, while ``"max"`` missed the best baseline by at most 1.7 points on
                SMAP and MSL; it costs PR-AUC on series of single-step spikes
                (:doc:`/user_guide/anomaly_detection`).
            """,
        smooth="""
            smooth : "auto", "multiscale" or int, default={default}
                How :meth:`score_series` (and the sktime adapter) turn window scores into the
                scores of a series' time steps. ``"multiscale"``: the causal moving average of
                the anomaly score over 1, 5, 10, 25 and 50 steps, each mapped to its ``-log``
                upper-tail probability among the same average of the training series' scores,
                averaged over the five: short anomalies stand out on the short scales, long
                ones on the long scales where single noisy errors cancel, and the calibration
                on the series' own training scores puts the scales on one unit. An int ``k``:
                the moving average over ``k`` steps (1: none). ``"auto"``: ``"multiscale"``
                when the training windows are consecutive (a series), else 1. Window methods
                (:meth:`score_samples`, :meth:`predict`, the threshold ``offset_``) never smooth.
            """,
        loss="""
            loss : {"squared", "huber"}, default={default}
                Training loss on the standardised last step. ``"squared"`` is the paper's mean
                squared error. ``"huber"`` (quadratic up to 1, linear beyond) keeps rare huge
                errors (a rarely switching 0/1 channel is tens of standard deviations away when
                it switches) from dominating the gradient; it trained more smoothly on MSL but
                ranked anomalies worse (see :doc:`/user_guide/anomaly_detection`). The score is
                the squared error either way.
            """,
        threshold="""
            threshold : {"quantile", "pot"}, default={default}
                How ``offset_`` is set from the reference scores (the scores of the training
                windows; never from data that is scored later). ``"quantile"``: a fraction
                ``contamination`` of the reference windows are outliers. ``"pot"``:
                Peaks-Over-Threshold, a generalised Pareto fit of the tail of the reference
                anomaly scores (:func:`sbt_sklearn.anomaly.pot_threshold`) with risk ``q`` and
                initial level ``level``.
            """,
        contamination="""
            contamination : float, default={default}
                Expected fraction of outliers, in (0, 0.5], for ``threshold="quantile"`` (the
                paper uses 1 % on SMAP and MSL and 0.5 % on SMD).
            """,
        q="""
            q : float, default={default}
                POT risk: the probability, under the fitted tail, that a normal window is
                flagged.
            """,
        level="""
            level : float, default={default}
                POT initial threshold: the ``level`` quantile of the reference anomaly scores.
            """,
        max_windows_per_epoch="""
            max_windows_per_epoch : int, float or None, default={default}
                Windows drawn (without replacement, freshly every epoch, seeded by
                ``random_state``) for each training epoch: an int is a count, a float in (0, 1]
                a fraction of the training windows, None uses all of them every epoch. Long
                series give hundreds of thousands of strongly overlapping windows; a fresh sample
                per epoch covers them over the epochs at a fixed cost per epoch.
            """,
    ),
}


# -- rendering -----------------------------------------------------------------------------------
def _format_default(value) -> str:
    """A default as numpydoc writes it: strings in double quotes, everything else as its repr."""
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def _template(name: str, task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}")
    text = TASK_PARAMETERS[task].get(name, PARAMETERS.get(name))
    if text is None:
        raise KeyError(f"no documentation of parameter {name!r} for task {task!r} in sbt_sklearn._docstrings")
    return text


def has_entry(name: str, task: str) -> bool:
    """Whether parameter ``name`` has an entry for ``task``."""
    return name in TASK_PARAMETERS.get(task, {}) or name in PARAMETERS


def parameter_entry(name: str, task: str, default, indent: str = "") -> str:
    """The numpydoc entry of parameter ``name`` for ``task``, stating ``default``.

    Parameters
    ----------
    name : str
        Parameter name.
    task : {"classifier", "forecaster", "anomaly"}
        Task of the class documented.
    default : object
        The parameter's default in that class's signature.
    indent : str, default=""
        Prefix of every line (the indentation of the docstring).

    Returns
    -------
    entry : str
        ``name : type, default=...`` and the wrapped description, without a final newline.
    """
    header, *body = _template(name, task).splitlines()
    header = header.replace("{default}", _format_default(default))
    paragraphs = [" ".join(line.strip() for line in block.splitlines())
                  for block in "\n".join(body).split("\n\n") if block.strip()]
    note = TASK_NOTES[task].get(name) if name not in TASK_PARAMETERS[task] else None
    if note:
        paragraphs[-1] += " " + note
    prefix = indent + "    "
    lines = [indent + header]
    for i, paragraph in enumerate(paragraphs):
        if i:
            lines.append("")
        # never break a line inside an inline literal (``binary=False, p=0``)
        paragraph = _LITERAL.sub(lambda m: m.group().replace(" ", _NBSP), paragraph)
        lines += [line.replace(_NBSP, " ") for line in textwrap.wrap(
            paragraph, width=max(_WIDTH, len(prefix) + 40), initial_indent=prefix,
            subsequent_indent=prefix, break_long_words=False, break_on_hyphens=False)]
    return "\n".join(lines)


_LITERAL = re.compile(r"``.+?``")
_NBSP = "\x00"


_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>[A-Za-z_]\w*)\}[ \t]*$", re.MULTILINE)


def _render(doc: str, task: str, defaults: dict) -> str:
    placed = {m.group("name") for m in _PLACEHOLDER.finditer(doc)}

    def entry(match):
        name, indent = match.group("name"), match.group("indent")
        if name == "parameters":
            return "\n".join(parameter_entry(n, task, v, indent) for n, v in defaults.items()
                             if n not in placed and has_entry(n, task))
        if name not in defaults:
            raise KeyError(f"{{{name}}}: not a parameter of the documented class")
        return parameter_entry(name, task, defaults[name], indent)

    return _PLACEHOLDER.sub(entry, doc)


def fill_doc(task: str):
    """Class decorator: fill the parameter placeholders of the class docstring.

    Parameters
    ----------
    task : {"classifier", "forecaster", "anomaly"}
        Which task's entries and notes to use (an sktime adapter uses its estimator's task).

    Returns
    -------
    decorator : callable
        Takes the class, rewrites its ``__doc__`` (a line ``{name}`` becomes the entry of that
        parameter with the default of the class's ``__init__``, a line ``{parameters}`` the
        entries of all its remaining parameters) and returns the class itself.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}")

    def decorate(cls):
        if cls.__doc__:  # None under python -OO
            params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
            defaults = {p.name: p.default for p in params
                        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
            cls.__doc__ = _render(cls.__doc__, task, defaults)
        return cls

    return decorate
