"""Which crop each evaluated person gets: the same region for every model under test.

Modes: 'gt' (default) a square, axis-aligned crop around the ground-truth box with a margin
(isolates pose quality from detection); 'gt-roi' an upright, MediaPipe-style ROI from the
ground-truth hips and shoulders (isolates pose quality from in-plane rotation too);
'detector' the first crop the pipeline makes for the detection matched to the person (an
unmatched person scores every joint as a miss): with the product's default detector, YOLOX,
its box squared, centred, times the margin (``pipeline.crops.crop_transform``'s region),
matched by box IoU; with BlazePose's SSD, its rotated ROI from the hip and scale points,
matched by distance to the person's hip midpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from meshpose_core.data.real.crop import box_roi, joints_roi
from meshpose_core.detection import Detection, RotatedRoi
from meshpose_core.detection.nms import box_iou

from .eval_sets import EvalPerson

CropMode = Literal["gt", "gt-roi", "detector"]
CROP_MODES: tuple[str, ...] = ("gt", "gt-roi", "detector")
DEFAULT_MARGIN = 1.25
MAX_MATCH_DISTANCE = 0.5  # x the person's box size
MIN_MATCH_IOU = 0.5  # a box detection's person box with the person's box (detection bench's)


def person_centre(person: EvalPerson) -> np.ndarray:
    """(2,) continuous image px: the hip midpoint if both hips are labelled, else box centre
    (the detector's keypoint 0 is the hip midpoint)."""
    kp = person.keypoints
    if (kp[[11, 12], 2] > 0).all():
        return kp[[11, 12], :2].mean(0) + 0.5
    return (person.box[:2] + person.box[2:]) / 2 + 0.5


def match_detections(
    people: Sequence[EvalPerson], detections: Sequence[Detection]
) -> list[Detection | None]:
    """Greedy one-to-one matching, best pairs first. A box detector's (YOLOX: ``person_box``
    set) by IoU of its person box with the person's box, at least MIN_MATCH_IOU; BlazePose's
    by distance from its hip point to the person's centre, within MAX_MATCH_DISTANCE x the
    person's size."""
    if not people or not detections:
        return [None] * len(people)
    if all(d.person_box is not None for d in detections):
        boxes = np.stack([d.person_box for d in detections]).astype(np.float64)
        iou = np.stack([box_iou(np.asarray(p.box, np.float64), boxes) for p in people])
        return _greedy(detections, -iou, -MIN_MATCH_IOU)
    centres = np.stack([person_centre(p) for p in people])
    hips = np.stack([d.centre() for d in detections])
    sizes = np.array([max(np.ptp(p.box[[0, 2]]), np.ptp(p.box[[1, 3]]), 1.0) for p in people])
    dist = np.linalg.norm(centres[:, None] - hips[None], axis=-1) / sizes[:, None]
    return _greedy(detections, dist, MAX_MATCH_DISTANCE)


def _greedy(
    detections: Sequence[Detection], cost: np.ndarray, max_cost: float
) -> list[Detection | None]:
    """(P, D) cost of each person with each detection -> each person's detection, cheapest
    pairs first, one to one, none above ``max_cost``."""
    matched: list[Detection | None] = [None] * cost.shape[0]
    used: set[int] = set()
    for flat in np.argsort(cost, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, cost.shape)
        if cost[i, j] > max_cost:
            break
        if matched[i] is None and j not in used:
            matched[i] = detections[j]
            used.add(int(j))
    return matched


def detection_roi(detection: Detection, margin: float) -> RotatedRoi:
    """The crop the pipeline starts a track with: a box detection's box (continuous px) as
    ``pipeline.crops.crop_transform`` crops it (``box_roi`` of its pixel-centre box, times
    ``margin``); BlazePose's rotated ROI from its keypoints (its own enlargement)."""
    if detection.keypoints is None:
        return box_roi(np.asarray(detection.box, np.float64) - 0.5, margin)
    return detection.roi()


def person_rois(
    people: Sequence[EvalPerson],
    mode: CropMode,
    detections: Sequence[Detection] = (),
    margin: float = DEFAULT_MARGIN,
) -> list[RotatedRoi | None]:
    """The crop region of each person of one image under ``mode`` (None: no crop)."""
    if mode == "gt":
        return [box_roi(p.box, margin) for p in people]
    if mode == "gt-roi":
        return [
            joints_roi(p.keypoints, p.keypoints[:, 2] > 0, enlarge=margin) or box_roi(p.box, margin)
            for p in people
        ]
    if mode == "detector":
        return [
            None if d is None else detection_roi(d, margin)
            for d in match_detections(people, detections)
        ]
    raise ValueError(f"unknown crop mode {mode!r}; choose one of {CROP_MODES}")
