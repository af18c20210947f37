"""sktime-native forecaster adapter: a series-level view of :class:`sbt_sklearn.SBTForecaster`."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sktime.forecasting.base import BaseForecaster

from .._docstrings import fill_doc
from ..data import sliding_windows
from ..estimators import SBTForecaster
from ..estimators._input import as_real_array, check_values, interpolate_missing
from ._mirror import AdapterMixin, check_int_param, estimator_params, mirrored_init

__all__ = ["SBTSktimeForecaster"]


@fill_doc("forecaster")  # the Parameters section: sbt_sklearn/_docstrings.py
class SBTSktimeForecaster(AdapterMixin, BaseForecaster):
    """Sparse Binary Transformer forecaster for sktime: ``fit(y)``, ``predict(fh)`` for any horizon.

    Cuts the training series into windows of ``window_length`` steps (zero-copy), fits
    :class:`sbt_sklearn.SBTForecaster` on them, and forecasts any horizon from the end of the data
    it has seen: a single-step model (``horizon=1``) is rolled forward step by step; a direct
    model (``horizon=H``) answers every ``fh`` within ``H`` steps in one forward pass (gaps such as
    ``fh=[24, 96]`` included) and longer ones in blocks of ``H`` steps. ``update`` appends new
    observations without refitting: later forecasts start from the new end. Multivariate ``y``
    is one multivariate model (not one model per column).

    ``update`` data must continue the series: the same columns (a univariate series keeps its
    name), no missing or duplicated time points, sorted, and without gaps at the training index's
    step (its frequency for a ``DatetimeIndex`` or ``PeriodIndex``, its constant difference for
    an integer index; an irregular index is only checked for order). Rows up to the cutoff are
    accepted where they repeat what was already seen (sktime's ``update_predict`` with an
    expanding window sends them again); data that ends before the cutoff, skips the cutoff or
    revises seen values raises ValueError, and the forecaster keeps its state. The network is
    not retrained by ``update``, whatever ``update_params`` says.

    ``predict_interval`` and ``predict_quantiles`` give split-conformal intervals: for each step
    ahead and channel, the finite-sample quantile of the absolute errors of forecasts rolled from
    up to 500 origins in the last 10,000 training rows (the model has seen these rows in
    training, so the errors are in-sample; on ETTh1 and ETTm1 test data nominal 90 % intervals
    covered 89.1 % and 88.5 % of the truths, :doc:`/user_guide/forecasting`). Intervals are
    symmetric around the point forecast and reach as many steps ahead as the training series
    allows; the adapter keeps those rows (10,000 x channels floats) for them.

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
        # sktime 1.2's registry lists neither tag for forecasters, yet its BaseForecaster reads
        # capability:multivariate (without it: one model per column) and older releases scitype:y
        "scitype:y": "both",
        "capability:multivariate": True,
        "capability:exogenous": False,
        "requires-fh-in-fit": False,
        "capability:insample": False,
        "capability:pred_int": True,  # conformal intervals from recent training residuals
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

    def _init_base(self):
        super().__init__()
        # sktime creates these only when remember_data is on; a user may switch it on later
        self._y, self._X = None, None
        # missing="interpolate": sktime must let NaN through to _fit and update, which fill them
        self.set_tags(**{"capability:missing_values": self.missing == "interpolate"})

    def _start_window(self) -> np.ndarray:
        """The (window_length_, C) values forecasts start from (a forecaster pickled before they were kept
        gets them from ``last_window_``)."""
        window = getattr(self, "_filled_window", None)
        return self._filled(self.last_window_.to_numpy(dtype=np.float64)) if window is None else window

    def _filled(self, values: np.ndarray) -> np.ndarray:
        """(T, C) values with NaN interpolated along time (missing="interpolate"), else as they are."""
        if self.missing != "interpolate" or np.isfinite(values).all():
            return values
        empty = [c for c in range(values.shape[1]) if not np.isfinite(values[:, c]).any()]
        if empty:
            raise ValueError(f"y column(s) {empty} hold no finite value to interpolate from")
        return interpolate_missing(values.T[None])[0].T.astype(np.float64)

    def fit(self, y, X=None, fh=None):
        """Fit on the series ``y``; exogenous ``X`` is not used (a UserWarning says so).

        Parameters
        ----------
        y : pd.Series or pd.DataFrame
            The series (one or several channels).
        X : pd.DataFrame or None, default=None
            Exogenous data: ignored (``capability:exogenous`` is False), with a warning.
        fh : ForecastingHorizon or None, default=None
            Optional; forecasts of any horizon are possible after fit (see the class description).

        Returns
        -------
        self : SBTSktimeForecaster
        """
        if X is not None:
            warnings.warn("SBTSktimeForecaster does not use exogenous X (capability:exogenous is False): it is "
                          "ignored and the forecasts depend on y alone", UserWarning, stacklevel=2)
        return super().fit(y, X=X, fh=fh)

    def _fit(self, y, X=None, fh=None):
        window_length = check_int_param(self, "window_length", 1)
        values = self._filled(as_real_array(y, name="y").astype(np.float64, copy=False))
        horizon = check_int_param(self, "horizon", 1)
        if len(values) < horizon + 1:
            raise ValueError(f"SBTSktimeForecaster with horizon={horizon} needs at least horizon + 1 = {horizon + 1} "
                             f"observations to fit; got {len(values)}")
        check_values(values, name="y")  # the last rows are only targets: the windows do not cover them
        self.window_length_ = min(window_length, len(values) - horizon)
        windows, targets = sliding_windows(values, self.window_length_, horizon=horizon)
        self.estimator_ = SBTForecaster(**estimator_params(self, SBTForecaster)).fit(windows, targets)
        self.last_window_ = y.iloc[-self.window_length_:].copy()
        # what forecasts start from: the last window of the series interpolated as a whole (missing="interpolate")
        self._filled_window = values[-self.window_length_:].astype(np.float64)
        # the most recent training rows, for the conformal intervals (residual quantiles per step ahead)
        self._calibration_rows = values[-(self.window_length_ + _CALIBRATION_ROWS):].astype(np.float64)
        self._calibration = {}
        self._time_step = _time_step(y.index, self.cutoff)
        return self

    def _predict(self, fh, X=None):
        steps = fh.to_relative(self.cutoff).to_numpy().astype(int)
        if (steps < 1).any():
            raise ValueError(f"SBTSktimeForecaster forecasts future steps only (fh >= 1); got relative fh "
                             f"{steps.tolist()}")
        window = self._start_window()
        rolled = self.estimator_.forecast(window, int(steps.max()))  # (max step, C)
        index = fh.to_absolute_index(self.cutoff)
        return pd.DataFrame(rolled[steps - 1], index=index, columns=self.last_window_.columns)

    def _residual_quantiles(self, horizon: int, coverages) -> np.ndarray:
        """(len(coverages), horizon, C) conformal half-widths.

        Origins are evenly spaced over the most recent training rows (at most
        :data:`_CALIBRATION_ORIGINS`, chosen from the rows alone, so the same whatever the horizon
        asked); from each, the model's forecast is rolled forward. For step ``h`` ahead and each
        channel, the half-width at coverage ``c`` is the ``ceil((n_h + 1) c)``-th smallest absolute
        error of the ``n_h`` origins whose step ``h`` lies in the rows (split conformal's
        finite-sample rank; the largest error where that rank exceeds ``n_h``).
        """
        errors = self._calibration.get("errors")
        if errors is None or errors.shape[1] < horizon:
            rows, w = self._calibration_rows, self.window_length_
            n_origins = min(_CALIBRATION_ORIGINS, len(rows) - w)
            origins = np.unique(np.linspace(w, len(rows) - 1, max(1, n_origins)).astype(int))
            windows = np.stack([rows[o - w : o].T for o in origins]).astype(np.float32)  # (n, C, w)
            errors = np.full((len(origins), horizon, rows.shape[1]), np.nan)
            done = 0
            while done < horizon and (origins + done < len(rows)).any():  # every origin forward at once, as forecast
                pred = self.estimator_.predict(windows).reshape(len(origins), rows.shape[1], -1)  # (n, C, block)
                for j in range(min(pred.shape[2], horizon - done)):
                    seen = origins + done + j < len(rows)
                    errors[seen, done + j] = np.abs(pred[seen, :, j] - rows[origins[seen] + done + j])
                windows = np.concatenate([windows, pred.astype(np.float32)], axis=2)[:, :, -w:]
                done += pred.shape[2]
            self._calibration["errors"] = errors
        out = np.zeros((len(coverages), horizon, errors.shape[2]))
        for h in range(horizon):
            known = errors[:, h][~np.isnan(errors[:, h, 0])]
            if len(known) == 0:
                raise ValueError(
                    f"prediction intervals {h + 1} steps ahead need training residuals that far ahead: fit on a "
                    f"series of at least window_length + {h + 1} = {self.window_length_ + h + 1} observations, or "
                    "shorten fh")
            ordered = np.sort(known, axis=0)
            for k, c in enumerate(coverages):
                if c > 0:  # the ceil((n + 1) c)-th smallest error (the largest where that exceeds n)
                    rank = min(len(known), int(np.ceil((len(known) + 1) * c)))
                    out[k, h] = ordered[rank - 1]
        return out

    def _predict_interval(self, fh, X=None, coverage=None):
        steps = fh.to_relative(self.cutoff).to_numpy().astype(int)
        if (steps < 1).any():
            raise ValueError("prediction intervals are for future steps (fh >= 1)")
        point = self._predict(fh, X)
        half = self._residual_quantiles(int(steps.max()), coverage)[:, steps - 1]  # (k, len(fh), C)
        columns, data = [], []
        for c_index, name in enumerate(point.columns):
            for k, cov in enumerate(coverage):
                for side, sign in (("lower", -1.0), ("upper", 1.0)):
                    columns.append((name, cov, side))
                    data.append(point[name].to_numpy() + sign * half[k, :, c_index])
        return pd.DataFrame(np.stack(data, axis=1), index=point.index, columns=pd.MultiIndex.from_tuples(columns))

    def update(self, y, X=None, update_params=True):
        """Append new observations: later forecasts start after them (the network is not retrained).

        ``y`` must continue the series seen so far (see the class description); otherwise
        ValueError is raised and the forecaster is left exactly as it was.

        Parameters
        ----------
        y : sktime Series (pd.Series, pd.DataFrame, ...)
            The new observations, with the columns (or the series name) seen in fit.
        X : None
            Ignored (no exogenous data).
        update_params : bool, default=True
            Ignored: ``update`` never retrains the network (call ``fit`` to retrain).

        Returns
        -------
        self : SBTSktimeForecaster
            The updated forecaster.
        """
        # sktime records the new cutoff and the new data's metadata (its column names, which
        # predictions take) before _update can check the data: put all of it back on a rejection
        saved = {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}
        try:
            return super().update(y, X=X, update_params=update_params)
        except ValueError:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _update(self, y, X=None, update_params=True):
        # forecasts roll forward from the new end of the data; the network is not retrained
        # (call fit to retrain), whatever update_params says
        new = self._new_rows(y)
        if len(new):
            self.last_window_ = pd.concat([self.last_window_, new]).iloc[-self.window_length_:]
            # new rows are interpolated after the filled window before them (no future values to use)
            rows = np.vstack([self._start_window(), new.to_numpy(dtype=np.float64)])
            self._filled_window = self._filled(rows)[-self.window_length_:]
        return self

    def _new_rows(self, y: pd.DataFrame) -> pd.DataFrame:
        """The rows of update data ``y`` after the data seen; ValueError unless y continues it."""
        seen = self.last_window_
        if list(y.columns) != list(seen.columns):
            raise ValueError(
                f"update got the series {list(y.columns)}, but SBTSktimeForecaster was fitted on {list(seen.columns)}: "
                "update needs the same columns in the same order (a univariate series keeps its name)"
            )
        if len(y) == 0:
            return y
        index, end = y.index, seen.index[-1]
        _check_same_kind(index, seen.index)
        if np.asarray(pd.isna(index)).any():
            raise ValueError("update data has missing time points (NaN/NaT) in its index")
        if not index.is_unique:
            raise ValueError(f"update data has duplicated time points (first {index[index.duplicated()][0]}); "
                             "each time point must appear once")
        if not index.is_monotonic_increasing:
            raise ValueError("update data is not sorted by time; sort it by its index first")
        step = getattr(self, "_time_step", None)
        shown = getattr(step, "freqstr", step)  # "M", "15min" or an integer
        if step is not None:
            expected = _consecutive(index[0], step, len(index))
            if not index.equals(expected):
                k = int(np.argmax(np.asarray(index != expected)))
                if k == 0:  # a start off the frequency's anchor
                    raise ValueError(f"update data starts at {index[0]}, which is not a time point of the "
                                     f"training index's frequency {shown}")
                raise ValueError(
                    f"update data has a gap: after {index[k - 1]} comes {index[k]}, not {expected[k]} (step {shown}); "
                    "time points must continue without gaps"
                )
        if index[-1] < end:
            raise ValueError(f"update data ends at {index[-1]}, before the cutoff {end}: its time points were "
                             "already seen, and update cannot move the cutoff back (refit instead)")
        old = np.asarray(index <= end)
        if not old.any():
            if step is not None and index[0] != _consecutive(end, step, 2)[1]:
                raise ValueError(
                    f"update data starts at {index[0]}, but the cutoff is {end}: the next time point is "
                    f"{_consecutive(end, step, 2)[1]} (step {shown}); time points must continue without gaps"
                )
        else:
            if index[old][-1] != end:
                raise ValueError(
                    f"update data starts before the cutoff {end} without containing it: rows up to the cutoff may "
                    "only repeat observations already seen, and the new rows must follow the cutoff"
                )
            common = index[old].intersection(seen.index)
            same = np.array_equal(y.loc[common].to_numpy(dtype=np.float64), seen.loc[common].to_numpy(dtype=np.float64),
                                  equal_nan=True)
            if not same:
                raise ValueError(
                    f"update data revises observations already seen (time points {common[0]} to {common[-1]}): "
                    "SBTSktimeForecaster forecasts from the data it has seen and takes no revisions; refit instead"
                )
        new = y.iloc[int(old.sum()):]
        if len(new):
            check_values(as_real_array(new, name="y"), name="y", allow_nan=self.missing == "interpolate")
        return new

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


