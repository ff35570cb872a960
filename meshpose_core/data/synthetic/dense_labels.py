"""DensePose-style labels on the low-poly mesh for pixels of a rendered high-poly body.

The body is rendered at the high level (its silhouette is the real one) but the network's
dense supervision is a low-poly face and barycentric weights (paper Sec. 3.2). A pixel's high
face and barycentrics give its point on the rest template; that point is expressed in the low
face that the high face lies on (precomputed per high face in the rest pose).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from meshpose_core.topology import Topology


def barycentric_in_triangles(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(N, 3) points, (N, 3, 3) triangles -> (N, 3) barycentrics of the points' projections on
    the triangles' planes, clamped to the triangle and renormalised."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d00 = (v0 * v0).sum(1)
    d01 = (v0 * v1).sum(1)
    d11 = (v1 * v1).sum(1)
    d20 = (v2 * v0).sum(1)
    d21 = (v2 * v1).sum(1)
    den = np.where(np.abs(d00 * d11 - d01 * d01) < 1e-20, 1e-20, d00 * d11 - d01 * d01)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.clip(np.stack([1 - v - w, v, w], axis=1), 0, None)
    return bary / np.maximum(bary.sum(1, keepdims=True), 1e-12)


@dataclass(frozen=True, eq=False)
class HighToLow:
    """Per high face, the low face it lies on; and both rest templates."""

    high: Topology
    low: Topology
    low_face_of_high_face: np.ndarray  # (F_high,) int64

    @classmethod
    def build(cls) -> HighToLow:
        high, low = Topology.load("high"), Topology.load("low")
        # nearest low face by centroid, among the 8 nearest by centroid the one whose plane
        # is closest: cheap and exact enough for faces ~20x smaller than the low ones
        hc = high.vertices[high.faces].mean(1)
        low_tri = low.vertices[low.faces]
        _, cand = cKDTree(low_tri.mean(1)).query(hc, k=8)
        best = np.empty(len(hc), np.int64)
        dist = np.full(len(hc), np.inf)
        for j in range(cand.shape[1]):
            tri = low_tri[cand[:, j]]
            bary = barycentric_in_triangles(hc, tri)
            d = np.linalg.norm(np.einsum("nk,nkd->nd", bary, tri) - hc, axis=1)
            better = d < dist
            best[better], dist[better] = cand[better, j], d[better]
        return cls(high, low, best)

    def label(self, high_face: np.ndarray, high_bary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N,) high faces, (N, 3) barycentrics -> (N,) low faces, (N, 3) low barycentrics."""
        rest = np.einsum("nk,nkd->nd", high_bary, self.high.vertices[self.high.faces[high_face]])
        low_face = self.low_face_of_high_face[high_face]
        return low_face, barycentric_in_triangles(rest, self.low.vertices[self.low.faces[low_face]])
