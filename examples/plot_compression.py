"""
Compact files, folded inference and the compression report
===========================================================

Fit a small SBTForecaster, save it as a compact model file, load it back, export the folded
plain-torch model, check that all three predict the same, print the compression report and plot
where the bytes of the file go next to the dense twin's float32 file.
"""

import os
import tempfile

import numpy as np
import torch

from sbt_sklearn import SBTForecaster, sliding_windows
from sbt_sklearn.compression import read_model_bytes


def main(max_epochs=2, show=True):
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    t = np.arange(3000)
    series = np.stack([np.sin(t / 20), np.cos(t / 35), 0.5 * np.sin(t / 7)], axis=1)
    series += 0.05 * rng.normal(size=series.shape)
    X, y = sliding_windows(series, 48)
    model = SBTForecaster(d=32, p=0.75, max_epochs=max_epochs, random_state=0).fit(X[:2000], y[:2000])

    path = os.path.join(tempfile.mkdtemp(), "forecaster.sbt")
    n_bytes = model.save(path)
    loaded = SBTForecaster.load(path)
    folded = model.export_folded()
    X_test = np.ascontiguousarray(X[2000:2200], dtype=np.float32)
    pred = model.predict(X_test)
    with torch.inference_mode():
        pred_folded = folded(torch.from_numpy(X_test)).numpy()
    print(f"file {n_bytes:,} bytes; loaded predicts identically: {np.array_equal(loaded.predict(X_test), pred)}; "
          f"folded max abs diff {np.abs(pred_folded - pred).max():.2e}")

    report = model.compression_report()
    print(report)

    meta, tensors = read_model_bytes(open(path, "rb").read())
    masks = tensors["sbt.masks"].nbytes
    rest = n_bytes - masks  # norms, scalers, metadata and header, after compression
    coding = {"b": "packed bits", "r": "Rice-coded"}[meta["network"]["sparse_layers"]["coding"][0]]
    dense = report.to_dict()["file_bytes"]["dense"]
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is optional
        return report
    fig, ax = plt.subplots(figsize=(6, 2.5))
    ax.barh(["SBT file"], [masks], label=f"masks ({coding})")
    ax.barh(["SBT file"], [rest], left=[masks], label="norms, scalers, metadata, header")
    ax.barh(["dense float32"], [dense], color="grey", label="dense twin state_dict")
    ax.set_xscale("log")
    ax.set_xlabel("bytes (log scale)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    if show:
        plt.show()
    return report


if __name__ == "__main__":
    main()
