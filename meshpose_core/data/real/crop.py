"""Square person crops and the point/mask transforms that keep labels aligned with them.

This is the one crop convention of training (``dataset.py``), evaluation (``eval/crops.py``)
and the pipeline (``pipeline/crops.py``): a square ROI (``RotatedRoi``) of side margin x the
person box's longer side, centred on the box, turned by a rotation.

Two pixel conventions meet here. Labels and network outputs use pixel centres at integers
(top-left pixel centre = (0, 0)); ``RotatedRoi`` and its affines use continuous coordinates
(pixel i spans [i, i + 1)). Every function names the convention it takes and returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from meshpose_core.detection import RotatedRoi, roi_from_keypoints

from .joints import flip_joint_order


@dataclass(frozen=True)
class CropParams:
    """One crop's augmentation, chosen by the caller. scale > 1 zooms out (more context);
    rotation_deg turns the person counter-clockwise in the crop; shift moves the crop centre
    by fractions of its side (x, y); flip mirrors the crop (and swaps left/right joints)."""

    scale: float = 1.0
    rotation_deg: float = 0.0
    shift: tuple[float, float] = (0.0, 0.0)
    flip: bool = False


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) affine applied to (..., 2) points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def to_pixel_centre_affine(matrix: np.ndarray) -> np.ndarray:
    """A (2, 3) affine between continuous coordinates -> the same map between pixel-centre
    coordinates (p_pc = p_cont - 0.5 on both sides), e.g. for ``cv2.warpAffine``."""
    linear = matrix[:, :2]
    offset = matrix[:, 2] + linear @ np.array([0.5, 0.5]) - 0.5
    return np.concatenate([linear, offset[:, None]], axis=1)


def image_to_crop_points(roi: RotatedRoi, size: int, points: np.ndarray) -> np.ndarray:
    """(..., 2) image points -> crop points of a size^2 crop of ``roi`` (pixel centres)."""
    return apply_affine(to_pixel_centre_affine(roi.image_to_crop(size)), points)


def crop_to_image_points(roi: RotatedRoi, size: int, points: np.ndarray) -> np.ndarray:
    """(..., 2) crop points of a size^2 crop of ``roi`` -> image points (pixel centres)."""
    return apply_affine(to_pixel_centre_affine(roi.crop_to_image(size)), points)


def box_of_points(points: np.ndarray, valid: np.ndarray) -> np.ndarray | None:
    """(K, 2) points, (K,) bool -> (4,) x0, y0, x1, y1 of the valid ones, or None if none."""
    if not np.any(valid):
        return None
    p = points[valid]
    return np.concatenate([p.min(0), p.max(0)]).astype(np.float64)


def box_roi(box: np.ndarray, margin: float, params: CropParams | None = None) -> RotatedRoi:
    """Square ROI around a (4,) x0, y0, x1, y1 box (pixel centres): side = margin * longest
    box side (at least 8 px) * params.scale, centred on the box (+ shift), turned by rotation
    (a ROI turned by +r, which maps crop axes to image axes, shows the image turned by r
    counter-clockwise on screen).
    """
    p = params or CropParams()
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0, 8.0) * margin * p.scale
    centre = np.array([(x0 + x1) / 2 + 0.5, (y0 + y1) / 2 + 0.5]) + np.asarray(p.shift) * side
    return RotatedRoi(
        center=(float(centre[0]), float(centre[1])),
        size=side,
        rotation=math.radians(p.rotation_deg),
    )


def crop_affine(roi: RotatedRoi, input_size: tuple[int, int]) -> np.ndarray:
    """(2, 3) affine: image -> crop points (pixel centres) of an (h, w) crop of ``roi``.

    The ROI's square spans the crop's longer side, centred; for a square crop this is the
    map ``warp_crop`` and ``image_to_crop_points`` use (the pipeline warps with it, so a
    network input is cut exactly as in training and evaluation).
    """
    h, w = input_size
    side = max(h, w)
    m = to_pixel_centre_affine(roi.image_to_crop(side))
    m[:, 2] += [(w - side) / 2, (h - side) / 2]
    return m


def warp_crop(
    image: np.ndarray,
    roi: RotatedRoi,
    size: int,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """(H, W, C) or (H, W) image -> size^2 crop of ``roi``; outside the image is 0 (black)."""
    return cv2.warpAffine(
        image,
        roi.warp_matrix(size),
        (size, size),
        flags=interpolation,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def flip_crop(
    image: np.ndarray, keypoints: np.ndarray, mask: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mirror a crop: image (S, S, ...), COCO keypoints (17, C) with x, y first (pixel
    centres), optional mask (S, S). x -> S - 1 - x and left/right joints swap places."""
    size = image.shape[1]
    flipped = flip_joint_order(keypoints).copy()
    flipped[:, 0] = size - 1 - flipped[:, 0]
    out_mask = None if mask is None else np.ascontiguousarray(mask[:, ::-1])
    return np.ascontiguousarray(image[:, ::-1]), flipped, out_mask


def resample_crop_mask(
    mask: np.ndarray, mask_roi: RotatedRoi, target_roi: RotatedRoi, size: int
) -> np.ndarray:
    """A mask aligned with one crop (M, M) of ``mask_roi`` -> the size^2 crop of
    ``target_roi`` (bool, bilinear then > 0.5; outside the mask crop is background)."""
    m = mask.shape[0]
    # target crop (continuous) -> image -> mask crop; cv2 wants the inverse map in pixel centres.
    to_image = np.vstack([target_roi.crop_to_image(size), [0.0, 0.0, 1.0]])
    to_mask = np.vstack([mask_roi.image_to_crop(m), [0.0, 0.0, 1.0]])
    inverse = to_pixel_centre_affine((to_mask @ to_image)[:2])
    out = cv2.warpAffine(
        mask.astype(np.float32),
        inverse,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return out > 0.5


def joints_roi(
    keypoints: np.ndarray, valid: np.ndarray, enlarge: float = 1.25, reach: float = 1.1
) -> RotatedRoi | None:
    """MediaPipe-style upright ROI from COCO joints (17, >=2) pixel centres, (17,) bool.

    Centre: hip midpoint (else the joints' box centre); "up": towards the shoulder midpoint
    (else the image's up); radius: ``reach`` times the farthest valid joint from the centre
    (joints stop short of hands, feet and scalp); side: 2 * radius * enlarge. None without
    at least two valid joints.
    """
    if np.count_nonzero(valid) < 2:
        return None
    xy = keypoints[:, :2].astype(np.float64) + 0.5  # continuous, like RotatedRoi
    hips, shoulders = valid[[11, 12]].all(), valid[[5, 6]].all()
    box = box_of_points(xy, valid)
    centre = xy[[11, 12]].mean(0) if hips else (box[:2] + box[2:]) / 2
    up = xy[[5, 6]].mean(0) - centre if hips and shoulders else np.array([0.0, -1.0])
    radius = max(float(np.linalg.norm(xy[valid] - centre, axis=1).max()) * reach, 4.0)
    scale_point = centre + up / max(float(np.linalg.norm(up)), 1e-9) * radius
    return roi_from_keypoints(centre, scale_point, enlarge=enlarge)
