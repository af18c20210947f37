"""SBTClassifier: multivariate time series classification with a Sparse Binary Transformer."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._docstrings import fill_doc
from ..nn import SBTClassificationNet
from ._base import SBTBase, fits_atomically
from ._export import FoldedIO
from ._threads import uses_threads

__all__ = ["SBTClassifier"]


@fill_doc("classifier")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTClassifier(ClassifierMixin, SBTBase):
    """Sparse Binary Transformer classifier for multivariate time series.

    Every sample is one multivariate series. The network is the SBT encoder of Gorbett et al.
    (2023): pruned, sign-binary linear layers learned with Biprop (only scores are trained),
    fixed random Q/K/V activation masks, batch norm, and a masked mean over valid steps.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of channels for 3-D input; number of timesteps for 2-D (univariate) input.
    n_channels_ : int
        Number of input channels.
    n_timesteps_ : int
        Longest series seen in fit.
    patch_len_ : int
        Steps per token of the network (``patch_len``, resolved from ``n_timesteps_`` when
        ``"auto"``).
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
    SBTForecaster : single-step forecasting with the same encoder.
    SBTAnomalyDetector : anomaly scores from last-step errors.

    References
    ----------
    .. [1] M. Gorbett, H. Shirazi, I. Ray. "Sparse Binary Transformers for Multivariate Time
       Series Modeling." KDD 2023.
    .. [2] J. Diffenderfer, B. Kailkhura. "Multi-Prize Lottery Ticket Hypothesis." ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sbt_sklearn import SBTClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3, 20)).astype("float32")
    >>> y = np.where(X[:, 0].mean(axis=1) > 0, "up", "down")
    >>> clf = SBTClassifier(d=16, d_ff=32, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _parameter_constraints: dict = {
        **SBTBase._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "patch_len": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
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
        attention="qkv_mask",
        norm="batch",
        pos_encoding="fixed",
        patch_len="auto",
        topk_scope="layer",
        pals=False,
        pals_lambda=1.1,
        pals_gamma=1.1,
        pals_interval=20,
        p_max=0.9,
        max_epochs="auto",
        batch_size=32,
        lr="auto",
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        class_weight=None,
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
        self.patch_len = patch_len
        self.topk_scope = topk_scope
        self.pals = pals
        self.pals_lambda = pals_lambda
        self.pals_gamma = pals_gamma
        self.pals_interval = pals_interval
        self.p_max = p_max
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.missing = missing
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start

    # -- export ------------------------------------------------------------------------------------
    _report_task = "classification"

    def _c_output_doc(self) -> str:
        labels = ", ".join(f"{i}: {c!r}" for i, c in enumerate(self.classes_[:50]))
        more = ", ..." if len(self.classes_) > 50 else ""
        return (f"out[N_OUTPUTS] = the class probabilities (predict_proba), in the order of classes_ "
                f"({labels}{more}); n_steps may be any length from 1 to MAX_STEPS (unequal lengths).")

    def _folded_io(self) -> FoldedIO:
        """Windows as they are in; the class probabilities (softmax of the logits) out."""
        return FoldedIO("none", "softmax", 0)

    @staticmethod
    def _make_batch(x, y, pad):
        if pad is not None:  # series are right-padded: drop the steps every series of the batch pads
            observed = torch.nonzero(~pad.all(dim=0))
            last = int(observed.max()) + 1 if observed.numel() else 1
            x, pad = x[:, :last], pad[:, :last]
        inputs = {"x": x} if pad is None else {"x": x, "padding_mask": pad}
        return inputs, y

    @_fit_context(prefer_skip_nested_validation=True)
    @fits_atomically
    @uses_threads(blas=True)
    def fit(self, X, y):
        """Fit the classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Training series; lists of (n_channels, length_i) arrays and every sktime Panel mtype
            are accepted, unequal lengths are padded with a padding mask.
        y : array-like of shape (n_samples,)
            Class labels (any hashable type).

        Returns
        -------
        self : SBTClassifier
            The fitted classifier.
        """
        self._check_hyperparameters()
        if y is None:
            raise ValueError("SBTClassifier requires y to be passed, but the target y is None")
        warm = self._warm()
        X, pad = self._check_X(X, reset=not warm)
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "fcO" and pd.isna(y).any():
            raise ValueError(f"Input y contains NaN (or None) at {int(pd.isna(y).sum())} position(s): every "
                             "series needs a class label")
        if len(y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {len(y)}")
        check_classification_targets(y)
        if warm:  # the fitted classes, scaler and tokens stay: the network continues from them
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if len(unseen):
                raise ValueError(f"warm_start=True continues a classifier of classes {self.classes_.tolist()}; y "
                                 f"holds others ({unseen[:5].tolist()}): fit with warm_start=False")
            if self.patch_len != "auto" and int(self.patch_len) != self.patch_len_:
                raise ValueError(f"warm_start=True continues a network of patch_len_={self.patch_len_}; "
                                 f"patch_len={self.patch_len} would need a new one: fit with warm_start=False")
            y_enc = np.searchsorted(self.classes_, y).astype(np.int64)
            self.n_timesteps_ = max(self.n_timesteps_, X.shape[2])
        else:
            encoder = LabelEncoder().fit(y)
            self.classes_ = encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"SBTClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})")
            y_enc = encoder.transform(y).astype(np.int64)
            self.n_channels_, self.n_timesteps_ = X.shape[1], X.shape[2]
            self._fit_scaler(X, pad)
            self.patch_len_ = auto_patch_len(self.n_timesteps_) if self.patch_len == "auto" else int(self.patch_len)

        model_seed, shuffle_rng, _ = self._seeds()
        dataset = self._dataset(X, y_enc, pad)
        criterion_kwargs = {}
        if self.class_weight is not None:
            if isinstance(self.class_weight, str):  # "balanced" over the classes y holds (a warm fit may lack some)
                present = np.unique(y_enc)
                weights = np.ones(len(self.classes_))
                weights[present] = compute_class_weight(self.class_weight, classes=present, y=y_enc)
            else:
                weights = np.array([self.class_weight.get(c, 1.0) for c in self.classes_], dtype=np.float64)
            criterion_kwargs["weight"] = torch.as_tensor(weights, dtype=torch.float32)
        n_tokens = -(-self.n_timesteps_ // self.patch_len_)
        max_len = max(n_tokens, 512 if self.pos_encoding == "learnable" else 1)
        kwargs = self._module_kwargs(model_seed, max_len=max_len)
        kwargs.update(n_channels=self.n_channels_, n_classes=len(self.classes_), patch_len=self.patch_len_)
        return self._train(SBTClassificationNet, kwargs, torch.nn.CrossEntropyLoss, dataset, None,
                           shuffle_rng, criterion_kwargs)

    def _holdout_indices(self, dataset, rng):
        """Stratified random hold-out (series are independent samples, not consecutive windows)."""
        return _stratified_split(dataset.y, self.validation_fraction, rng)

    @uses_threads
    def predict_proba(self, X):
        """Class probabilities (softmax of the logits, float64, rows sum to 1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Series to classify; they may be longer than any seen in fit.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        X, pad = self._check_X(X, reset=False)
        logits = self._forward(self._dataset(X, None, pad)).double()
        return torch.softmax(logits, dim=1).numpy()

    @uses_threads
    def predict(self, X):
        """Most probable class of each series.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_channels, n_timesteps) or (n_samples, n_timesteps)
            Series to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, taken from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a windowed transformer is not built for tabular toy data
        return tags


#: ``patch_len="auto"`` keeps at most this many tokens per series: per-step tokens up to this
#: length, patches of ``ceil(T / AUTO_MAX_TOKENS)`` steps beyond it
AUTO_MAX_TOKENS = 32


def auto_patch_len(n_timesteps: int) -> int:
    """Steps per token that ``patch_len="auto"`` chooses for series of ``n_timesteps`` steps.

    Examples
    --------
    >>> from sbt_sklearn.estimators._classifier import auto_patch_len
    >>> [auto_patch_len(t) for t in (24, 32, 33, 150, 1460)]
    [1, 1, 2, 5, 46]
    """
    return max(1, -(-int(n_timesteps) // AUTO_MAX_TOKENS))


def _stratified_split(y, fraction, rng):
    """Indices (train, valid) with about ``fraction`` of every class held out (at least one
    sample of a class goes to validation only if the class has two or more)."""
    train, valid = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_valid = int(round(fraction * len(idx))) if len(idx) > 1 else 0
        n_valid = min(max(n_valid, 1 if len(idx) > 1 else 0), len(idx) - 1)
        valid.extend(idx[:n_valid])
        train.extend(idx[n_valid:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(valid, dtype=np.int64))
