"""
JapaneseVowels with SBTClassifier
=================================

Fit a sparse binary transformer (p=0.5) and its dense FP32 twin on JapaneseVowels, compare accuracy and
model size, and plot the per-class accuracy of both. Sizes come from ``compression_report()``: the SBT
paper's convention (1 bit per binary weight; gains and biases free), the honest one (everything inference
needs: masks, gains, biases, norms) and the bytes of the saved model file.
"""

import os
import time

import numpy as np

from sbt_sklearn import SBTClassifier
from sbt_sklearn.data import load_japanese_vowels


def main(max_epochs=None, show=True):
    if max_epochs is None:  # SBT_EXAMPLES_QUICK=1: a smoke run
        max_epochs = 5 if os.environ.get("SBT_EXAMPLES_QUICK") == "1" else 100
    X_train, y_train, X_test, y_test = load_japanese_vowels()
    results = {}
    for name, params in {"SBT p=0.5": dict(p=0.5), "dense twin": dict(p=0.0, binary=False)}.items():
        start = time.perf_counter()
        clf = SBTClassifier(d=32, max_epochs=max_epochs, random_state=0, **params).fit(X_train, y_train)
        pred = clf.predict(X_test)
        report = clf.compression_report().to_dict()
        paper_bits, honest_bits = report["paper"]["size_bits"]["sbt"], report["honest"]["size_bits"]["sbt"]
        results[name] = dict(pred=pred, classes=clf.classes_, bits=honest_bits)
        print(f"{name:<11} accuracy {np.mean(pred == y_test):.3f}  fit {time.perf_counter() - start:5.1f}s  "
              f"size {paper_bits / 1e3:6.1f} kbit (paper's convention), {honest_bits / 1e3:6.1f} kbit honest, "
              f"file {report['file_bytes']['sbt']:,} B  kept {1 - report['model']['p']:.2f}")

    try:
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is optional
        return results
    classes = results["SBT p=0.5"]["classes"]
    width = 0.4
    fig, ax = plt.subplots(figsize=(7, 3))
    for i, (name, r) in enumerate(results.items()):
        per_class = [np.mean(r["pred"][y_test == c] == c) for c in classes]
        ax.bar(np.arange(len(classes)) + (i - 0.5) * width, per_class, width,
               label=f"{name} ({r['bits'] / 1e3:.1f} kbit, honest)")
    ax.set_xticks(np.arange(len(classes)), classes)
    ax.set_xlabel("speaker")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.8, 1.0)
    ax.legend(loc="lower right")
    fig.tight_layout()
    if show:
        plt.show()
    return results


if __name__ == "__main__":
    main()
