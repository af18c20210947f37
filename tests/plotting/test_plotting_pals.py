"""The PALS trajectory plot draws the sparsity steps, the decisions and the validation loss."""

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from sbt_sklearn.plotting import plot_pals_trajectory  # noqa: E402

HISTORY = [
    {"step": 20, "p": 0.5, "val_loss": 1.0, "decision": "shrink", "p_after": 0.52},
    {"step": 40, "p": 0.52, "val_loss": 0.8, "decision": "shrink", "p_after": 0.55},
    {"step": 60, "p": 0.55, "val_loss": 1.5, "decision": "expand", "p_after": 0.53},
    {"step": 80, "p": 0.53, "val_loss": 0.9, "decision": "frozen", "p_after": 0.53},
]


def test_plot_shows_sparsity_decisions_and_loss():
    ax = plot_pals_trajectory(HISTORY, title="PALS")
    (line,) = ax.get_lines()[:1]
    assert list(line.get_ydata()) == [0.52, 0.55, 0.53, 0.53]
    assert len(ax.collections) == 3  # shrink, expand, frozen markers
    loss = ax.right_ax.get_lines()[0]
    assert list(loss.get_ydata()) == [1.0, 0.8, 1.5, 0.9]
    assert ax.get_title() == "PALS"


def test_plot_needs_a_history():
    with pytest.raises(ValueError, match="pals=True"):
        plot_pals_trajectory([])
