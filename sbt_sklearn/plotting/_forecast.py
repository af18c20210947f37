"""``plot_forecast``: predicted against actual values over time, one panel per channel."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_forecast"]


def plot_forecast(y_true, y_pred, *, channels=(0, 1), channel_names=None, index=None, ax=None,
                  title=None, actual_label="actual", predicted_label="predicted"):
    """Predicted against actual values over time, one panel per channel.

    In the style of Figure 3 of the SBT paper: for each chosen channel, the true series and the
    single-step predictions are drawn on the same axes.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps, n_channels) or (n_timesteps,)
        True values (a DataFrame works; its columns name the channels).
    y_pred : array-like of the same shape
        Predictions, for example ``SBTForecaster.predict`` on consecutive windows.
    channels : sequence of int, default=(0, 1)
        Columns to plot, one panel each (channels beyond the data are skipped).
    channel_names : sequence of str, optional
        Names of all channels; by default the DataFrame's columns or ``"channel i"``.
    index : array-like of shape (n_timesteps,), optional
        The x values (for example timestamps); by default ``y_true``'s index or 0..n-1.
    ax : matplotlib Axes or sequence of Axes, optional
        Where to draw, one Axes per channel; a new figure is created if None.
    title : str, optional
        Figure title.
    actual_label, predicted_label : str
        Legend labels.

    Returns
    -------
    axes : list of matplotlib Axes
        One per plotted channel.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sbt_sklearn.plotting import plot_forecast
    >>> t = np.linspace(0, 6, 50)
    >>> y = np.stack([np.sin(t), np.cos(t)], axis=1)
    >>> axes = plot_forecast(y, y + 0.05, channel_names=["sin", "cos"])
    >>> [a.get_title() for a in axes]
    ['sin', 'cos']
    """
    import matplotlib.pyplot as plt

    names = channel_names
    if index is None and hasattr(y_true, "index"):
        index = y_true.index
    if names is None and hasattr(y_true, "columns"):
        names = [str(c) for c in y_true.columns]
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    yt = yt[:, None] if yt.ndim == 1 else yt
    yp = yp[:, None] if yp.ndim == 1 else yp
    if yt.shape != yp.shape:
        raise ValueError(f"y_true {yt.shape} and y_pred {yp.shape} must have the same shape")
    chans = [c for c in channels if 0 <= c < yt.shape[1]]
    if not chans:
        raise ValueError(f"none of channels={list(channels)} exist; the data have {yt.shape[1]} channel(s)")
    x = np.arange(len(yt)) if index is None else index
    if ax is None:
        fig, axes = plt.subplots(len(chans), 1, figsize=(9, 2.6 * len(chans)), sharex=True, squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = list(np.atleast_1d(ax))
        fig = axes[0].figure
        if len(axes) < len(chans):
            raise ValueError(f"{len(chans)} channels need {len(chans)} Axes; got {len(axes)}")
    for a, c in zip(axes, chans):
        a.plot(x, yt[:, c], color="0.2", lw=1.2, label=actual_label)
        a.plot(x, yp[:, c], color="tab:red", lw=1.0, ls="--", label=predicted_label)
        a.set_title(names[c] if names is not None else f"channel {c}")
        a.legend(loc="upper right", frameon=False)
    if title:
        fig.suptitle(title)
    return axes
