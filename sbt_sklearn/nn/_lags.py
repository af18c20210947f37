"""Lag features and forward of the forecaster's linear base (torch only).

The forecaster fits a ridge on the recent rows of each standardised window before the SBT
learns its residual (:mod:`sbt_sklearn.estimators._linear_base`); the estimator, its folded
export and the ridge statistics all build the features with :func:`base_features`, so that the
three cannot disagree.
"""

from __future__ import annotations

import torch

__all__ = ["base_features", "base_forecast"]


def base_features(x: torch.Tensor, lags: int) -> torch.Tensor:
    """Features ``[x_T, x_{T-1} - x_T, ..., x_{T-lags+1} - x_T]`` of windows ``x`` (B, T, C), newest
    first, as (B, lags * C).

    The features of ``lags`` lags are the leading block of those of any longer lag set, so one
    pass over the windows gives the statistics of every candidate lag count.

    Examples
    --------
    >>> import torch
    >>> from sbt_sklearn.nn._lags import base_features
    >>> x = torch.arange(6.0).reshape(1, 3, 2)  # rows (0, 1), (2, 3), (4, 5)
    >>> base_features(x, 2)
    tensor([[ 4.,  5., -2., -2.]])
    """
    last = x[:, -1]
    if lags == 1:
        return last
    past = x[:, -lags:-1].flip(1) - last[:, None, :]  # (B, lags-1, C), newest first
    return torch.cat([last, past.reshape(x.shape[0], -1)], dim=1)


def base_forecast(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, shared: bool = False) -> torch.Tensor:
    """The linear base's output for windows ``x`` (B, T, C).

    Cross-channel (``shared=False``, one step ahead): ``base_features(x, L) @ weight + bias``
    with ``L = weight.shape[0] // C`` lags, ``weight`` (L * C, C), ``bias`` (C,); returns (B, C).
    Channel-shared and direct (``shared=True``, H steps ahead): every channel's own ``L`` lag
    features times ``weight`` (L, H) plus ``bias`` (H,), the same map for every channel;
    returns (B, H, C).
    """
    if not shared:
        return base_features(x, weight.shape[0] // x.shape[2]) @ weight + bias
    b, t, c = x.shape
    per_channel = x.transpose(1, 2).reshape(b * c, t, 1)
    out = base_features(per_channel, weight.shape[0]) @ weight + bias  # (B * C, H)
    return out.reshape(b, c, -1).transpose(1, 2)
