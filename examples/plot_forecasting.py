"""
Single-step forecasting with a Sparse Binary Transformer
========================================================

Fit :class:`sbt_sklearn.SBTForecaster` on the ETTh1 sample that ships with the package,
predict every test row one step ahead, compare with persistence (repeat the last value), and
plot predicted against actual values for two channels, in the style of Figure 3 of the SBT
paper. Then roll the model forward for a multi-step forecast.

Runs in well under a minute on two CPU cores.
"""

import os

import matplotlib.pyplot as plt
import numpy as np

from sbt_sklearn import SBTForecaster, sliding_windows
from sbt_sklearn.data import load_sample_etth1
from sbt_sklearn.plotting import plot_forecast

# %%
# Data: hourly ETTh1, 7 channels. Train on the first 12 months, test on months 17-20
# (Informer's split), standardise every column with train statistics.
frame = load_sample_etth1()
train, test = frame.iloc[:8640], frame.iloc[11520:14400]
mean, std = train.mean(), train.std(ddof=0)
window = 48  # two days of context
train_std = ((train - mean) / std).astype("float32")
# the first test rows take their context from the rows just before the test period
test_ctx = ((frame.iloc[11520 - window : 14400] - mean) / std).astype("float32")

# %%
# ``sliding_windows`` returns zero-copy views: X (n, channels, window) and y (n, channels).
X, y = sliding_windows(train_std, window)
X_test, y_test = sliding_windows(test_ctx, window)
print(X.shape, y.shape, X_test.shape)

# %%
# A sparse-binary model (half of every layer's weights pruned, the rest sign-binary) and its
# dense FP32 twin, trained on a random subset of windows per epoch to keep this quick.
quick = os.environ.get("SBT_EXAMPLES_QUICK") == "1"  # smoke runs train for one short epoch
common = dict(d=32, d_ff=64, max_epochs=1 if quick else 4, max_windows_per_epoch=512 if quick else 4096,
              random_state=0)
sbt = SBTForecaster(p=0.5, **common).fit(X, y)
dense = SBTForecaster(p=0.0, binary=False, **common).fit(X, y)


def mse(pred):
    return float(np.mean((np.asarray(pred) - np.asarray(y_test)) ** 2))


print(f"SBT p=0.5   MSE {mse(sbt.predict(X_test)):.4f}")
print(f"dense twin  MSE {mse(dense.predict(X_test)):.4f}")
print(f"persistence MSE {mse(X_test[:, :, -1]):.4f}")

# %%
# Predicted vs actual for two channels over one week of the test period (Figure 3 style).
week = slice(0, 24 * 7)
pred = sbt.predict(X_test[week])
axes = plot_forecast(y_test[week], pred, channels=(0, 6), channel_names=list(frame.columns),
                     index=test.index[week], title="ETTh1, one step ahead: SBT p=0.5")
plt.tight_layout()

# %%
# Multi-step: ``forecast`` feeds each prediction back as the newest row of the window.
history = test_ctx.iloc[: window + 100]
future = sbt.forecast(history, n_steps=24)
actual = test_ctx.iloc[window + 100 : window + 124]
axes = plot_forecast(actual, future.to_numpy(), channels=(6,), title="ETTh1 OT, 24 steps rolled out")
plt.tight_layout()
plt.show()
