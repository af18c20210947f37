"""
Anomaly detection on spacecraft telemetry
=========================================

Fit :class:`~sbt_sklearn.SBTAnomalyDetector` on the anomaly-free training part of a NASA
telemetry channel (shipped with the package), score every step of its test part, set a
threshold from the *training* scores only, and compare with IsolationForest.

The detector follows scikit-learn's outlier-detection conventions: ``score_samples`` is
higher for more normal windows, ``decision_function = score_samples - offset_`` and
``predict`` returns -1 for outliers.
"""

# %%
# Data: one channel of the SMAP/MSL benchmark
# -------------------------------------------
# Column 0 is the telemetry value, the other columns are 0/1 command flags. The training
# part has no anomaly; the test part has labelled anomaly segments.
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

from sbt_sklearn import SBTAnomalyDetector, sliding_windows
from sbt_sklearn.data import load_sample_telemetry
from sbt_sklearn.metrics import precision_recall_f1
from sbt_sklearn.plotting import plot_anomaly_scores

torch.set_num_threads(1)
train, test, labels = load_sample_telemetry("G-7")
train, test = train.astype(np.float32), test.astype(np.float32)
print(train.shape, test.shape, f"{100 * labels.mean():.1f} % anomalous test steps")

# %%
# Fit on windows of the training series
# -------------------------------------
# ``sliding_windows(..., horizon=0)`` returns a read-only view of shape
# (n_windows, n_channels, window); nothing is copied. The detector learns to predict the
# last step of each window from the 49 steps before it. A window's score is the larger of two
# levels in the tail of the training windows: its prediction error's and the rarity of its
# last values (``rarity="max"``, the default). The threshold is the 99 % quantile of the
# training scores (``contamination=0.01``).
X_train, _ = sliding_windows(train, 50, horizon=0)
epochs = 2 if os.environ.get("SBT_EXAMPLES_QUICK") == "1" else 10  # quick: a smoke run
detector = SBTAnomalyDetector(d=32, d_ff=64, max_epochs=epochs, max_windows_per_epoch=None, random_state=0)
detector.fit(X_train)

# %%
# One score per test step
# -----------------------
# ``score_series`` cuts the test series into windows the same way and scores each step on
# several time scales at once: the window ending there, and the mean of the last 5, 10, 25
# and 50 windows, each as a level in the tail of the training series' own scores, averaged;
# the error and the rarity are smoothed this way separately and the larger level is kept.
# ``series_threshold_`` is the 99 % quantile of those scores on the training series.
scores = detector.score_series(test)
flagged = (-scores > detector.series_threshold_).astype(int)
iforest = IsolationForest(random_state=0).fit(train)
for name, s in [("SBT", -scores), ("IsolationForest", -iforest.score_samples(test))]:
    print(f"{name:16s} ROC-AUC {100 * roc_auc_score(labels, s):5.1f}  "
          f"PR-AUC {100 * average_precision_score(labels, s):5.1f}")
for adjusted in (False, True):
    p, r, f1 = precision_recall_f1(labels, flagged, point_adjusted=adjusted)
    print(f"point_adjusted={adjusted}: precision {p:.2f} recall {r:.2f} F1 {f1:.2f}")

# %%
# Plot scores, threshold and the true anomaly segments
# ----------------------------------------------------
plot_anomaly_scores(scores, labels, threshold=-detector.series_threshold_, series=test[:, 0],
                    title="SBTAnomalyDetector on telemetry channel G-7")
plt.show()
