"""Garments painted by compiled CPU loops (numba): the try-on layer's painter where OpenGL
runs on the CPU (llvmpipe) or not at all; the same contract and picture as
``gl_paint.GLGarmentPainter``.

Bodies (back faces culled) are rasterised first by ``render.cpu_raster`` into one set of
fragments, which is also what ``draw(..., bodies=n)`` returns for the pipeline's surface
layers; garments and occluders then go into a second set whose depth starts as the bodies'
(so they win only where nearer, and the bodies' fragments stay those of the bodies alone).
Each covered pixel is then painted once: the nearest surface's textures sampled bilinearly
(clamped, premultiplied "over" in order, a texture only on the faces it paints), Lambert +
ambient shading with the interpolated normal, and the alpha faded by the interpolated
visibility, exactly the arithmetic of ``gl_paint``'s fragment shader.

Threading: none of its own; a painter keeps buffers between calls, so use it from one
thread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from ..render import Fragments
from ..render.cpu_pixel import corner_lerp2, lambert, unorm8, vertex_lerp, vertex_lerp3
from ..render.cpu_raster import (
    FAST_MATH,
    FaceMesh,
    clear,
    compile_now,
    rasterize_into,
    screen_boxes,
)
from .paint_mesh import GarmentShading, PaintMesh


@njit(cache=True, nogil=True, inline="always")
def _of_mesh(
    m: int, bodies: int, body: tuple[np.ndarray, np.ndarray], garment: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(face ids, barycentrics) of the fragments mesh ``m`` is drawn in."""
    return body if m < bodies else garment


@njit(cache=True, nogil=True, inline="always")
def _nearest(
    m: int, bodies: int, body_id: np.ndarray, garment_id: np.ndarray, y: int, x: int
) -> bool:
    """Whether mesh ``m`` is the nearest surface at pixel (y, x): a body's unless a garment
    or an occluder won it."""
    g = garment_id[y, x]
    return g == m if m >= bodies else (g < 0 and body_id[y, x] == m)


@njit(cache=True, nogil=True, fastmath=FAST_MATH)
def sample_over(
    body_id: np.ndarray,  # (h, w) int32 bodies' fragments
    body_face: np.ndarray,
    body_bary: np.ndarray,
    garment_id: np.ndarray,  # (h, w) int32 garments' and occluders' fragments (ids >= bodies)
    garment_face: np.ndarray,
    garment_bary: np.ndarray,
    bodies: int,
    m: int,  # the mesh painted
    corner_uv: np.ndarray,  # (F, 3, 2) float32 of mesh m
    painted: np.ndarray,  # (F,) bool faces this texture paints; empty: every face
    texture: np.ndarray,  # (th, tw, 4) uint8 premultiplied
    first: bool,  # the mesh's first texture: ``acc`` starts empty
    acc: np.ndarray,  # (h, w, 4) float32 premultiplied RGBA in [0, 1]
    box: np.ndarray,  # (4,) int64 rows r0:r1, columns c0:c1 the mesh can cover
) -> None:
    """One texture (th, tw, 4) of mesh ``m`` "over" what its earlier textures left in
    ``acc`` (h, w, 4)."""
    th, tw = texture.shape[:2]
    every = painted.shape[0] == 0
    frags_face, frags_bary = _of_mesh(
        m, bodies, (body_face, body_bary), (garment_face, garment_bary)
    )
    for y in range(box[0], box[1]):
        for x in range(box[2], box[3]):
            if not _nearest(m, bodies, body_id, garment_id, y, x):
                continue
            if first:
                acc[y, x, 0] = acc[y, x, 1] = acc[y, x, 2] = acc[y, x, 3] = 0.0
            f = frags_face[y, x]
            if not every and not painted[f]:
                continue
            u, v = corner_lerp2(corner_uv, f, frags_bary, y, x)
            # texel centres at integers (``atlas.uv_to_texel`` - 0.5), clamped to the edge
            tx = min(max(u * tw - 0.5, 0.0), tw - 1.0)
            ty = min(max((1.0 - v) * th - 0.5, 0.0), th - 1.0)
            x0, y0 = int(tx), int(ty)
            x1, y1 = min(x0 + 1, tw - 1), min(y0 + 1, th - 1)
            fx, fy = tx - x0, ty - y0
            w00, w01 = (1.0 - fy) * (1.0 - fx) / 255.0, (1.0 - fy) * fx / 255.0
            w10, w11 = fy * (1.0 - fx) / 255.0, fy * fx / 255.0
            # plain element reads: a row view per texel costs reference counting per pixel
            keep = 1.0 - (
                w00 * texture[y0, x0, 3] + w01 * texture[y0, x1, 3]
                + w10 * texture[y1, x0, 3] + w11 * texture[y1, x1, 3]
            )  # fmt: skip
            for ch in range(4):
                s = (
                    w00 * texture[y0, x0, ch] + w01 * texture[y0, x1, ch]
                    + w10 * texture[y1, x0, ch] + w11 * texture[y1, x1, ch]
                )  # fmt: skip
                acc[y, x, ch] = s + acc[y, x, ch] * keep


