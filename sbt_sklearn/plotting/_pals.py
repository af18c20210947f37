"""``plot_pals_trajectory``: a PALS sparsity trajectory against the validation loss.

As in the figures of the PALS paper: the sparsity steps and decisions on the left axis, the
validation loss on the right one.
"""

from __future__ import annotations

__all__ = ["plot_pals_trajectory"]

_COLORS = {"shrink": "tab:red", "expand": "tab:green", "stable": "tab:gray", "frozen": "black"}


def plot_pals_trajectory(estimator_or_history, ax=None, title=None):
    """Plot sparsity (left axis) and validation loss (right axis) over training steps.

    Parameters
    ----------
    estimator_or_history : fitted SBT estimator or list of dict
        An estimator fitted with ``pals=True`` (its ``pals_history_`` is used) or such a history.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made if omitted.
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib Axes
        The sparsity axes (the loss axes is ``ax.right_ax``).

    Examples
    --------
    >>> from sbt_sklearn.plotting import plot_pals_trajectory  # doctest: +SKIP
    >>> plot_pals_trajectory(SBTForecaster(pals=True).fit(X, y))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    history = getattr(estimator_or_history, "pals_history_", estimator_or_history)
    if not history:
        raise ValueError("no PALS decisions to plot: fit the estimator with pals=True")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    steps = [h["step"] for h in history]
    ax.step(steps, [h["p_after"] for h in history], where="post", color="tab:blue", label="sparsity p")
    for decision, color in _COLORS.items():
        pts = [(h["step"], h["p"]) for h in history if h["decision"] == decision]
        if pts:
            ax.scatter(*zip(*pts), s=12, color=color, label=decision, zorder=3)
    ax.set_xlabel("training step")
    ax.set_ylabel("sparsity p (fraction pruned)")
    ax.set_ylim(0, 1)
    right = ax.twinx()
    right.plot(steps, [h["val_loss"] for h in history], color="tab:orange", alpha=0.8, label="validation loss")
    right.set_ylabel("validation loss")
    ax.right_ax = right
    best = min(history, key=lambda h: h["val_loss"])
    ax.axvline(best["step"], color="tab:orange", linestyle=":", linewidth=1)
    handles, labels = ax.get_legend_handles_labels()
    h2, l2 = right.get_legend_handles_labels()
    ax.legend(handles + h2, labels + l2, loc="lower right", fontsize=7, ncol=3)
    if title:
        ax.set_title(title)
    return ax
