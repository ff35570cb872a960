"""What a body fit sees of one person: joints and silhouette in the person's fit frame.

The fit frame is the square, body-aligned crop the teacher's mask was made in (the label's
``mask_roi``, ``FIT_SIZE`` px): the person is upright and of a known scale there, whatever the
photo, so one set of fitting weights serves LSP thumbnails and 720p video alike. Coordinates
are pixel centres at integers (the labels' convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from meshpose_core.data.real.crop import image_to_crop_points
from meshpose_core.data.real.labels import PersonLabels, roi_from_array, unpack_mask

FIT_SIZE = 128
MASK_SAMPLES = 192


@dataclass(frozen=True, eq=False)
class Evidence:
    """A batch of people in their fit frames (N people, F = FIT_SIZE, P = MASK_SAMPLES).

    keypoints (N, 17, 2) fit px; conf (N, 17) in [0, 1]; mask (N, F, F) bool person mask;
    valid (N, F, F) bool: fit-frame pixels inside the image (nothing is known outside it);
    outside_distance (N, F, F) float32: px to the nearest mask pixel (0 on the mask and where
    not valid, so a body part beyond the image edge costs nothing);
    mask_points (N, P, 2) float32: mask pixels drawn at random (fixed seed), fit px;
    size (N,) float32: the person's extent in fit px (sqrt of the mask's bounding-box area),
    the unit of every image-space error.
    """

    keypoints: np.ndarray
    conf: np.ndarray
    mask: np.ndarray
    valid: np.ndarray
    outside_distance: np.ndarray
    mask_points: np.ndarray
    size: np.ndarray

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])


def image_region(roi_row: np.ndarray, image_hw: tuple[int, int], size: int) -> np.ndarray:
    """(4,) mask ROI row, image (H, W) -> (size, size) bool: fit pixels whose centre lies in
    the image."""
    roi = roi_from_array(roi_row)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    m = roi.crop_to_image(size)
    cx, cy = xs + 0.5, ys + 0.5  # continuous crop coordinates of the pixel centres
    ix = m[0, 0] * cx + m[0, 1] * cy + m[0, 2]
    iy = m[1, 0] * cx + m[1, 1] * cy + m[1, 2]
    h, w = image_hw
    return (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)


def person_evidence(
    labels: PersonLabels,
    index: int,
    image_hw: tuple[int, int],
    rng: np.random.Generator,
    size: int = FIT_SIZE,
    samples: int = MASK_SAMPLES,
) -> dict[str, np.ndarray]:
    """One labelled person (with a mask) -> its Evidence fields, unbatched: keypoints (17, 2)
    fit px, mask (F, F) bool, ... (``Evidence`` without the N axis)."""
    if not labels.has_mask[index]:
        raise ValueError("a body fit needs the person's mask")
    roi_row = labels.mask_roi[index]
    stored = unpack_mask(labels.mask[index], math.isqrt(labels.mask.shape[1] * 8))
    mask = cv2.resize(stored.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0
    kp = image_to_crop_points(roi_from_array(roi_row), size, labels.keypoints[index])
    return make_evidence(
        kp,
        labels.keypoint_conf[index],
        mask,
        image_region(roi_row, image_hw, size),
        rng,
        samples,
    )


def make_evidence(
    keypoints: np.ndarray,
    conf: np.ndarray,
    mask: np.ndarray,
    valid: np.ndarray,
    rng: np.random.Generator,
    samples: int = MASK_SAMPLES,
) -> dict[str, np.ndarray]:
    """(17, 2) fit px, (17,), (F, F) bool mask and image region -> unbatched Evidence fields."""
    dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5).astype(np.float32)
    dist[~valid] = 0.0
    ys, xs = np.nonzero(mask)
    if not len(ys):
        raise ValueError("a body fit needs a non-empty mask")
    pick = rng.integers(0, len(ys), samples)
    points = np.stack([xs[pick], ys[pick]], 1).astype(np.float32)
    extent = np.sqrt(max(np.ptp(xs) + 1, 1) * max(np.ptp(ys) + 1, 1))
    return {
        "keypoints": np.asarray(keypoints, np.float32),
        "conf": np.asarray(conf, np.float32),
        "mask": mask,
        "valid": valid,
        "outside_distance": dist,
        "mask_points": points,
        "size": np.float32(extent),
    }


def stack_evidence(people: list[dict[str, np.ndarray]]) -> Evidence:
    """Unbatched fields of ``person_evidence`` -> one Evidence, each field (N, ...)."""
    return Evidence(**{k: np.stack([p[k] for p in people]) for k in people[0]})