@njit(cache=True, nogil=True, fastmath=FAST_MATH)
def shade_fade(
    body_id: np.ndarray,
    body_face: np.ndarray,
    body_bary: np.ndarray,
    garment_id: np.ndarray,
    garment_face: np.ndarray,
    garment_bary: np.ndarray,
    bodies: int,
    m: int,
    faces: np.ndarray,  # (F, 3) int32 of mesh m
    normals: np.ndarray,  # (1, V, 3) float32
    visibility: np.ndarray,  # (1, V) float32
    light: np.ndarray,  # (3,) unit
    ambient: float,
    diffuse: float,
    ramp_lo: float,
    ramp_hi: float,
    opacity: float,
    acc: np.ndarray,  # (h, w, 4) float32 from ``sample_over``
    out: np.ndarray,  # (h, w, 4) uint8 premultiplied RGBA
    box: np.ndarray,  # (4,) as ``sample_over``'s
) -> None:
    """Mesh ``m``'s textures, ``acc`` (h, w, 4), shaded and faded by visibility into ``out``
    (h, w, 4) (GL's unorm8)."""
    frags_face, frags_bary = _of_mesh(
        m, bodies, (body_face, body_bary), (garment_face, garment_bary)
    )
    for y in range(box[0], box[1]):
        for x in range(box[2], box[3]):
            if not _nearest(m, bodies, body_id, garment_id, y, x):
                continue
            f = frags_face[y, x]
            nx, ny, nz = vertex_lerp3(normals, 0, faces, f, frags_bary, y, x)
            vis = vertex_lerp(visibility, 0, faces, f, frags_bary, y, x)
            shade = lambert(nx, ny, nz, light, ambient, diffuse)
            fade = min(max((vis - ramp_lo) / max(ramp_hi - ramp_lo, 1e-6), 0.0), 1.0) * opacity
            for ch in range(3):
                out[y, x, ch] = unorm8(acc[y, x, ch] * fade * shade * 255.0)
            out[y, x, 3] = unorm8(acc[y, x, 3] * fade * 255.0)


