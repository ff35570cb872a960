"""Vertex normals (``normals``): facing the camera with negative z; the fixed-topology float32
form agrees with the general one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from render_helpers import front_quad_px

from meshpose_core.render import VertexNormals, vertex_normals
from meshpose_core.topology import Topology

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"


def test_vertex_normals_of_a_front_facing_surface_point_to_the_camera():
    v, f = front_quad_px()
    n = vertex_normals(v, f)
    np.testing.assert_allclose(n, np.tile([0.0, 0.0, -1.0], (4, 1)), atol=1e-6)


def test_fast_normals_match_renderer() -> None:
    topo = Topology.load("high")
    with np.load(FIXTURES) as data:
        v = data["high"][2].astype(np.float32) * 300
    fast, face_n = VertexNormals(topo.faces, topo.num_vertices)(v)
    np.testing.assert_allclose(fast, vertex_normals(v, topo.faces), atol=1e-5)
    tri = v[topo.faces].astype(np.float64)
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    np.testing.assert_allclose(face_n, cross, rtol=1e-4, atol=1e-2)
