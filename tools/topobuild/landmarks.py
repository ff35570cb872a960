"""Sparse linear landmark regressors (vertices -> keypoints) for each level, fitted to anny's
own COCO regressor over many posed bodies."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls


def fit_landmarks(
    level_posed: np.ndarray,
    targets: np.ndarray,
    rest_keypoints: np.ndarray,
    rest_vertices: np.ndarray,
    support: int = 24,
    sum_weight: float = 1e3,
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative weights summing to 1 over each keypoint's `support` nearest rest vertices.

    level_posed (N, V, 3) posed level vertices, targets (N, K, 3) anny keypoints,
    rest_keypoints (K, 3), rest_vertices (V, 3). Returns index (K, S), weight (K, S).
    """
    n_kp = targets.shape[1]
    index = np.zeros((n_kp, support), np.int64)
    weight = np.zeros((n_kp, support), np.float32)
    for k in range(n_kp):
        near = np.argsort(np.linalg.norm(rest_vertices - rest_keypoints[k], axis=1))[:support]
        # rows: every coordinate of every sample, plus a heavy row enforcing sum(w) == 1
        a = level_posed[:, near, :].transpose(0, 2, 1).reshape(-1, support)
        b = targets[:, k, :].reshape(-1)
        a = np.vstack([a, np.full((1, support), sum_weight)])
        b = np.concatenate([b, [sum_weight]])
        w, _ = nnls(a, b, maxiter=5000)
        w = w / w.sum()
        index[k], weight[k] = near, w
    return index, weight


def landmark_error(index, weight, level_posed, targets) -> np.ndarray:
    """(N, K) distances between regressed and target keypoints."""
    pred = np.einsum("ks,nksd->nkd", weight, level_posed[:, index, :])
    return np.linalg.norm(pred - targets, axis=2)