class CPUGarmentPainter:
    """Draws ``PaintMesh`` lists into premultiplied RGBA8 images (see the module docstring;
    ``draw`` is ``GLGarmentPainter.draw``)."""

    name = "cpu"

    def __init__(self, shading: GarmentShading) -> None:
        self._light = np.asarray(shading.light, np.float64)
        self._shading = (float(shading.ambient), float(shading.diffuse))
        self._ramp = (float(shading.ramp[0]), float(shading.ramp[1]))
        self._opacity = float(shading.opacity)
        self._bodies = Fragments.allocate(0, 0)
        self._garments = Fragments.allocate(0, 0)
        self._acc = np.empty((0, 0, 4), np.float32)
        self._image = np.empty((0, 0, 4), np.uint8)
        self._compile()

    def _compile(self) -> None:
        """Compile (or load from numba's cache) the loops now, on a one-triangle scene."""
        compile_now()
        tri = np.float32([[0, 0, 0], [0, 2, 0], [2, 0, 0]])
        texture = np.zeros((2, 2, 4), np.uint8)
        mesh = PaintMesh(None, np.int32([[0, 1, 2]]), np.zeros((1, 3, 2), np.float32), tri, tri,
                         np.ones(3, np.float32), textures=((_Level(texture), 0),))  # fmt: skip
        self.draw([mesh], 2, 2, (0, 0), bodies=1)

    def _buffers(self, width: int, height: int) -> None:
        if self._image.shape[:2] != (height, width):
            self._bodies = Fragments.allocate(width, height)
            self._garments = Fragments.allocate(width, height)
            self._acc = np.empty((height, width, 4), np.float32)
            self._image = np.empty((height, width, 4), np.uint8)

    def draw(
        self,
        meshes: Sequence[PaintMesh],
        width: int,
        height: int,
        origin: tuple[int, int],
        bodies: int = 0,
    ) -> tuple[np.ndarray, Fragments | None]:
        """``GLGarmentPainter.draw``: ((height, width, 4) premultiplied RGBA8, the bodies'
        fragments or None). In those fragments only ``mesh_id`` (-1) and ``depth`` (+inf) are set
        on the background (clearing face ids and barycentrics of a frame-wide rectangle costs
        milliseconds; nothing reads them there).
        The first ``bodies`` meshes must be the closed bodies (``cull``); without ``bodies``
        the leading culled meshes are taken as the bodies all the same.
        """
        self._buffers(width, height)
        split = bodies
        if not split:
            while split < len(meshes) and meshes[split].cull:
                split += 1
        body, garment = self._bodies, self._garments
        clear(body)
        rasterize_into([_face_mesh(m) for m in meshes[:split]], body, origin)
        garment.mesh_id.fill(-1)
        np.copyto(garment.depth, body.depth)
        rasterize_into([_face_mesh(m) for m in meshes[split:]], garment, origin, split)
        self._image.fill(0)
        light, (ambient, diffuse), (lo, hi) = self._light, self._shading, self._ramp
        ids = (body.mesh_id, body.face_id, body.bary, garment.mesh_id, garment.face_id,
               garment.bary, split)  # fmt: skip
        for index, m in enumerate(meshes):
            if not m.textures:
                continue  # an occluder, or a body that wears no texture garment
            box = screen_boxes([m.vertices], origin, width, height)[0]
            corner_uv = np.ascontiguousarray(m.corner_uv, np.float32)
            for k, (texture, level) in enumerate(m.textures):
                painted = _EVERY if m.painted is None else np.asarray(m.painted[k], np.bool_)
                sample_over(*ids, index, corner_uv, painted, texture.levels[level], k == 0,
                            self._acc, box)  # fmt: skip
            sample_faces = np.ascontiguousarray(m.faces, np.int32)
            shade_fade(
                *ids, index, sample_faces, np.ascontiguousarray(m.normals, np.float32)[None],
                np.ascontiguousarray(m.visibility, np.float32)[None], light, ambient, diffuse,
                lo, hi, self._opacity, self._acc, self._image, box,
            )  # fmt: skip
        return self._image, (body if bodies else None)

    def close(self) -> None:
        """Nothing to release (the same call as the GL painter's)."""


_EVERY = np.zeros(0, np.bool_)


class _Level:
    """A one-level stand-in for ``Texture`` (compiling the loops needs no real garment)."""

    def __init__(self, image: np.ndarray) -> None:
        self.levels = (image,)


def _face_mesh(m: PaintMesh) -> FaceMesh:
    return FaceMesh(m.vertices, m.faces, m.order, m.cull)
