"""Decoding of SSD regressors and score logits (MediaPipe ``TensorsToDetectionsCalculator``).

Each regressor row is ``(dx, dy, w, h, kx0, ky0, kx1, ky1, ...)`` in input pixels, relative
to its anchor centre and scaled by the anchor size ("reverse output order": x before y).
"""

from __future__ import annotations

import numpy as np


def decode_regressors(
    raw: np.ndarray, anchors: np.ndarray, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Turn raw regressors into normalised boxes and keypoints.

    Args:
        raw: (N, 4 + 2K) regressor rows as the model outputs them.
        anchors: (N, 4) anchors ``(x_center, y_center, w, h)``, normalised.
        scale: the input size the regressors are expressed in (224 for the pose detector).

    Returns:
        boxes: (N, 4) ``(x0, y0, x1, y1)`` normalised to the model input.
        keypoints: (N, K, 2) ``(x, y)`` normalised to the model input.
    """
    if raw.ndim != 2 or raw.shape[1] < 4 or (raw.shape[1] - 4) % 2:
        raise ValueError(f"regressors must be (N, 4 + 2K), got shape {raw.shape}")
    if anchors.shape != (raw.shape[0], 4):
        raise ValueError(f"anchors must be ({raw.shape[0]}, 4), got shape {anchors.shape}")
    rel = raw.astype(np.float32) / scale
    centre, size = anchors[:, None, :2], anchors[:, None, 2:]
    box_centre = rel[:, None, 0:2] * size + centre  # (N, 1, 2)
    box_half = rel[:, None, 2:4] * size / 2
    boxes = np.concatenate([box_centre - box_half, box_centre + box_half], axis=-1)[:, 0]
    keypoints = rel[:, 4:].reshape(raw.shape[0], (raw.shape[1] - 4) // 2, 2) * size + centre
    return boxes, keypoints


def sigmoid_scores(logits: np.ndarray, clip: float = 100.0) -> np.ndarray:
    """Scores in (0, 1) from logits clipped to ``[-clip, clip]`` (no overflow), (N,) -> (N,)."""
    clipped = np.clip(logits.astype(np.float64), -clip, clip)  # float64: exp(100) fits
    return (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)
