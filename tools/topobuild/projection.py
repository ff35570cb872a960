"""Closest-point projection onto a triangle mesh, with barycentric coordinates."""

from __future__ import annotations

import numpy as np

from meshpose_core.data.synthetic.dense_labels import barycentric_in_triangles

# one barycentric projection for the build and the data engine
barycentric = barycentric_in_triangles


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
