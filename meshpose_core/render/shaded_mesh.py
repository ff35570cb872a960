"""What the mesh layer's painters draw, and the one interface they share.

A painter takes every person's mesh (one closed topology), draws it in a plain colour with
Lambert shading and the people ordered in depth, and returns the premultiplied RGBA8 picture
of a rectangle of the frame. Two implement it: ``gl_mesh.GLMeshPainter`` (OpenGL; the
choice on a GPU) and ``cpu_mesh.CPUMeshPainter`` (compiled CPU loops; the choice where
OpenGL is a software rasterizer, or absent). ``RenderConfig.mesh_painter`` picks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class ShadedMesh:
    """One person's mesh as a painter draws it: vertices (V, 3) float32 in renderer px
    (pixel centres at +0.5; z relative depth), normals (V, 3) (any length), color (3,) RGB
    0..255, order (a, b) of the depth test's ``z * a + b`` (smaller is nearer)."""

    vertices: np.ndarray
    normals: np.ndarray
    color: tuple[float, float, float]
    order: tuple[float, float] = (1.0, 0.0)


class MeshPainter(Protocol):
    """Draws ``ShadedMesh`` lists of one closed, consistently oriented topology (outside
    clockwise in image coordinates) with back faces culled; ``name`` says which ("gl",
    "cpu")."""

    name: str

    def draw(
        self,
        meshes: Sequence[ShadedMesh],
        width: int,
        height: int,
        origin: tuple[int, int],
        opacity: float = 1.0,
    ) -> np.ndarray:
        """``meshes`` at ``opacity`` over the ``width`` x ``height`` rectangle whose top-left
        pixel is ``origin`` (row, col) of the frame -> (height, width, 4) uint8
        premultiplied RGBA, reused by the next call."""
        ...

    def close(self) -> None: ...


def unit_light(light: Sequence[float]) -> np.ndarray:
    """(3,) float64 unit vector toward the light (a zero vector stays zero)."""
    unit = np.asarray(light, np.float64)
    return unit / max(float(np.linalg.norm(unit)), 1e-12)


def check_vertex_count(meshes: Sequence[ShadedMesh], num_vertices: int) -> None:
    """ValueError for a mesh that is not of the painter's topology."""
    for m in meshes:
        if len(m.vertices) != num_vertices:
            raise ValueError(
                f"a mesh of {len(m.vertices)} vertices; the painter draws {num_vertices}"
            )
