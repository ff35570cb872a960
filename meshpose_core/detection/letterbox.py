"""Aspect-preserving fit of a frame into a square model input, and the way back.

The pose detector was trained on MediaPipe's ``keep_aspect_ratio`` inputs: the frame scaled
to fit and centred on a zero border. Outputs are then in that square's coordinates and must
be mapped back to frame pixels by undoing exactly the same scale and offset.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Letterbox:
    """Placement of the frame inside the square input: ``input_px = image_px * scale + pad``."""

    size: int  # side of the square input, px
    scale: tuple[float, float]  # (x, y) input px per image px
    pad: tuple[float, float]  # (x, y) offset of the frame's corner in the input, px

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) points normalised to the square input to frame pixels."""
        scale = np.asarray(self.scale, dtype=np.float32)
        pad = np.asarray(self.pad, dtype=np.float32)
        return (points * self.size - pad) / scale


def letterbox(
    image: np.ndarray, size: int, fill: int = 0, centred: bool = True
) -> tuple[np.ndarray, Letterbox]:
    """Fit an (H, W, C) image into a (size, size, C) canvas of ``fill``, centred (MediaPipe's
    detector) or at the top-left corner (``centred=False``: YOLOX pads bottom/right with 114).

    Downscaling uses area averaging (less aliasing on large frames than the bilinear warp
    MediaPipe uses; the detector is insensitive to the difference).
    """
    height, width = image.shape[:2]
    ratio = size / max(height, width)
    new_w = max(1, min(size, round(width * ratio)))
    new_h = max(1, min(size, round(height * ratio)))
    interp = cv2.INTER_AREA if ratio < 1 else cv2.INTER_LINEAR
    source, remaining = image, ratio
    while remaining < 0.5 and source.shape[0] % 2 == 0 and source.shape[1] % 2 == 0:
        # halving is OpenCV's fast integer path of the same area averaging (640 x 480 to
        # 224 px: 0.4 ms instead of 0.8 ms, within 0.2 grey levels of one direct resize)
        half = (source.shape[1] // 2, source.shape[0] // 2)
        source = cv2.resize(source, half, interpolation=cv2.INTER_AREA)
        remaining *= 2
    resized = cv2.resize(source, (new_w, new_h), interpolation=interp)
    pad_x, pad_y = ((size - new_w) // 2, (size - new_h) // 2) if centred else (0, 0)
    canvas = np.full((size, size, *image.shape[2:]), fill, dtype=image.dtype)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized.reshape(
        new_h, new_w, *image.shape[2:]
    )
    placement = Letterbox(
        size=size, scale=(new_w / width, new_h / height), pad=(float(pad_x), float(pad_y))
    )
    return canvas, placement
