"""
Long series: patch tokens and a budget sized from the data
==========================================================

GunPoint (shipped with sktime): 50 training series of 150 steps. With ``patch_len="auto"`` the
classifier groups every 5 steps into one token (30 tokens instead of 150), and ``max_epochs="auto"``
gives the 50 series (2 batches per epoch) 500 epochs, about 1,000 optimizer steps. The script fits
the default model and a per-step one (``patch_len=1``) with the same budget, prints accuracy, fit
time and the attention work per series, and plots the accuracy against the fit time. About 2 minutes on
2 CPU cores (``SBT_EXAMPLES_QUICK=1``: 40 epochs, a smoke run).
"""

import os
import time
import warnings

import numpy as np
from sktime.datasets import load_gunpoint

from sbt_sklearn import SBTClassifier


def main(quick=None):
    quick = os.environ.get("SBT_EXAMPLES_QUICK") == "1" if quick is None else quick
    warnings.filterwarnings("ignore", category=UserWarning)
    X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
    X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")
    budget = dict(max_epochs=40) if quick else {}
    rows = []
    for label, patch_len in (("patches (auto)", "auto"), ("per step", 1)):
        clf = SBTClassifier(patch_len=patch_len, random_state=0, **budget)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        accuracy = float(np.mean(clf.predict(X_test) == y_test))
        tokens = -(-X_train.shape[2] // clf.patch_len_)
        rows.append((label, clf.patch_len_, tokens, clf.n_epochs_, accuracy, seconds))
        print(f"{label:15s} patch_len_={clf.patch_len_:2d}  tokens={tokens:3d}  epochs={clf.n_epochs_}  "
              f"accuracy={accuracy:.3f}  fit={seconds:.1f} s  attention scores per head and layer={tokens ** 2:,}")
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return rows
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, _, tokens, _, accuracy, seconds in rows:
        ax.scatter(seconds, accuracy, s=20 + tokens)
        ax.annotate(f"{label} ({tokens} tokens)", (seconds, accuracy), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("fit seconds (2-core CPU)")
    ax.set_ylabel("test accuracy")
    ax.set_title("GunPoint: SBTClassifier defaults")
    fig.tight_layout()
    return rows


if __name__ == "__main__":
    main()
