"""MediaPipe's weighted non-maximum suppression (``NonMaxSuppressionCalculator``, WEIGHTED).

Unlike plain NMS, the kept detection is the score-weighted mean of every box it suppresses,
which steadies the box and keypoints of the SSD's many overlapping anchor hits. The score
stays that of the best hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class MergedDetections:
    """Detections after suppression, best first. M = number kept."""

    boxes: np.ndarray  # (M, 4) x0, y0, x1, y1
    keypoints: np.ndarray  # (M, K, 2)
    scores: np.ndarray  # (M,)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with many (N, 4), all ``x0, y0, x1, y1``."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float = 0.3,
    max_detections: int | None = None,
) -> MergedDetections:
    """Greedy weighted NMS.

    Args:
        boxes: (N, 4) ``x0, y0, x1, y1``.
        keypoints: (N, K, 2), averaged with the same weights as the boxes.
        scores: (N,) scores, all already above the detection threshold.
        iou_threshold: boxes overlapping the current best by more than this are merged into it.
        max_detections: stop after this many detections (None: no limit).
    """
    if not (boxes.shape[0] == keypoints.shape[0] == scores.shape[0]):
        raise ValueError(
            f"boxes {boxes.shape}, keypoints {keypoints.shape} and scores {scores.shape} "
            "must have the same length"
        )
    remaining = np.argsort(-scores, kind="stable")
    kept_boxes, kept_keypoints, kept_scores = [], [], []
    while remaining.size and (max_detections is None or len(kept_scores) < max_detections):
        best = remaining[0]
        overlap = box_iou(boxes[best], boxes[remaining]) > iou_threshold
        overlap[0] = True  # a degenerate (zero-area) best box still absorbs itself
        group = remaining[overlap]
        weights = scores[group] / scores[group].sum()
        kept_boxes.append(np.tensordot(weights, boxes[group], axes=1))
        kept_keypoints.append(np.tensordot(weights, keypoints[group], axes=1))
        kept_scores.append(scores[best])
        remaining = remaining[~overlap]
    num_kp = keypoints.shape[1:]
    return MergedDetections(
        boxes=np.asarray(kept_boxes, dtype=np.float32).reshape(-1, 4),
        keypoints=np.asarray(kept_keypoints, dtype=np.float32).reshape(-1, *num_kp),
        scores=np.asarray(kept_scores, dtype=np.float32),
    )


def hard_nms(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou_threshold: float = 0.45,
    max_detections: int | None = None,
) -> np.ndarray:
    """Plain greedy NMS (YOLOX's): indices of the kept (N, 4) ``x0, y0, x1, y1`` boxes, best
    score first; a box overlapping a kept one by more than ``iou_threshold`` is dropped. A
    box detector's boxes are already tight, so averaging them (``weighted_nms``) would only
    blur neighbours in a crowd together."""
    if boxes.shape != (scores.shape[0], 4):
        raise ValueError(f"boxes {boxes.shape} and scores {scores.shape} do not fit")
    remaining = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while remaining.size and (max_detections is None or len(kept) < max_detections):
        best = remaining[0]
        kept.append(int(best))
        remaining = remaining[1:][box_iou(boxes[best], boxes[remaining[1:]]) <= iou_threshold]
    return np.asarray(kept, dtype=np.int64)
