"""Turn teacher outputs (and ground truth, where an image has it) into label-store rows.

A row is a dict with the ``PersonLabels`` fields for one person, or it is rejected with a
reason (counted by the labelling tool). Teacher joints are marked labelled when their confidence
passes ``QualityConfig.keypoint_threshold`` (the stored confidence lets training pick another).
A person found by the teacher alone needs enough confident joints and a plausible mask: on the
shared images every teacher person whose mask failed the checks had scattered, wrong joints
(background clutter, two people mixed), so the mask check doubles as a pose sanity check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from meshpose_core.detection import BlazePoseDetector

from .crop import box_of_points, crop_to_image_points, image_to_crop_points, joints_roi
from .labels import MASK_SIZE, SOURCE_GT, SOURCE_NONE, SOURCE_TEACHER, pack_mask, roi_to_array
from .quality import (
    QualityConfig,
    duplicates,
    keep_components_at_points,
    mask_is_plausible,
    nearest_person_only,
    teacher_agreement,
)
from .teacher import BlazePoseLandmarker, TeacherOutput

FACE_JOINTS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class LabelConfig:
    """max_people: detections labelled per frame, best first; every one the teacher confirms
    is also a rival when another person's mask is cut (see ``nearest_person_only``)."""

    quality: QualityConfig = field(default_factory=QualityConfig)
    max_people: int = 20
    mask_size: int = MASK_SIZE


def teacher_mask(
    out: TeacherOutput,
    points: np.ndarray,
    skeleton: np.ndarray,
    cfg: LabelConfig,
    rivals: Sequence[np.ndarray] = (),
) -> np.ndarray | None:
    """The teacher's mask, cut to the pixels nearer this person's skeleton (17, 2) image px
    than to any rival's (each (17, 2)) and to the components at the confident joints (N, 2)
    image px, checked for plausibility and resampled: (S, S) bool with S = ``mask_size``;
    None if implausible."""
    size = out.mask.shape[0]
    crop_points = image_to_crop_points(out.roi, size, points)
    crop_skeleton = image_to_crop_points(out.roi, size, skeleton)
    crop_rivals = [image_to_crop_points(out.roi, size, r) for r in rivals]
    mask = nearest_person_only(out.mask > 0.5, crop_skeleton, crop_rivals)
    mask = keep_components_at_points(mask, crop_points)
    if not mask_is_plausible(mask, crop_points, crop_skeleton, cfg.quality):
        return None
    small = cv2.resize(mask.astype(np.float32), (cfg.mask_size,) * 2, interpolation=cv2.INTER_AREA)
    return small > 0.5


def mask_box(mask: np.ndarray, out: TeacherOutput) -> np.ndarray:
    """(4,) image box of a crop-aligned mask (S, S) of the teacher's ROI."""
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    return box_of_points(crop_to_image_points(out.roi, mask.shape[0], pts), np.ones(len(pts), bool))


