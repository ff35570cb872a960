"""Filters that decide which teacher labels are good enough to train on.

The BlazePose teacher is wrong in recognisable ways: a low person flag, few confident joints,
a mask that also covers neighbours (its segmentation is not per person) or drifts away from
the joints, the same person found twice, and, on ground-truth images, a pose that disagrees
with the annotation. Each check is a small pure function; ``QualityConfig`` holds the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from meshpose_core.pck import pck_hits

from .crop import box_of_points
from .joints import COCO_SKELETON, LIMB_JOINTS, flip_joint_order


@dataclass(frozen=True)
class QualityConfig:
    """min_pose_score: MediaPipe's own person-present threshold; keypoint_threshold: joint
    confidence (min of visibility and presence) that counts as labelled; mask fractions are of
    the teacher crop; mask_outside_max: mask share allowed farther than ``mask_reach`` x the
    person's size from its skeleton (hands, feet, hair and clothes stick out; a neighbour
    covered by the same mask, the teacher's segmentation not being per person, lies farther);
    min_agreement: PCK@0.2 of teacher vs ground truth needed to trust the teacher's mask."""

    min_pose_score: float = 0.5
    keypoint_threshold: float = 0.5
    min_keypoints: int = 6
    min_person_px: float = 48.0
    mask_min_fraction: float = 0.02
    mask_max_fraction: float = 0.85
    mask_reach: float = 0.15
    mask_outside_max: float = 0.1
    mask_keypoints_inside: float = 0.6
    duplicate_distance: float = 0.1
    min_agreement: float = 0.5


def keep_components_at_points(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(S, S) bool mask, (K, 2) pixel-centre points -> the mask's connected components that
    contain (or touch, within 1 px) at least one point."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    grown = cv2.dilate(labels.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int64)
    s = mask.shape[0]
    ij = np.round(points).astype(np.int64)
    inside = (ij >= 0).all(axis=1) & (ij < s).all(axis=1)
    wanted = np.unique(grown[ij[inside, 1], ij[inside, 0]])
    return np.isin(labels, wanted[wanted > 0])


def skeleton_distance(skeleton: np.ndarray, size: int) -> np.ndarray:
    """COCO joints (17, 2) pixel centres -> (size, size) float32 distance in pixels from
    each pixel to the nearest bone of COCO's skeleton."""
    canvas = np.full((size, size), 255, np.uint8)
    shift = 4  # cv2 draws at 1/16 px precision, pixel centres at integers like ours
    pts = np.round(skeleton * (1 << shift)).astype(np.int64)
    pts = np.clip(pts, -(1 << 28), 1 << 28)
    for a, b in COCO_SKELETON:
        cv2.line(canvas, tuple(map(int, pts[a])), tuple(map(int, pts[b])), 0, 1, cv2.LINE_8, shift)
    return cv2.distanceTransform(canvas, cv2.DIST_L2, 5)


def nearest_person_only(
    mask: np.ndarray, skeleton: np.ndarray, rivals: list[np.ndarray]
) -> np.ndarray:
    """(S, S) mask, the person's COCO joints (17, 2) and other people's (each (17, 2)), all
    in the mask's crop -> the mask without pixels nearer another person's skeleton (the
    teacher segments everyone in the crop, not just its person)."""
    if not rivals:
        return mask
    size = mask.shape[0]
    own = skeleton_distance(skeleton, size)
    other = np.min([skeleton_distance(r, size) for r in rivals], axis=0)
    return mask & (own <= other)


def mask_is_plausible(
    mask: np.ndarray, points: np.ndarray, skeleton: np.ndarray, cfg: QualityConfig
) -> bool:
    """A person mask (S, S) bool against the person in the same crop: confident joints
    (K, 2) and all 17 joints (17, 2), confident or not, as the body's layout. Area within
    limits, most confident joints inside the mask, little of it far from the skeleton."""
    area = mask.mean()
    if not cfg.mask_min_fraction <= area <= cfg.mask_max_fraction or len(points) == 0:
        return False
    s = mask.shape[0]
    ij = np.clip(np.round(points).astype(np.int64), 0, s - 1)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if grown[ij[:, 1], ij[:, 0]].mean() < cfg.mask_keypoints_inside:
        return False
    x0, y0, x1, y1 = box_of_points(skeleton, np.ones(len(skeleton), bool))
    reach = cfg.mask_reach * max(x1 - x0, y1 - y0)
    far = skeleton_distance(skeleton, s)[mask] > reach
    return far.mean() <= cfg.mask_outside_max


def duplicates(
    keypoints: np.ndarray, valid: np.ndarray, scores: np.ndarray, max_distance: float
) -> np.ndarray:
    """People (N, 17, 2), (N, 17) bool, scores (N,) -> (N,) bool, True for a person whose
    jointly valid joints lie, on average, within max_distance x the better-scored person's
    size of a better-scored person (the same body found twice)."""
    order = np.argsort(-scores)
    dup = np.zeros(len(scores), bool)
    for rank, i in enumerate(order):
        for j in order[:rank]:
            both = valid[i] & valid[j]
            box = box_of_points(keypoints[j], valid[j])
            if dup[j] or both.sum() < 3 or box is None:
                continue
            size = max(box[2] - box[0], box[3] - box[1], 1.0)
            dist = np.linalg.norm(keypoints[i, both] - keypoints[j, both], axis=1).mean()
            if dist < max_distance * size:
                dup[i] = True
                break
    return dup


def teacher_agreement(
    teacher: np.ndarray, gt: np.ndarray, valid: np.ndarray, size: float
) -> tuple[float, bool]:
    """Teacher (17, 2) vs ground truth (17, 2) on valid (17,) limb joints, person size ->
    (PCK@0.2 of the teacher, side_conflict: the ground truth fits at least twice better with
    its left/right labels swapped)."""
    limbs = np.zeros_like(valid)
    limbs[list(LIMB_JOINTS)] = valid[list(LIMB_JOINTS)]
    if not limbs.any():
        return 0.0, False
    hits = pck_hits(teacher[None], gt[None], limbs[None], np.array([size]), alpha=0.2)
    swapped_gt = flip_joint_order(gt)
    swapped_valid = flip_joint_order(limbs[:, None])[:, 0]
    both = limbs & swapped_valid
    direct = np.linalg.norm(teacher[both] - gt[both], axis=1).mean() if both.any() else 0.0
    swapped = np.linalg.norm(teacher[both] - swapped_gt[both], axis=1).mean() if both.any() else 0.0
    return float(hits.sum() / limbs.sum()), bool(both.any() and 2 * swapped < direct)
