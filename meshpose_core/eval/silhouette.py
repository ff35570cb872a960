"""Silhouette agreement: intersection over union of two person masks, and the two masks
compared on real images, both in the frame of one person crop: the ground-truth outline
(COCO polygons, warped into the crop) and a predicted body mesh (rasterised in the crop).

Both are filled by the same rule, a crop pixel belongs to the mask when its centre is inside,
so a perfect prediction scores 1 whatever the crop's size or rotation.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from meshpose_core.detection import RotatedRoi
from meshpose_core.render.raster import Fragments, rasterize

# cv2.fillPoly rounds vertices to whole pixels and fills edges inclusively (half a pixel too
# much all round); filling at this many times the resolution and area-averaging back makes
# the mask "pixel centre inside" to within 1 / (2 * POLYGON_SUPERSAMPLE) px.
POLYGON_SUPERSAMPLE = 4


def silhouette_iou(pred: np.ndarray, target: np.ndarray) -> float:
    """Two (H, W) masks (bool, or probabilities thresholded at 0.5) -> IoU in [0, 1];
    1.0 when both are empty (nothing to disagree on)."""
    if pred.shape != target.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {target.shape}")
    a = pred > 0.5 if pred.dtype != bool else pred
    b = target > 0.5 if target.dtype != bool else target
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def polygon_crop_mask(polygons: Sequence[np.ndarray], roi: RotatedRoi, size: int) -> np.ndarray:
    """Ground-truth outline -> (S, S) bool mask of the S^2 crop of ``roi``, S = ``size``.

    polygons: each (P, 2), P >= 3, image px with pixel centres at integers (COCO's own
    rasterisation, pycocotools, samples polygons at integer points); their union is the mask.
    """
    k = POLYGON_SUPERSAMPLE
    # image continuous -> crop continuous, then into the supersampled crop's pixel centres
    to_crop = roi.image_to_crop(size)
    canvas = np.zeros((size * k, size * k), np.uint8)
    for poly in polygons:
        xy = np.asarray(poly, np.float64).reshape(-1, 2) + 0.5
        fine = (xy @ to_crop[:, :2].T + to_crop[:, 2]) * k - 0.5
        # filled one by one: fillPoly's rule for overlapping contours is not a union
        cv2.fillPoly(canvas, [np.round(fine).astype(np.int32)], 1)
    coverage = cv2.resize(canvas.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return coverage >= 0.5


def mesh_fragments(vertices: np.ndarray, faces: np.ndarray, size: int) -> Fragments:
    """A body mesh in crop px (V, 3), pixel centres at integers, z depth (as ``Prediction``)
    -> its (size, size) fragments by the CPU rasteriser (exact and thread-free; a
    6890-vertex body at 256 px is milliseconds), front faces only, as the pipeline draws
    bodies (a closed body's silhouette is the same either way)."""
    v = np.asarray(vertices, np.float32).copy()
    v[:, :2] += 0.5  # the renderer samples pixel centres at +0.5
    return rasterize([(v, faces)], size, size, cull=True)


def mesh_silhouette(vertices: np.ndarray, faces: np.ndarray, size: int) -> np.ndarray:
    """(V, 3) mesh as ``mesh_fragments`` -> (size, size) bool: pixels whose centre some face
    covers."""
    return mesh_fragments(vertices, faces, size).mask
