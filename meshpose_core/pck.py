"""PCK: the fraction of ground-truth joints predicted within alpha x the person's size.

Size = max(width, height) of the person box: the annotated box where the dataset has one
(COCO-format sets), else the extent of the person's visible ground-truth joints (LSP: all 14
LSP joints, head top included; MPII: its 16 joints). Only joints with ground truth count;
a missing prediction (NaN, e.g. an undetected person) counts as a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_ALPHA = 0.1


@dataclass(frozen=True)
class PckResult:
    """n_joints evaluated, n_correct within threshold; per_joint (K,) counts of both."""

    n_joints: int
    n_correct: int
    per_joint_total: np.ndarray
    per_joint_correct: np.ndarray

    @property
    def pck(self) -> float:
        return self.n_correct / self.n_joints if self.n_joints else float("nan")


def box_size(boxes: np.ndarray) -> np.ndarray:
    """(..., 4) x0, y0, x1, y1 -> (...,) max(width, height)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.maximum(boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1])


def pck_hits(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray,
    size: np.ndarray,
    alpha: float = DEFAULT_ALPHA,
) -> np.ndarray:
    """pred, gt (N, K, >=2) px; valid (N, K) bool; size (N,) -> (N, K) bool: valid and within
    alpha * size (NaN predictions never hit)."""
    dist = np.linalg.norm(np.asarray(pred, np.float64)[..., :2] - np.asarray(gt)[..., :2], axis=-1)
    within = np.nan_to_num(dist, nan=np.inf) <= alpha * np.asarray(size, np.float64)[:, None]
    return within & np.asarray(valid, bool)


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray,
    size: np.ndarray,
    alpha: float = DEFAULT_ALPHA,
) -> PckResult:
    """PCK@alpha over all valid joints of all N people: pred, gt (N, K, >=2) px, valid (N, K),
    size (N,) px, as in ``pck_hits``."""
    valid = np.asarray(valid, bool)
    hits = pck_hits(pred, gt, valid, size, alpha)
    return PckResult(
        n_joints=int(valid.sum()),
        n_correct=int(hits.sum()),
        per_joint_total=valid.sum(axis=0),
        per_joint_correct=hits.sum(axis=0),
    )
