"""The DensePose output over the whole person: mesh fragments spread into the person's mask.

The mesh is the body's surface widened to an outline, but clothes, hair and a mesh a little
off its person leave part of the person uncovered: on the held-out clips' fitted frames the
mesh misses 16 % of the pixels the fits label with a body part. DensePose labels every pixel
of its person mask. The network predicts that mask (the VertexPose head's foreground); the
uncovered pixels inside it take the surface point of the nearest pixel the person's own
mesh covers (its face and barycentrics, so part, U and V), within ``reach``. On those
frames IUV part accuracy went 0.537 -> 0.571 (docs/benchmarks.md). The mesh, visibility
and try-on layers keep the mesh's own outline.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .raster import Fragments


def foreground_masks(
    foregrounds: Sequence[np.ndarray],
    crop_to_image: Sequence[np.ndarray],
    stride: float,
    rect: tuple[int, int, int, int],
    threshold: float = 0.5,
) -> np.ndarray:
    """Each person's crop mask, resampled onto a rectangle of the frame.

    Args:
        foregrounds: P arrays (h, w) of mask probabilities on ``stride`` px cells of each
            person's crop (cell (i, j) centred at crop px ((j + 0.5) stride - 0.5, ...)).
        crop_to_image: P (2, 3) affines, crop px -> image px (pixel centres).
        stride: crop px per cell.
        rect: r0, r1, c0, c1 of the frame.
        threshold: probability above which a pixel is the person's.

    Returns:
        (P, r1 - r0, c1 - c0) bool, bilinear between cell centres, False outside the crop.
    """
    r0, r1, c0, c1 = rect
    out = np.zeros((len(foregrounds), r1 - r0, c1 - c0), bool)
    # rect pixel -> image px -> crop px -> cell
    shift = np.array([[1.0, 0.0, c0], [0.0, 1.0, r0], [0.0, 0.0, 1.0]])
    offset = 0.5 / stride - 0.5
    to_cell = np.array([[1 / stride, 0.0, offset], [0.0, 1 / stride, offset], [0.0, 0.0, 1.0]])
    for k, (fg, affine) in enumerate(zip(foregrounds, crop_to_image, strict=True)):
        to_crop = np.linalg.inv(np.vstack([np.asarray(affine, np.float64), [0.0, 0.0, 1.0]]))
        m = (to_cell @ to_crop @ shift)[:2]
        warped = cv2.warpAffine(
            np.asarray(fg, np.float32), m, (c1 - c0, r1 - r0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
        )  # fmt: skip
        out[k] = warped > threshold
    return out


def filled_fragments(frags: Fragments, masks: np.ndarray, reach: Sequence[float]) -> Fragments:
    """A copy of ``frags`` in which every pixel of person p's mask that no mesh covers
    takes the fragment of the nearest pixel p's mesh covers (at most ``reach[p]`` px away).

    Args:
        frags: (H, W) fragments of the meshes, mesh id p = person p (-1: background).
        masks: (P, H, W) bool, each person's mask on the same pixels (``foreground_masks``).
        reach: (P,) px, how far from its mesh a person's mask is filled.

    Returns:
        New ``Fragments`` (H, W); people are filled in order, each only where neither a mesh
        nor an earlier person's fill is.
    """
    out = Fragments(
        frags.mesh_id.copy(), frags.face_id.copy(), frags.bary.copy(), frags.depth.copy()
    )
    for p, mask in enumerate(masks):
        own = out.mesh_id == p
        todo = mask & (out.mesh_id < 0)
        if not own.any() or not todo.any():
            continue
        rows = np.flatnonzero((own | todo).any(axis=1))
        cols = np.flatnonzero((own | todo).any(axis=0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        window = np.where(own[r0:r1, c0:c1], 0, 255).astype(np.uint8)
        dist, labels = cv2.distanceTransformWithLabels(
            window, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
        )
        # labels number the zero pixels (the mesh's) in raster order, from 1
        sources = np.flatnonzero(window.ravel() == 0)
        take = todo[r0:r1, c0:c1] & (dist <= reach[p])
        ty, tx = np.nonzero(take)
        nearest = sources[labels[ty, tx] - 1]
        sy, sx = nearest // (c1 - c0) + r0, nearest % (c1 - c0) + c0
        ty, tx = ty + r0, tx + c0
        for a in (out.mesh_id, out.face_id, out.bary, out.depth):
            a[ty, tx] = a[sy, sx]
    return out


def fill_to_foregrounds(
    frags: Fragments,
    rect: tuple[int, int, int, int],
    foregrounds: Sequence[np.ndarray | None],
    crop_to_image: Sequence[np.ndarray],
    meshes: Sequence[np.ndarray],
    fraction: float,
    stride: float,
) -> tuple[Fragments, np.ndarray]:
    """What the renderer and the benchmark draw DensePose from: ``frags`` (the people's
    meshes over ``rect`` of the frame, mesh id = person) filled into each person's
    foreground (``foreground_masks``; None: that person is not filled) up to ``fraction``
    of their height in view (the y extent of their mesh, ``meshes`` P arrays (V, >= 2) px,
    within ``rect``'s rows) from their mesh -> (fragments, (P,) reach px). In view: a
    close-up's mesh guesses the body far below the frame, and its whole height made the
    reach hundreds of px, painting any stray foreground beside the head."""
    r0, r1 = rect[0], rect[1]
    heights = [float(np.ptp(np.clip(m[:, 1], r0 - 0.5, r1 - 0.5))) for m in meshes]
    reach = fraction * np.array(heights, np.float64)
    if fraction <= 0 or all(f is None for f in foregrounds):
        return frags, np.zeros(len(foregrounds))
    none = np.zeros((1, 1), np.float32)
    masks = foreground_masks(
        [none if f is None else f for f in foregrounds], crop_to_image, stride, rect
    )
    return filled_fragments(frags, masks, reach), reach
