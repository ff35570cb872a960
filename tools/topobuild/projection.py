"""Closest-point projection onto a triangle mesh, with barycentric coordinates."""

from __future__ import annotations

import numpy as np


def barycentric(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(N, 3) points and (N, 3, 3) triangles -> (N, 3) barycentric coordinates of the points'
    projections on the triangles' planes (clamped into the triangle, renormalised)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d00 = (v0 * v0).sum(1)
    d01 = (v0 * v1).sum(1)
    d11 = (v1 * v1).sum(1)
    d20 = (v2 * v0).sum(1)
    d21 = (v2 * v1).sum(1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) < 1e-30, 1e-30, den)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.stack([1 - v - w, v, w], axis=1)
    bary = np.clip(bary, 0, None)
    return bary / bary.sum(1, keepdims=True)


def project(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray):
    """Closest point of each query on the mesh: (face index (N,), barycentric (N, 3), distance)."""
    import gpytoolbox

    sq, face, _ = gpytoolbox.squared_distance(
        points.astype(np.float64),
        vertices.astype(np.float64),
        faces.astype(np.int32),
        use_cpp=True,
    )
    face = np.asarray(face, np.int64)
    bary = barycentric(points.astype(np.float64), vertices[faces[face]].astype(np.float64))
    return face, bary, np.sqrt(sq)


def project_restricted(points, vertices, faces, allowed_faces: np.ndarray):
    """Like `project` but onto the sub-mesh of `allowed_faces` (indices into faces)."""
    face, bary, dist = project(points, vertices, faces[allowed_faces])
    return allowed_faces[face], bary, dist
