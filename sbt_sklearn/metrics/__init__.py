"""Evaluation metrics (numpy only).

Detection metrics for time-series anomaly detection: label segments, point adjustment,
precision/recall/F1 with or without adjustment, and the SBT "benign-window" test filter.
"""

from ._detection import (
    DetectionScores,
    benign_window_filter,
    label_segments,
    point_adjust,
    precision_recall_f1,
)

__all__ = [
    "DetectionScores",
    "benign_window_filter",
    "label_segments",
    "point_adjust",
    "precision_recall_f1",
]
