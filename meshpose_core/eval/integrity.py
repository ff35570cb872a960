"""Mesh integrity: is a predicted body mesh a body, or has a vertex flown off?

A spike (a vertex far from its neighbours) or a mesh stretched between two people shows as
edges far longer than the same edges of the template at the person's scale. The scale is the
mesh's RMS spread about its centroid over the template's (a median edge ratio is not robust:
a collapsed mesh has mostly zero-length edges), so the statistic needs no camera and is the
same in crop or image pixels.
"""

from __future__ import annotations

import numpy as np

# An edge this many times its template length (at the person's scale) breaks the mesh: a
# stretched limb in perspective reaches about 2.5 (measured on held-out synthetic bodies).
BROKEN_EDGE_RATIO = 4.0


def edge_stretch(vertices: np.ndarray, template: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(B, V, D>=2) predicted vertices (x, y used), (V, 3) rest template (metres), (E, 2)
    edges -> (B,) the longest edge's length over its template length at the person's scale
    (RMS spread of the mesh in the image over the template's in 3D). About 1 to 2 for a
    body seen from any side; inf for a mesh with a non-finite vertex."""
    v = np.asarray(vertices, np.float64)[..., :2]
    pred = np.linalg.norm(v[:, edges[:, 0]] - v[:, edges[:, 1]], axis=-1)  # (B, E)
    rest = np.linalg.norm(template[edges[:, 0]] - template[edges[:, 1]], axis=-1)
    # the template has a few (near) zero-length edges; floor them at a fifth of a typical edge
    rest = np.maximum(rest, 0.2 * np.median(rest))
    spread = np.sqrt(((v - v.mean(1, keepdims=True)) ** 2).sum(-1).mean(1))  # (B,) px
    rest_spread = np.sqrt(((template - template.mean(0)) ** 2).sum(-1).mean())  # metres
    scale = spread / rest_spread  # px per metre
    out = np.full(len(v), np.inf)
    finite = np.isfinite(pred).all(1) & (scale > 0)
    if finite.any():
        ratio = pred[finite] / np.maximum(rest, 1e-9) / scale[finite, None]
        out[finite] = ratio.max(1)
    return out


def is_broken(stretch: np.ndarray, threshold: float = BROKEN_EDGE_RATIO) -> np.ndarray:
    """(B,) ``edge_stretch`` -> (B,) bool: a mesh the pipeline must not draw."""
    return ~(np.asarray(stretch) <= threshold)
