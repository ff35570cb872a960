"""Per-frame vertex normals of a fixed mesh topology, fast.

Same result as ``render.vertex_normals`` (area-weighted, unit length) but float32 and with
the vertex <- face incidence precomputed as a sparse matrix: one sparse product per frame
instead of three bincounts over float64 copies (~0.15 ms instead of ~0.8 ms for the
6890-vertex body on two cores), which matters at one body per person per frame.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


class VertexNormals:
    """``VertexNormals(faces, num_vertices)(vertices)`` -> unit vertex normals (V, 3) and
    face cross products (F, 3) (the latter for back-face tests and areas)."""

    def __init__(self, faces: np.ndarray, num_vertices: int) -> None:
        self.faces = np.ascontiguousarray(faces, np.int64)
        # one contiguous index array per corner: gathers from the (3, V) transpose are ~4x
        # faster than gathering (V, 3) rows
        self._corner = [np.ascontiguousarray(self.faces[:, i]) for i in range(3)]
        f = len(self.faces)
        rows = self.faces.reshape(-1)
        cols = np.repeat(np.arange(f), 3)
        self._incidence = sparse.csr_matrix(
            (np.ones(3 * f, np.float32), (rows, cols)), shape=(num_vertices, f)
        )

    def face_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(F, 3) float32 cross products (length = twice the face area)."""
        vt = np.ascontiguousarray(np.asarray(vertices, np.float32).T)
        a = np.take(vt, self._corner[0], axis=1)
        e1 = np.take(vt, self._corner[1], axis=1) - a
        e2 = np.take(vt, self._corner[2], axis=1) - a
        return np.stack(
            [
                e1[1] * e2[2] - e1[2] * e2[1],
                e1[2] * e2[0] - e1[0] * e2[2],
                e1[0] * e2[1] - e1[1] * e2[0],
            ],
            axis=1,
        )

    def __call__(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        face_n = self.face_normals(vertices)
        n = self._incidence @ face_n
        n /= np.maximum(np.sqrt(np.einsum("ij,ij->i", n, n)), 1e-12)[:, None]
        return n.astype(np.float32, copy=False), face_n
