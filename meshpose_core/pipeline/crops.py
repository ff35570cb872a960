"""Person crops: image -> network input and network output -> image pixels.

Coordinates here follow the network's convention in both spaces: the top-left pixel's centre
is (0, 0) (OpenCV's too, so ``cv2.warpAffine`` takes the matrices unchanged). A crop is an
axis-aligned square around a track's box, enlarged by ``margin``: the detector's box bounds
the body, and 1.25 (MediaPipe's ROI enlargement) makes the body span ~0.8 of the crop, the
middle of the 0.6-1.05 range the network is trained on. All people of a frame are warped
into one (B, H, W, 3) batch so the network runs once per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropConfig:
    margin: float = 1.25  # crop side / box side
    border_value: int = 0  # fill outside the frame (black, as MediaPipe pads)


def crop_transform(box: np.ndarray, margin: float, input_size: tuple[int, int]) -> np.ndarray:
    """(4,) box (x0, y0, x1, y1) image px -> (2, 3) affine image px -> crop px.

    The region is centred on the box; its longer side is ``margin`` times the box's longer
    side, its aspect that of ``input_size`` (h, w), so the scale is the same on both axes.
    Boxes are continuous (the frame spans [0, W] x [0, H]), as the detector gives them.
    """
    h, w = input_size
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0, 1.0) * margin
    k = max(h, w) / side  # crop px per image px
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    # pixel centres at integers: crop + 0.5 = k * (image + 0.5 - region origin)
    tx = w / 2.0 - k * cx + (k - 1.0) / 2.0
    ty = h / 2.0 - k * cy + (k - 1.0) / 2.0
    return np.array([[k, 0.0, tx], [0.0, k, ty]])


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
    """Crop-px points -> image px: (B, N, D) with (B, 2, 3) crop->image affines.

    x, y go through the affine; with ``has_depth`` column 2 (relative depth in crop px) is
    multiplied by the same scale so it stays in pixels of the image; other columns (scores)
    are copied.
    """
    out = np.array(points, dtype=np.float32, copy=True)
    lin_t = crop_to_image[:, :, :2].transpose(0, 2, 1).astype(np.float32)  # (B, 2, 2)
    off = crop_to_image[:, None, :, 2].astype(np.float32)  # (B, 1, 2)
    # rows times the transposed matrix: one (N, 2) x (2, 2) product per crop (~3x faster
    # than N stacked 2 x 2 by 2 x 1 products)
    out[..., :2] = out[..., :2] @ lin_t + off
    if has_depth:
        scale = np.sqrt(np.abs(np.linalg.det(crop_to_image[:, :, :2]))).astype(np.float32)
        out[..., 2] *= scale[:, None]
    return out
