"""What the garment painters draw and how they shade it: one ``PaintMesh`` per body, mesh
garment and occluder of a group of people (``gl_paint``, ``cpu_paint``), and the
``GarmentShading`` all three painters (with ``numpy_paint``) apply."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..render import Mesh
from .atlas import BodyAtlas
from .posing import PosedPerson, TryOnPerson
from .texture import Texture


@dataclass(frozen=True, eq=False)
class GarmentShading:
    """How a garment pixel is shaded and faded.

    light: (3,) float32 unit vector toward the light (pixel frame: x right, y down, z away);
    ambient, diffuse: intensity ``ambient + diffuse * max(0, n . l)`` clipped to 1; ramp:
    body visibility below ramp[0] hides a garment, above ramp[1] shows it fully; opacity:
    in [0, 1], over everything.
    """

    light: np.ndarray
    ambient: float
    diffuse: float
    ramp: tuple[float, float]
    opacity: float


@dataclass(frozen=True, eq=False)
class PaintMesh:
    """One mesh of a group, as the painters draw it.

    kind: the object whose static corner buffer this mesh uses (the body atlas, a garment;
    cached by identity, so it must live as long as the painter; None: not cached); faces
    (F, 3) and corner_uv (F, 3, 2): its topology and UVs (read once per ``kind``); vertices
    (V, 3) float32 in renderer px (pixel centres at +0.5), normals (V, 3), visibility (V,);
    order: (a, b) of the depth test's ``z * a + b``; textures: (texture, mip level) painted
    in order; painted: per texture, (F,) bool faces it paints (the others are not sampled:
    a face across an atlas seam from a print must not pick up its gutter), None = every
    face; cull: draw front faces only (closed bodies).
    """

    kind: object | None
    faces: np.ndarray
    corner_uv: np.ndarray
    vertices: np.ndarray
    normals: np.ndarray
    visibility: np.ndarray
    order: tuple[float, float] = (1.0, 0.0)
    textures: tuple[tuple[Texture, int], ...] = ()
    painted: tuple[np.ndarray, ...] | None = None
    cull: bool = False


def paint_meshes(
    people: Sequence[TryOnPerson],
    posed: Sequence[PosedPerson],
    occluders: Sequence[Mesh],
    atlas: BodyAtlas,
    faces: np.ndarray,
) -> list[PaintMesh]:
    """What the painters draw for one group: bodies first (``faces``, UVs of ``atlas``),
    then garments, then occluders (vertices (V, 3) image px, network convention)."""
    meshes = []
    for person, p in zip(people, posed, strict=True):
        textures = tuple((t.texture, t.texture.level_for(p.scale)) for t in p.textures)
        painted = tuple(t.faces for t in p.textures) or None
        meshes.append(
            PaintMesh(
                kind=atlas,
                faces=faces,
                corner_uv=atlas.corner_uv,
                vertices=p.vertices,
                normals=p.normals,
                visibility=p.visibility,
                order=person.depth_order,
                textures=textures,
                painted=painted,
                cull=True,
            )
        )
    for person, p in zip(people, posed, strict=True):
        for g, gv, gn, vis in p.meshes:
            level = g.texture.level_for(p.scale)
            textures = ((g.texture, level),)
            meshes.append(
                PaintMesh(g, g.faces, g.corner_uv, gv, gn, vis, person.depth_order, textures)
            )
    for verts, occluder_faces in occluders:
        v = np.array(verts, np.float32, copy=True)
        v[:, :2] += 0.5
        zeros = np.zeros(len(v), np.float32)
        corner_uv = np.zeros((len(occluder_faces), 3, 2), np.float32)
        meshes.append(PaintMesh(None, np.asarray(occluder_faces), corner_uv, v, v, zeros))
    return meshes
