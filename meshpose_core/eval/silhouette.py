"""Silhouette agreement: intersection over union of two person masks."""

from __future__ import annotations

import numpy as np


def silhouette_iou(pred: np.ndarray, target: np.ndarray) -> float:
    """Two (H, W) masks (bool, or probabilities thresholded at 0.5) -> IoU in [0, 1];
    1.0 when both are empty (nothing to disagree on)."""
    if pred.shape != target.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {target.shape}")
    a = pred > 0.5 if pred.dtype != bool else pred
    b = target > 0.5 if target.dtype != bool else target
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union
