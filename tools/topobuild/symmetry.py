"""Left/right symmetry maps as involutions."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

MIRROR_X = np.array([-1.0, 1.0, 1.0])


def symmetry_map(vertices: np.ndarray, k: int = 8) -> np.ndarray:
    """(V, 3) rest vertices -> (V,) mirror partner of each vertex, an exact involution.

    Greedy minimum-cost matching of the mirrored point cloud onto itself (a vertex may pair
    with itself on the midline), so sym[sym[i]] == i by construction even where the mesh is
    not exactly symmetric.
    """
    n = len(vertices)
    tree = cKDTree(vertices)
    dist, idx = tree.query(vertices * MIRROR_X, k=min(k, n))
    i = np.repeat(np.arange(n), idx.shape[1])
    j = idx.reshape(-1)
    d = dist.reshape(-1)
    order = np.argsort(d, kind="stable")
    sym = np.full(n, -1, np.int64)
    for a, b in zip(i[order], j[order], strict=True):
        if sym[a] < 0 and sym[b] < 0:
            sym[a], sym[b] = b, a
    left = np.nonzero(sym < 0)[0]
    if len(left):
        # the few leftovers: optimal assignment among themselves, made symmetric
        cost = np.linalg.norm((vertices[left] * MIRROR_X)[:, None] - vertices[left][None], axis=2)
        r, c = linear_sum_assignment(cost + cost.T)
        for a, b in zip(left[r], left[c], strict=True):
            if sym[a] < 0 and sym[b] < 0:
                sym[a], sym[b] = b, a
        sym[sym < 0] = np.nonzero(sym < 0)[0]
    return sym
