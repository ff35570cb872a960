"""MediaPipe-style rotated square region of interest around one person.

The pose detector's keypoints 0 (hip midpoint) and 1 (full-body scale point) encode a circle
circumscribing the whole body and its tilt. As in MediaPipe's ``pose_detection_to_roi``
graph, the crop is a square centred on the hips, of side twice the radius times 1.25, turned
so that the hip -> scale-point direction becomes "up" in the crop (person upright).

Pixel coordinates here are continuous: the image spans [0, W] x [0, H] (pixel i covers
[i, i + 1)), i.e. MediaPipe's normalised coordinates times the image size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RotatedRoi:
    """Square crop region in image pixels.

    ``rotation`` (radians) turns crop axes into image axes: the crop's up direction (0, -1)
    points along ``(sin r, -cos r)`` in the image (y down); 0 means an upright person.
    """

    center: tuple[float, float]
    size: float
    rotation: float

    def crop_to_image(self, out_size: int) -> np.ndarray:
        """(2, 3) affine taking continuous crop px of an (out_size)^2 crop to image px."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        k = self.size / out_size
        linear = np.array([[c, -s], [s, c]]) * k
        offset = np.asarray(self.center) - linear @ np.array([out_size / 2, out_size / 2])
        return np.concatenate([linear, offset[:, None]], axis=1)

    def image_to_crop(self, out_size: int) -> np.ndarray:
        """(2, 3) affine taking continuous image px to continuous crop px (inverse of above)."""
        fwd = self.crop_to_image(out_size)
        inv_linear = np.linalg.inv(fwd[:, :2])
        return np.concatenate([inv_linear, -(inv_linear @ fwd[:, 2:])], axis=1)

    def warp_matrix(self, out_size: int) -> np.ndarray:
        """(2, 3) float32 matrix for ``cv2.warpAffine(image, M, (out_size, out_size))``.

        OpenCV addresses pixel centres by integers, so half a pixel is shifted on both sides.
        """
        m = self.image_to_crop(out_size)
        half = np.array([0.5, 0.5])
        return np.concatenate([m[:, :2], (m[:, 2] + m[:, :2] @ half - half)[:, None]], 1).astype(
            np.float32
        )

    def corners(self) -> np.ndarray:
        """(4, 2) image px of the crop's top-left, top-right, bottom-right, bottom-left."""
        unit = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
        return unit @ self.crop_to_image(1).T


def normalize_radians(angle: float) -> float:
    """Wrap an angle to [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def roi_from_keypoints(
    center: np.ndarray,
    scale_point: np.ndarray,
    enlarge: float = 1.25,
    target_angle: float = math.pi / 2,
) -> RotatedRoi:
    """MediaPipe's ``AlignmentPointsRectsCalculator`` + ``RectTransformationCalculator``.

    Args:
        center: (2,) image px of the alignment centre (hip midpoint for the full body).
        scale_point: (2,) image px of the point whose distance gives the radius and whose
            direction from the centre should become ``target_angle`` (90 deg: straight up).
        enlarge: side = 2 * radius * enlarge.
    """
    dx, dy = np.asarray(scale_point, dtype=np.float64) - np.asarray(center, dtype=np.float64)
    rotation = normalize_radians(target_angle - math.atan2(-dy, dx))
    side = 2.0 * math.hypot(dx, dy) * enlarge
    return RotatedRoi(center=(float(center[0]), float(center[1])), size=side, rotation=rotation)
