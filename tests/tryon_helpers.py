"""Fixtures and small scenes shared by the try-on tests (test_tryon_*.py): the shipped garments, the
fixture posed bodies, a body seen from the front."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshpose_core.render import create_rasterizer, fit_orthographic, vertex_normals
from meshpose_core.topology import Topology
from meshpose_core.tryon import GarmentLibrary, MeshGarment, TryOnConfig, TryOnLayer, pose_binding

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"
MESH_GARMENTS = ("flared_skirt", "loose_coat", "crossbody_bag")
W, H = 240, 360


@pytest.fixture(scope="module")
def topo() -> Topology:
    return Topology.load("high")


@pytest.fixture(scope="module")
def lib() -> GarmentLibrary:
    return GarmentLibrary()


@pytest.fixture(scope="module")
def posed() -> np.ndarray:
    return np.load(FIXTURES)["high"].astype(np.float64)


@pytest.fixture(scope="module")
def layer(lib: GarmentLibrary):
    with create_rasterizer() as rast:
        cfg = TryOnConfig(soft_edges=False)
        yield TryOnLayer(cfg, rasterizer=rast, topology=lib.topology, atlas=lib.atlas)


def front_view(vertices_m: np.ndarray, yaw: float = 0.0) -> np.ndarray:
    """A body in image px, network pixel convention (centres at integers)."""
    px = fit_orthographic(vertices_m, W, H, margin=0.05, yaw_deg=yaw)
    px[:, :2] -= 0.5
    return px


def alpha_image(layers) -> np.ndarray:
    """(H, W) garment alpha of a frame from its layers."""
    out = np.zeros((H, W), np.float32)
    for layer in layers:
        r0, r1, c0, c1 = layer.rect
        out[r0:r1, c0:c1] = layer.alpha
    return out


def pose64(g: MeshGarment, body: np.ndarray, faces: np.ndarray, scale: float) -> np.ndarray:
    normals = vertex_normals(body, faces).astype(np.float64)
    return pose_binding(g.binding, body, faces, scale, normals)[0]


def box(centre: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned box mesh (8 vertices, 12 triangles)."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))]
    return (centre + corners * half).astype(np.float32), np.array(faces, np.int32)
