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
        f = len(self.faces)
        rows = self.faces.reshape(-1)
        cols = np.repeat(np.arange(f), 3)
        self._incidence = sparse.csr_matrix(
            (np.ones(3 * f, np.float32), (rows, cols)), shape=(num_vertices, f)
        )

    def face_normals(self, vertices: np.ndarray) -> np.ndarray:
        """(F, 3) float32 cross products (length = twice the face area)."""
        v = np.asarray(vertices, np.float32)
        a, b, c = (v[self.faces[:, i]] for i in range(3))
        return np.cross(b - a, c - a)

    def __call__(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        face_n = self.face_normals(vertices)
        n = self._incidence @ face_n
        n /= np.maximum(np.sqrt((n * n).sum(axis=1, keepdims=True)), 1e-12)
        return n.astype(np.float32, copy=False), face_n
