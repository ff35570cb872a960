"""Mesh integrity: is a predicted body mesh a body, or has a vertex flown off?

A spike (a vertex far from its neighbours) or a mesh stretched between two people shows as
edges far longer than the same edges of the template at the person's scale. The scale is
the median ratio of predicted to template edge length, so the statistic needs no camera and
is the same in crop or image pixels.
"""

from __future__ import annotations

import numpy as np

# An edge this many times its template length (at the person's scale) breaks the mesh: a
# stretched limb in perspective reaches about 2.5 (measured on held-out synthetic bodies).
BROKEN_EDGE_RATIO = 4.0


def edge_stretch(vertices: np.ndarray, template: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(B, V, D>=2) predicted vertices (x, y used), (V, 3) rest template (metres), (E, 2)
    edges -> (B,) the longest edge's length over its template length, divided by the median
    of that ratio over all edges (the person's scale). 1 for a uniformly scaled template;
    inf for a mesh with a non-finite vertex."""
    v = np.asarray(vertices, np.float64)[..., :2]
    pred = np.linalg.norm(v[:, edges[:, 0]] - v[:, edges[:, 1]], axis=-1)  # (B, E)
    rest_3d = np.linalg.norm(template[edges[:, 0]] - template[edges[:, 1]], axis=-1)
    ratio = pred / np.maximum(rest_3d, 1e-9)
    out = np.full(len(v), np.inf)
    finite = np.isfinite(ratio).all(1)
    if finite.any():
        r = ratio[finite]
        out[finite] = r.max(1) / np.maximum(np.median(r, axis=1), 1e-9)
    return out


def is_broken(stretch: np.ndarray, threshold: float = BROKEN_EDGE_RATIO) -> np.ndarray:
    """(B,) ``edge_stretch`` -> (B,) bool: a mesh the pipeline must not draw."""
    return ~(np.asarray(stretch) <= threshold)
