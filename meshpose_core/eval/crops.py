"""Which crop each evaluated person gets: the same region for every model under test.

Modes: 'gt' (default) a square, axis-aligned crop around the ground-truth box with a margin
(isolates pose quality from detection); 'gt-roi' an upright, MediaPipe-style ROI from the
ground-truth hips and shoulders (isolates pose quality from in-plane rotation too);
'detector' our BlazePose person detector's rotated ROI for the detection matched to the
person (the full pipeline; an unmatched person scores every joint as a miss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from meshpose_core.data.real.crop import box_roi, joints_roi
from meshpose_core.detection import Detection, RotatedRoi

from .eval_sets import EvalPerson

CropMode = Literal["gt", "gt-roi", "detector"]
CROP_MODES: tuple[str, ...] = ("gt", "gt-roi", "detector")
DEFAULT_MARGIN = 1.25
MAX_MATCH_DISTANCE = 0.5  # x the person's box size


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
    """Greedy one-to-one matching by distance from each detection's centre (hip point, or box
    centre for a box detector) to each person's centre, closest pairs first, within
    MAX_MATCH_DISTANCE x the person's size."""
    if not people or not detections:
        return [None] * len(people)
    centres = np.stack([person_centre(p) for p in people])
    hips = np.stack([d.centre() for d in detections])
    sizes = np.array([max(np.ptp(p.box[[0, 2]]), np.ptp(p.box[[1, 3]]), 1.0) for p in people])
    dist = np.linalg.norm(centres[:, None] - hips[None], axis=-1) / sizes[:, None]
    matched: list[Detection | None] = [None] * len(people)
    used: set[int] = set()
    for flat in np.argsort(dist, axis=None):
        i, j = np.unravel_index(flat, dist.shape)
        if dist[i, j] > MAX_MATCH_DISTANCE:
            break
        if matched[i] is None and j not in used:
            matched[i] = detections[j]
            used.add(int(j))
    return matched


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
        return [None if d is None else d.roi() for d in match_detections(people, detections)]
    raise ValueError(f"unknown crop mode {mode!r}; choose one of {CROP_MODES}")
