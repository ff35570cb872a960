"""Topological checks of triangle meshes (pure numpy), shared by the build script and tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class MeshReport:
    """What a closed body mesh must satisfy: every edge in exactly two faces, used once in
    each direction (consistent orientation), single-fan vertex links, one component, and
    Euler characteristic 2 (genus 0)."""

    num_vertices: int
    num_faces: int
    boundary_edges: int
    nonmanifold_edges: int
    inconsistent_edges: int
    nonmanifold_vertices: int
    unreferenced_vertices: int
    components: int
    euler: int

    @property
    def watertight(self) -> bool:
        return self.boundary_edges == 0 and self.nonmanifold_edges == 0

    @property
    def manifold(self) -> bool:
        return (
            self.nonmanifold_edges == 0
            and self.nonmanifold_vertices == 0
            and self.inconsistent_edges == 0
            and self.unreferenced_vertices == 0
        )

    @property
    def genus(self) -> float:
        return (2 * self.components - self.euler) / 2

    @property
    def ok(self) -> bool:
        return self.watertight and self.manifold and self.components == 1 and self.euler == 2


def _vertex_fan_counts(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """Number of connected fans of faces around each vertex (1 for a manifold vertex)."""
    f = faces.astype(np.int64)
    nf = len(f)
    # For each corner (face, vertex), link to the faces sharing the edge (vertex, next) and
    # (prev, vertex) around that vertex; count components of the corner graph per vertex.
    corner_v = f.reshape(-1)
    corner_face = np.repeat(np.arange(nf), 3)
    nxt = f[:, [1, 2, 0]].reshape(-1)
    prv = f[:, [2, 0, 1]].reshape(-1)
    # Key: (vertex, other endpoint) -> corner ids
    keys_out = corner_v * num_vertices + nxt
    keys_in = corner_v * num_vertices + prv
    order_out = np.argsort(keys_out)
    sorted_out = keys_out[order_out]
    pos = np.searchsorted(sorted_out, keys_in)
    pos = np.clip(pos, 0, len(sorted_out) - 1)
    match = sorted_out[pos] == keys_in
    a = np.nonzero(match)[0]
    b = order_out[pos[match]]
    n = len(corner_v)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    del corner_face
    comps_per_vertex = np.zeros(num_vertices, np.int64)
    uniq = np.unique(np.stack([corner_v, labels], axis=1), axis=0)
    np.add.at(comps_per_vertex, uniq[:, 0], 1)
    return comps_per_vertex


def check_mesh(faces: np.ndarray, num_vertices: int) -> MeshReport:
    """Report watertightness, manifoldness, orientation and Euler characteristic of ``faces``
    (F, 3)."""
    f = faces.astype(np.int64)
    directed = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=0)
    und = np.sort(directed, axis=1)
    uniq_und, und_counts = np.unique(und, axis=0, return_counts=True)
    _, dir_counts = np.unique(directed, axis=0, return_counts=True)
    boundary = int((und_counts == 1).sum())
    nonmanifold = int((und_counts > 2).sum())
    inconsistent = int((dir_counts > 1).sum())
    used = np.zeros(num_vertices, bool)
    used[f.reshape(-1)] = True
    fans = _vertex_fan_counts(f, num_vertices)
    adj = coo_matrix(
        (np.ones(len(uniq_und)), (uniq_und[:, 0], uniq_und[:, 1])),
        shape=(num_vertices, num_vertices),
    )
    ncomp, _ = connected_components(adj, directed=False)
    ncomp -= int((~used).sum())
    return MeshReport(
        num_vertices=num_vertices,
        num_faces=len(f),
        boundary_edges=boundary,
        nonmanifold_edges=nonmanifold,
        inconsistent_edges=inconsistent,
        nonmanifold_vertices=int((fans > 1).sum()),
        unreferenced_vertices=int((~used).sum()),
        components=int(ncomp),
        euler=int(num_vertices - len(uniq_und) + len(f)),
    )


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed enclosed volume of vertices (V, 3), faces (F, 3) (units of ``vertices``
    cubed): positive when faces wind counter-clockwise seen from outside."""
    v = vertices[faces].astype(np.float64)
    return float(np.einsum("fi,fi->f", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def uv_signed_areas(corner_uv: np.ndarray) -> np.ndarray:
    """(F, 3, 2) per-corner UVs -> (F,) signed areas (positive = not flipped)."""
    a = corner_uv[:, 1] - corner_uv[:, 0]
    b = corner_uv[:, 2] - corner_uv[:, 0]
    return 0.5 * (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0])