def union_box(a: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """(4,) x0, y0, x1, y1 box holding boxes ``a`` and ``b`` (4,); ``a`` if ``b`` is None."""
    return a if b is None else np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


def base_row(image: str, frame: int, cfg: LabelConfig) -> dict[str, Any]:
    n = 17
    return {
        "image": image,
        "frame": frame,
        "keypoint_source": np.full(n, SOURCE_NONE, np.uint8),
        "pose_score": 1.0,
        "mask_roi": np.zeros(4, np.float32),
        "mask": pack_mask(np.zeros((cfg.mask_size,) * 2, bool)),
        "has_mask": False,
        "side_conflict": False,
    }


def set_mask(row: dict[str, Any], out: TeacherOutput, mask: np.ndarray | None) -> None:
    """Store ``mask`` (S, S) bool in ``row`` (packed, with its ROI); nothing if None."""
    if mask is not None:
        row.update(mask_roi=roi_to_array(out.roi), mask=pack_mask(mask), has_mask=True)


def confident(out: TeacherOutput, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """-> COCO joints (17, 2) image px, confidence (17,) = min(visibility, presence), and
    confidence >= threshold (17,)."""
    coco = out.coco()
    conf = np.minimum(coco[:, 2], coco[:, 3])
    return coco[:, :2], conf, conf >= threshold


def teacher_row(
    image: str,
    frame: int,
    out: TeacherOutput,
    cfg: LabelConfig,
    rivals: Sequence[np.ndarray] = (),
) -> tuple[dict[str, Any] | None, str]:
    """One detected person labelled by the teacher alone (rivals: the other people's COCO
    joints in the frame, (17, 2) each) -> (row or None, reason)."""
    q = cfg.quality
    xy, conf, valid = confident(out, q.keypoint_threshold)
    if valid.sum() < q.min_keypoints:
        return None, "few joints"
    mask = teacher_mask(out, xy[valid], xy, cfg, rivals)
    if mask is None:
        return None, "mask rejected"
    box = union_box(box_of_points(xy, valid), mask_box(mask, out))
    if max(box[2] - box[0], box[3] - box[1]) < q.min_person_px:
        return None, "too small"
    row = base_row(image, frame, cfg)
    row.update(
        box=box,
        keypoints=xy,
        keypoint_conf=conf,
        keypoint_source=np.where(valid, SOURCE_TEACHER, SOURCE_NONE).astype(np.uint8),
        pose_score=out.pose_score,
    )
    set_mask(row, out, mask)
    return row, "kept"


def label_detected_people(
    image_rgb: np.ndarray,
    image: str,
    frame: int,
    detector: BlazePoseDetector,
    teacher: BlazePoseLandmarker,
    cfg: LabelConfig,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Detector -> teacher on each person's rotated ROI of ``image_rgb`` (H, W, 3) uint8 ->
    rows, reasons. People the teacher finds (pose flag) are deduplicated, then each one's mask
    is cut against all the others."""
    q = cfg.quality
    outs = [teacher(image_rgb, d.roi()) for d in detector.detect(image_rgb)[: cfg.max_people]]
    reasons = ["pose flag"] * sum(o.pose_score < q.min_pose_score for o in outs)
    outs = [o for o in outs if o.pose_score >= q.min_pose_score]
    joints = [confident(o, q.keypoint_threshold) for o in outs]
    if len(outs) > 1:
        dup = duplicates(
            np.stack([j[0] for j in joints]),
            np.stack([j[2] for j in joints]),
            np.array([o.pose_score for o in outs]),
            q.duplicate_distance,
        )
        reasons += ["duplicate"] * int(dup.sum())
        outs = [o for o, d in zip(outs, dup, strict=True) if not d]
        joints = [j for j, d in zip(joints, dup, strict=True) if not d]
    rows = []
    for i, out in enumerate(outs):
        rivals = [j[0] for k, j in enumerate(joints) if k != i]
        row, why = teacher_row(image, frame, out, cfg, rivals)
        reasons.append(why)
        if row is not None:
            rows.append(row)
    return rows, reasons


def ground_truth_row(
    image_rgb: np.ndarray,
    image: str,
    keypoints: np.ndarray,
    box: np.ndarray,
    teacher: BlazePoseLandmarker,
    cfg: LabelConfig,
) -> tuple[dict[str, Any], str]:
    """A person with ground-truth joints ``keypoints`` (17, 3) (x, y image px, labelled) and
    ``box`` (4,) in ``image_rgb`` (H, W, 3) uint8: the teacher runs on the joints' upright ROI
    and contributes the mask and face joints only when it agrees with the ground truth
    (PCK@0.2 >= min_agreement); left/right disagreement is flagged."""
    q = cfg.quality
    valid = keypoints[:, 2] > 0
    row = base_row(image, -1, cfg)
    row.update(
        box=box,
        keypoints=keypoints[:, :2],
        keypoint_conf=valid.astype(np.float32),
        keypoint_source=np.where(valid, SOURCE_GT, SOURCE_NONE).astype(np.uint8),
    )
    roi = joints_roi(keypoints, valid)
    if roi is None:
        return row, "no teacher: too few joints"
    out = teacher(image_rgb, roi)
    xy, conf, sure = confident(out, q.keypoint_threshold)
    size = float(max(box[2] - box[0], box[3] - box[1], 1.0))
    agreement, conflict = teacher_agreement(xy, keypoints[:, :2], valid, size)
    row.update(pose_score=out.pose_score, side_conflict=conflict)
    if out.pose_score < q.min_pose_score or agreement < q.min_agreement:
        return row, "teacher disagrees"
    face = np.zeros(17, bool)
    face[list(FACE_JOINTS)] = True
    face &= sure & ~valid
    row["keypoints"] = np.where(face[:, None], xy, keypoints[:, :2])
    row["keypoint_conf"] = np.where(face, conf, row["keypoint_conf"])
    row["keypoint_source"] = np.where(face, SOURCE_TEACHER, row["keypoint_source"]).astype(np.uint8)
    skeleton = np.where(valid[:, None], keypoints[:, :2], xy)
    mask = teacher_mask(out, skeleton[valid | face], skeleton, cfg)
    if mask is not None:
        set_mask(row, out, mask)
        row["box"] = union_box(box, mask_box(mask, out))
    return row, "teacher mask" if mask is not None else "teacher ok, mask rejected"
