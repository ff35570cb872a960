"""Garments painted in numpy from any rasterizer's fragments: the reference that the compiled
painters (``gl_paint``, ``cpu_paint``) are tested against (``TryOnConfig.shader_paint=False``).

Per group: every body (front faces), mesh garment and occluder through one
``Rasterizer.rasterize``, then per covered pixel of a mesh that carries paint a texture
sample at the interpolated UV (premultiplied "over", later textures on top), Lambert +
ambient shading with the interpolated normal, and the alpha faded by the interpolated
visibility.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..render import Fragments, Mesh, Rasterizer
from .paint_mesh import GarmentShading
from .posing import PosedPerson, TryOnPerson
from .texture import Texture


@dataclass(frozen=True, eq=False)
class PaintItem:
    """A rasterised mesh that carries paint.

    uv_table (F, 8): per face u0 u1 u2 v0 v1 v2 (2 pad); vertex_table (V, 4): per vertex
    normal and visibility; painted (F,) bool faces that carry paint (None: all); drawn:
    the face indices that were rasterised when not all (face_id indexes into it). 8- and
    4-wide rows make the per-pixel gathers take numpy's fast path.
    """

    textures: tuple[Texture, ...]
    uv_table: np.ndarray
    faces: np.ndarray
    vertex_table: np.ndarray
    pixels_per_metre: float
    painted: np.ndarray | None = None
    drawn: np.ndarray | None = None


def uv_table(corner_uv: np.ndarray) -> np.ndarray:
    """(F, 3, 2) corner UVs -> (F, 8) float32 rows u0 u1 u2 v0 v1 v2 0 0."""
    table = np.zeros((len(corner_uv), 8), np.float32)
    table[:, :3] = corner_uv[..., 0]
    table[:, 3:6] = corner_uv[..., 1]
    return table


def vertex_table(normals: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(V, 3) normals and (V,) visibility -> (V, 4) float32 rows."""
    return np.concatenate([normals, visibility[:, None]], axis=1).astype(np.float32)


class NumpyGarmentPainter:
    """Paints groups of posed people from a rasterizer's fragments (see the module
    docstring); faces (F, 3) and atlas_uv (F, 8) (``uv_table``): the body's topology and
    atlas UVs."""

    def __init__(self, shading: GarmentShading, faces: np.ndarray, atlas_uv: np.ndarray) -> None:
        self._shading = shading
        self._faces = faces
        self._atlas_uv = atlas_uv

    def _scene(
        self,
        people: Sequence[TryOnPerson],
        posed: Sequence[PosedPerson],
        origin: tuple[int, int],
        occluders: Sequence[Mesh],
    ) -> tuple[list[Mesh], list[PaintItem | None]]:
        """Meshes to rasterise (bodies, garments, occluders) and what each one paints."""
        shift = np.float32([-origin[1], -origin[0]])
        meshes, items = [], []

        def add(verts: np.ndarray, faces: np.ndarray, order: tuple[float, float]) -> None:
            v = np.array(verts, np.float32, copy=True)
            v[:, :2] += shift
            v[:, 2] = v[:, 2] * order[0] + order[1]
            meshes.append((v, faces))

        for person, p in zip(people, posed, strict=True):
            front = p.front()
            add(p.vertices, self._faces[front], person.depth_order)
            if not p.textures:
                items.append(None)  # an occluder only
                continue
            textures = tuple(t.texture for t in p.textures)
            table = vertex_table(p.normals, p.visibility)
            painted = p.painted_faces()
            items.append(
                PaintItem(textures, self._atlas_uv, self._faces, table, p.scale, painted, front)
            )
        for person, p in zip(people, posed, strict=True):
            for g, gv, gn, vis in p.meshes:
                add(gv, g.faces, person.depth_order)
                table = vertex_table(gn, vis)
                items.append(
                    PaintItem((g.texture,), uv_table(g.corner_uv), g.faces, table, p.scale)
                )
        for verts, faces in occluders:
            v = np.array(verts, np.float32, copy=True)
            v[:, :2] += 0.5
            add(v, np.asarray(faces), (1.0, 0.0))
            items.append(None)
        return meshes, items

    def _paint(
        self, item: PaintItem, face: np.ndarray, bary: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Premultiplied RGB (N, 3) in 0..255 and alpha (N,) of one item's pixels at faces
        ``face`` (N,) with barycentrics ``bary`` (3, N)."""
        g = np.take(item.uv_table, face, axis=0).T  # (8, N)
        uv = np.stack([(g[0:3] * bary).sum(axis=0), (g[3:6] * bary).sum(axis=0)], axis=1)
        rgba = None
        for tex in item.textures:  # premultiplied "over", later textures on top
            s = tex.sample(uv, tex.level_for(item.pixels_per_metre))
            rgba = s if rgba is None else s + rgba * (1.0 - s[:, 3:4])
        corners = np.take(item.faces, face, axis=0).T.reshape(-1)  # corner-major (3N,)
        a = np.take(item.vertex_table, corners, axis=0).T.reshape(4, 3, -1)
        attr = (a * bary).sum(axis=1)  # (4, N): normal, visibility
        n = attr[:3]
        sh = self._shading
        cos = (sh.light @ n) / np.maximum(np.sqrt((n * n).sum(axis=0)), 1e-12)
        shade = np.minimum(sh.ambient + sh.diffuse * np.maximum(cos, 0.0), 1.0)
        lo, hi = sh.ramp
        fade = np.clip((attr[3] - lo) / max(hi - lo, 1e-6), 0.0, 1.0) * sh.opacity
        alpha = rgba[:, 3] * fade
        color = rgba[:, :3] * (fade * shade * 255.0)[:, None]
        return color, alpha

    def draw(
        self,
        rasterizer: Rasterizer,
        frags: Fragments,
        people: Sequence[TryOnPerson],
        posed: Sequence[PosedPerson],
        origin: tuple[int, int],
        occluders: Sequence[Mesh],
    ) -> np.ndarray:
        """Rasterise and paint one group over the rectangle of ``frags``' size whose top-left
        pixel is ``origin`` (row, col) of the frame -> (h, w, 4) uint8 premultiplied RGBA."""
        meshes, items = self._scene(people, posed, origin, occluders)
        bh, bw = frags.height, frags.width
        frags = rasterizer.rasterize(meshes, bw, bh, out=frags)
        ids = frags.mesh_id.reshape(-1)
        fg = np.flatnonzero(ids >= 0)
        fg_ids = ids[fg]
        fg_face = frags.face_id.reshape(-1)[fg]
        bary = frags.bary.reshape(-1, 3)
        rgba = np.zeros((bh * bw, 4), np.float32)
        for m, item in enumerate(items):
            if item is None:
                continue
            sel = np.flatnonzero(fg_ids == m)
            face = fg_face[sel] if item.drawn is None else item.drawn[fg_face[sel]]
            if item.painted is not None:
                keep = item.painted[face]
                sel, face = sel[keep], face[keep]
            pix = fg[sel]
            if len(pix):
                b = np.take(bary, pix, axis=0).T
                rgba[pix, :3], rgba[pix, 3] = self._paint(item, face, b)
        rgba[:, 3] *= 255.0
        return np.clip(rgba + 0.5, 0, 255).astype(np.uint8).reshape(bh, bw, 4)
