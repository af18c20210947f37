"""Progress lines of the demo: what a fit is doing, every few seconds, with the elapsed time."""

from __future__ import annotations

import time

from skorch.callbacks import Callback

__all__ = ["EpochProgress", "progress"]


class EpochProgress(Callback):
    """Print ``label: epoch i/n, t s`` at the end of an epoch when ``every_s`` seconds have passed
    since the last line (and after the last epoch), so a long fit never runs silently."""

    def __init__(self, label: str, print_fn=print, every_s: float = 5.0) -> None:
        self.label = label
        self.print_fn = print_fn
        self.every_s = every_s

    def on_train_begin(self, net, **kwargs):  # noqa: D102
        self.start_ = self.last_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):  # noqa: D102
        now = time.perf_counter()
        epoch, total = len(net.history), net.max_epochs
        if now - self.last_ >= self.every_s or epoch >= total:
            loss = net.history[-1].get("train_loss")
            loss_text = f", train loss {loss:.4f}" if loss is not None else ""
            self.print_fn(f"    {self.label}: epoch {epoch}/{total}{loss_text}, {now - self.start_:.1f} s")
            self.last_ = now


def progress(label: str, print_fn) -> list:
    """The ``callbacks`` argument that makes an estimator report its fit's progress."""
    return [("demo_progress", EpochProgress(label, print_fn))]
