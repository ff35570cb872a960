"""Person crops: image -> network input and network output -> image pixels.

Coordinates here follow the network's convention in both spaces: the top-left pixel's centre
is (0, 0) (OpenCV's too, so ``cv2.warpAffine`` takes the matrices unchanged). The crop
convention is training's and evaluation's, one module (``data/real/crop.py``: ``box_roi``,
``crop_affine``): a square of side ``margin`` x the box's longer side, centred on the box,
turned by the body's tilt. What differs is only the box the margin is applied to: training
crops the person's tight box (joints / mask extent) x 1.25, the pipeline a tracker box, the
mesh's extent x ``TrackerConfig.mesh_box_scale`` 1.1 (YOLOX's box squared, itself ~1.1x,
BlazePose's full-body circle, measured 1.08-1.28x the landmark extent), x 1.25: the body
spans ~0.73 of the crop, inside the 0.6-1.05 range the network is trained on (scale
augmentation). The shipped weights were measured with that framing, so it is kept.

Crops follow the body: a track's crop is upright while its body is within
``rotate_above_deg`` of upright (the network is trained with +-30 degrees of rotation) and
turned by the body's tilt (hips -> shoulders of its previous mesh) beyond that, as
BlazePose's landmarks -> ROI step turns its crops; the side then grows by the ratio of the
body's extent along its own axes to its extent along the image's (``upright_extent_ratio``),
so a diagonal body still fits. All people of a frame are warped into one (B, H, W, 3) batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from meshpose_core.data.real.crop import CropParams, box_roi, crop_affine

# COCO-17 joints used for the body's axis
_SHOULDERS, _HIPS = (5, 6), (11, 12)


@dataclass(frozen=True)
class CropConfig:
    margin: float = 1.25  # crop side / box side
    border_value: int = 0  # fill outside the frame (black, as MediaPipe pads)
    # turn a track's crop with its body beyond this tilt (degrees; 180: never turn)
    rotate_above_deg: float = 30.0


def crop_transform(
    box: np.ndarray, margin: float, input_size: tuple[int, int], rotation: float = 0.0
) -> np.ndarray:
    """(4,) box (x0, y0, x1, y1) image px -> (2, 3) affine image px -> crop px.

    The region is ``data.real.crop.box_roi`` of the box: centred on it, its side ``margin``
    times the box's longer side (at least 8 px), turned by ``rotation`` (radians, a
    ``RotatedRoi``'s: the crop's up points along (sin r, -cos r) in the image), spanning the
    longer side of ``input_size`` (h, w). Boxes are continuous (the frame spans [0, W] x
    [0, H]), as the detector and tracker give them.
    """
    params = CropParams(rotation_deg=math.degrees(rotation))
    pixel_centre_box = np.asarray(box, np.float64) - 0.5  # box_roi takes pixel centres
    return crop_affine(box_roi(pixel_centre_box, margin, params), input_size)


def body_tilt(keypoints: np.ndarray) -> float:
    """(17, C) COCO keypoints, x, y image px first -> the ROI rotation (radians, in
    [-pi, pi)) that turns the hips -> shoulders direction straight up; 0 for a degenerate
    body."""
    kp = np.asarray(keypoints, np.float64)
    dx, dy = kp[list(_SHOULDERS), :2].mean(0) - kp[list(_HIPS), :2].mean(0)
    if math.hypot(dx, dy) < 1e-6:
        return 0.0
    angle = math.pi / 2 - math.atan2(-dy, dx)  # as detection.roi.roi_from_keypoints
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def upright_extent_ratio(points: np.ndarray, rotation: float) -> float:
    """(N, 2) image points -> longest side of their box in the frame turned by ``rotation``
    (the body's own axes) / longest side of their image-axis box (1.0 when rotation is 0)."""
    p = np.asarray(points, np.float64)[:, :2]
    c, s = math.cos(rotation), math.sin(rotation)
    turned = p @ np.array([[c, -s], [s, c]])  # image -> crop axes (inverse rotation)
    axis = float(np.ptp(p, axis=0).max())
    return float(np.ptp(turned, axis=0).max()) / axis if axis > 0 else 1.0


def follow_body(
    keypoints: np.ndarray, points: np.ndarray, rotate_above_deg: float
) -> tuple[float, float]:
    """The next crop's (rotation radians, side factor) from a body's mesh, ``keypoints``
    (17, C) and ``points`` (N, 2) image px: no turn while the body is within
    ``rotate_above_deg`` of upright; else its tilt and ``upright_extent_ratio``."""
    rotation = body_tilt(keypoints)
    if abs(rotation) < math.radians(rotate_above_deg):
        return 0.0, 1.0
    return rotation, upright_extent_ratio(points, rotation)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """(..., 2, 3) affine -> its inverse (..., 2, 3)."""
    lin = np.linalg.inv(m[..., :2])
    return np.concatenate([lin, -(lin @ m[..., 2:])], axis=-1)


def warp_crops(
    image: np.ndarray,
    transforms: np.ndarray,
    input_size: tuple[int, int],
    border_value: int = 0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """(H, W, 3) uint8 frame, (B, 2, 3) image->crop affines -> (B, h, w, 3) uint8 crops.

    ``out`` (at least B crops of that size) is reused to avoid an allocation per frame.
    """
    h, w = input_size
    b = len(transforms)
    if out is None or len(out) < b or out.shape[1:] != (h, w, 3):
        out = np.empty((b, h, w, 3), np.uint8)
    for i, m in enumerate(transforms):
        cv2.warpAffine(
            image,
            m.astype(np.float32),
            (w, h),
            dst=out[i],
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(border_value,) * 3,
        )
    return out[:b]


def to_image_px(points: np.ndarray, crop_to_image: np.ndarray, has_depth: bool) -> np.ndarray:
    """Crop-px points -> image px: (B, N, 3) float32 with (B, 2, 3) crop->image affines.

    x, y go through the affine; with ``has_depth`` column 2 (relative depth in crop px) is
    multiplied by the same scale so it stays in pixels of the image, else (scores) copied.
    """
    # cv2.transform: one pass per crop through a (3, 4) matrix, in double precision: ~3 us
    # for a 6890-vertex mesh where numpy's (N, 3) matrix product and broadcast offset take ~50
    points = np.asarray(points, np.float32)
    out = np.empty(points.shape, np.float32)
    for i, m in enumerate(np.asarray(crop_to_image, np.float64)):
        affine = np.zeros((3, 4))
        affine[:2, :2], affine[:2, 3] = m[:, :2], m[:, 2]
        affine[2, 2] = math.sqrt(abs(np.linalg.det(m[:, :2]))) if has_depth else 1.0
        rows = np.ascontiguousarray(points[i]).reshape(-1, 1, 3)
        out[i] = cv2.transform(rows, affine).reshape(-1, 3)
    return out
