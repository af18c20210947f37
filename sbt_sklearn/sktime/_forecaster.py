"""sktime-native forecaster adapter: a series-level view of :class:`sbt_sklearn.SBTForecaster`."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster

from .._docstrings import fill_doc
from ..data import sliding_windows
from ..estimators import SBTForecaster
from ._mirror import AdapterMixin, estimator_params, mirrored_init

__all__ = ["SBTSktimeForecaster"]


@fill_doc("forecaster")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTSktimeForecaster(AdapterMixin, BaseForecaster):
    """Sparse Binary Transformer forecaster for sktime: ``fit(y)``, ``predict(fh)`` for any horizon.

    Cuts the training series into windows of ``window_length`` steps (zero-copy), fits the
    single-step :class:`sbt_sklearn.SBTForecaster` on them, and forecasts any horizon by rolling the
    single-step model forward from the end of the data it has seen. ``update`` appends new
    observations without refitting: later forecasts start from the new end.

    Apart from ``window_length``, the hyperparameters are those of
    :class:`sbt_sklearn.SBTForecaster`: same names, defaults and meaning, so a grid transfers.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    estimator_ : SBTForecaster
        The fitted scikit-learn estimator; its ``history_`` is the training history.
    window_length_ : int
        The window length used.
    last_window_ : pd.DataFrame
        The last ``window_length_`` observations seen (by ``fit`` and ``update``): forecasts start
        after them. Called ``history_`` before; that name still works with a FutureWarning.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from sbt_sklearn.sktime import SBTSktimeForecaster
    >>> y = load_airline()
    >>> f = SBTSktimeForecaster(window_length=24, d=16, d_ff=32, max_epochs=2, random_state=0)
    >>> f.fit(y).predict(fh=[1, 2, 3]).shape
    (3,)
    """

    _tags = {
        "authors": ["sbt_sklearn developers"],
        "maintainers": ["sbt_sklearn developers"],
        "python_dependencies": ["torch", "skorch"],
        "y_inner_mtype": "pd.DataFrame",
        "X_inner_mtype": "pd.DataFrame",
        "scitype:y": "both",  # older sktime: multivariate y goes to one model
        "capability:multivariate": True,  # what sktime 1.2 reads: without it, one model per column
        "capability:exogenous": False,
        "requires-fh-in-fit": False,
        "capability:insample": False,
        "capability:pred_int": False,
        "capability:missing_values": False,
        "capability:random_state": True,
        "property:randomness": "derandomized",
    }
    # we keep only the last window ourselves (last_window_), not the whole series
    _config = {"remember_data": False}

    __init__ = mirrored_init(SBTForecaster, window_length=48)
    _test_params = [
        dict(window_length=4, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, batch_size=16, random_state=0),
        dict(window_length=6, d=8, n_heads=2, n_layers=1, d_ff=8, max_epochs=2, batch_size=16, random_state=1, p=0.75),
    ]

    def _init_sktime_base(self):
        super().__init__()
        # sktime creates these only when remember_data is on; a user may switch it on later
        self._y, self._X = None, None

    def _fit(self, y, X=None, fh=None):
        values = y.to_numpy(dtype=np.float64)
        if len(values) < 2:
            raise ValueError("SBTSktimeForecaster needs at least 2 observations to fit")
        self.window_length_ = int(min(self.window_length, len(values) - 1))
        windows, targets = sliding_windows(values, self.window_length_, horizon=1)
        self.estimator_ = SBTForecaster(**estimator_params(self, SBTForecaster)).fit(windows, targets)
        self.last_window_ = y.iloc[-self.window_length_:].copy()
        return self

    def _predict(self, fh, X=None):
        steps = fh.to_relative(self.cutoff).to_numpy().astype(int)
        window = self.last_window_.to_numpy(dtype=np.float64)
        rolled = self.estimator_.forecast(window, int(steps.max()))  # (max step, C)
        index = fh.to_absolute_index(self.cutoff)
        return pd.DataFrame(rolled[steps - 1], index=index, columns=self.last_window_.columns)

    def _update(self, y, X=None, update_params=True):
        # forecasts roll forward from the new end of the data; the network is not retrained
        # (call fit to retrain), whatever update_params says
        self.last_window_ = pd.concat([self.last_window_, y]).iloc[-self.window_length_:]
        return self

    @property
    def history_(self):
        """Deprecated: the former name of ``last_window_`` (the last observations seen).

        On the scikit-learn estimators ``history_`` is the training history, hence the new
        name; reading this alias emits a FutureWarning.

        Returns
        -------
        last_window : pd.DataFrame
            ``last_window_``.
        """
        last_window = self.last_window_  # AttributeError (and no warning) before fit
        warnings.warn(
            "SBTSktimeForecaster.history_ was renamed to last_window_ (the last observations "
            "seen, which forecasts start after); history_ will be removed in a future release. "
            "The training history is estimator_.history_.",
            FutureWarning, stacklevel=2,
        )
        return last_window

    def __setstate__(self, state):
        # a forecaster pickled before the rename keeps its last window under history_
        if "history_" in state and "last_window_" not in state:
            state = {("last_window_" if k == "history_" else k): v for k, v in state.items()}
        self.__dict__.update(state)

    def __dir__(self):
        # hide the deprecated alias from dir(), and so from sktime's get_fitted_params, which
        # reads every public attribute whose name ends in "_"
        return [name for name in super().__dir__() if name != "history_"]