#: rows of the training series kept for the conformal intervals (after one window) and origins used
_CALIBRATION_ROWS, _CALIBRATION_ORIGINS = 10_000, 500


def _time_step(index: pd.Index, cutoff):
    """The step between consecutive time points of a training index, or None if it is irregular.

    A ``PeriodIndex`` steps by its frequency; a ``DatetimeIndex`` by its frequency, else the one
    pandas (or sktime, for the cutoff) infers; an integer index by its constant difference.
    """
    if isinstance(index, pd.PeriodIndex):
        return index.freq
    if isinstance(index, pd.DatetimeIndex):
        freq = index.freq or (pd.infer_freq(index) if len(index) >= 3 else None) or getattr(cutoff, "freq", None)
        return pd.tseries.frequencies.to_offset(freq) if freq is not None else None
    if pd.api.types.is_integer_dtype(index.dtype) and len(index) >= 2:
        diffs = np.diff(index.to_numpy())
        if diffs[0] > 0 and (diffs == diffs[0]).all():
            return int(diffs[0])
    return None


def _consecutive(start, step, n: int) -> pd.Index:
    """``n`` time points from ``start`` at ``step`` (a frequency or an integer difference)."""
    if isinstance(start, pd.Period):
        return pd.period_range(start=start, periods=n, freq=step)
    if isinstance(start, pd.Timestamp):
        return pd.date_range(start=start, periods=n, freq=step)
    return pd.Index(start + step * np.arange(n))


def _check_same_kind(index: pd.Index, fitted: pd.Index) -> None:
    """Update data must use the kind of time index seen in fit (and its frequency, time zone)."""
    kinds = [("a PeriodIndex", lambda i: isinstance(i, pd.PeriodIndex)),
             ("a DatetimeIndex", lambda i: isinstance(i, pd.DatetimeIndex)),
             ("an integer index", lambda i: pd.api.types.is_integer_dtype(i.dtype))]
    for name, is_kind in kinds:
        if is_kind(fitted) != is_kind(index):
            raise ValueError(f"update data has a {type(index).__name__}, but SBTSktimeForecaster was fitted on "
                             f"{name if is_kind(fitted) else type(fitted).__name__}: pass the same kind of time index")
    if isinstance(fitted, pd.PeriodIndex) and index.freq != fitted.freq:
        raise ValueError(f"update data has periods of {index.freqstr}, but SBTSktimeForecaster was fitted on "
                         f"periods of {fitted.freqstr}")
    if isinstance(fitted, pd.DatetimeIndex) and str(index.tz) != str(fitted.tz):
        raise ValueError(f"update data is in time zone {index.tz}, but SBTSktimeForecaster was fitted on time zone "
                         f"{fitted.tz}")
