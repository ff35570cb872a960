"""The surface layers (shaded mesh, visibility, DensePose IUV) coloured from ``Fragments`` by
compiled CPU loops (numba), straight into premultiplied RGBA8.

The numpy path (``shading``: ``shade_mesh``, ``interpolate_vertex_attr`` +
``visibility_colormap``, ``iuv_image`` + ``iuv_colormap``, then ``compose.overlay``) gathers
per-face tables for every covered pixel, builds float images and blends them with fancy
indexing: tens of milliseconds for a person at 720p. Here each pixel of the rectangle is
visited once per layer, its value interpolated from the face's corners and coloured with the
same formulas, and written premultiplied at the layer's opacity, ready for
``tryon.compositing.GarmentLayer.composite_into`` (cv2). Same pictures as the numpy path: each
colour is rounded as it rounds it, then premultiplied (one more rounding, as the mesh
painters do).

Any ``Fragments`` will do: those of the compiled rasterizer (``cpu_raster``), of GL, or of
the garment painters' shared pass. People share one topology, so per-vertex values come as
(M, V, C) stacks indexed by the fragment's mesh id.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .cpu_pixel import clear_pixel, corner_lerp2, lambert, unorm8, vertex_lerp3
from .cpu_raster import FAST_MATH
from .raster import Fragments
from .shading import _PART_PALETTE

IUV_MODES: dict[str, int] = {"parts": 0, "u": 1, "v": 2, "contour": 3}
CONTOUR_LEVELS = 10  # ``iuv_colormap``'s default
CONTOUR_DIM = 0.55  # part colours under the contour lines, as ``iuv_colormap``


@njit(cache=True, nogil=True, fastmath=FAST_MATH)
def paint_mesh(
    mesh_id: np.ndarray,  # (h, w) int32, -1 = background
    face_id: np.ndarray,
    bary: np.ndarray,  # (h, w, 3)
    faces: np.ndarray,  # (F, 3) int32
    normals: np.ndarray,  # (M, V, 3) float32 vertex normals, any length
    colors: np.ndarray,  # (M, 3) float32 RGB 0..255
    light: np.ndarray,  # (3,) unit, toward the light
    ambient: float,
    diffuse: float,
    opacity: float,
    out: np.ndarray,  # (h, w, 4) uint8 premultiplied RGBA
    boxes: np.ndarray,  # (K, 4) int64 rows r0:r1, columns c0:c1 painted (the rest is left)
) -> None:
    """Lambert + ambient with interpolated normals, one colour per mesh (``shade_mesh``; GL's
    unorm8 conversion of ``colour * shade * opacity`` like the mesh painters): fragments
    (h, w), (h, w, 3) -> ``out`` (h, w, 4) inside ``boxes`` (K, 4)."""
    alpha = unorm8(255.0 * opacity)
    for n in range(boxes.shape[0]):
        for y in range(boxes[n, 0], boxes[n, 1]):
            for x in range(boxes[n, 2], boxes[n, 3]):
                m = mesh_id[y, x]
                if m < 0:
                    clear_pixel(out, y, x)
                    continue
                nx, ny, nz = vertex_lerp3(normals, m, faces, face_id[y, x], bary, y, x)
                s = lambert(nx, ny, nz, light, ambient, diffuse) * opacity
                for ch in range(3):
                    out[y, x, ch] = unorm8(colors[m, ch] * s)
                out[y, x, 3] = alpha


@njit(cache=True, nogil=True, fastmath=FAST_MATH)
def paint_visibility(
    mesh_id: np.ndarray,
    face_id: np.ndarray,
    bary: np.ndarray,
    faces: np.ndarray,
    visibility: np.ndarray,  # (M, V) float32 in [0, 1], -inf = unknown (NaN: fast-math)
    opacity: float,
    out: np.ndarray,
    boxes: np.ndarray,
) -> None:
    """Interpolated visibility through ``visibility_colormap``: 1 green, 0.5 yellow, 0 red,
    unknown (a corner at -inf) grey; shapes as ``paint_mesh``'s, ``visibility`` (M, V)."""
    alpha = unorm8(255.0 * opacity)
    for n in range(boxes.shape[0]):
        for y in range(boxes[n, 0], boxes[n, 1]):
            for x in range(boxes[n, 2], boxes[n, 3]):
                m = mesh_id[y, x]
                if m < 0:
                    clear_pixel(out, y, x)
                    continue
                f = face_id[y, x]
                w = 0.0
                unknown = False
                for k in range(3):
                    corner = visibility[m, faces[f, k]]
                    unknown |= corner == -np.inf
                    w += bary[y, x, k] * corner
                c = min(max(w, 0.0), 1.0)
                r = np.float64(unorm8(min(2.0 * (1.0 - c), 1.0) * 255.0))
                g = np.float64(unorm8(min(2.0 * c, 1.0) * 255.0))
                b = 0.0
                if unknown:
                    r = g = b = 128.0
                out[y, x, 0] = unorm8(r * opacity)
                out[y, x, 1] = unorm8(g * opacity)
                out[y, x, 2] = unorm8(b * opacity)
                out[y, x, 3] = alpha


@njit(cache=True, nogil=True, inline="always")
def _jet(t: float, peak: float) -> float:
    """One channel of ``shading._jet`` in 0..255 (peak 0.75 red, 0.5 green, 0.25 blue)."""
    return min(max(1.5 - abs(4.0 * t - 4.0 * peak), 0.0), 1.0) * 255.0


@njit(cache=True, nogil=True, fastmath=FAST_MATH)
def iuv_values(
    mesh_id: np.ndarray,
    face_id: np.ndarray,
    bary: np.ndarray,
    face_part: np.ndarray,  # (F,) int32 DensePose part 1..24
    corner_uv: np.ndarray,  # (F, 3, 2) float32
    iuv: np.ndarray,  # (h, w, 3) uint8 out: I, U * 255, V * 255 (``iuv_image``)
    boxes: np.ndarray,
) -> None:
    """``shading.iuv_image`` of the fragments inside ``boxes``: (h, w, 3) uint8 I (part
    1..24, 0 background), U * 255, V * 255, into ``iuv``."""
    for n in range(boxes.shape[0]):
        for y in range(boxes[n, 0], boxes[n, 1]):
            for x in range(boxes[n, 2], boxes[n, 3]):
                if mesh_id[y, x] < 0:
                    iuv[y, x, 0] = iuv[y, x, 1] = iuv[y, x, 2] = 0
                    continue
                f = face_id[y, x]
                u, v = corner_lerp2(corner_uv, f, bary, y, x)
                iuv[y, x, 0] = face_part[f]
                iuv[y, x, 1] = np.uint8(np.rint(min(max(u, 0.0), 1.0) * 255.0))
                iuv[y, x, 2] = np.uint8(np.rint(min(max(v, 0.0), 1.0) * 255.0))


@njit(cache=True, nogil=True)
def paint_iuv(
    iuv: np.ndarray,  # (h, w, 3) uint8 from ``iuv_values``
    mode: int,  # IUV_MODES
    levels: int,
    palette: np.ndarray,  # (25, 3) uint8
    opacity: float,
    out: np.ndarray,
    boxes: np.ndarray,
) -> None:
    """``shading.iuv_colormap`` of an IUV image (its modes; its colours rounded once, with
    the opacity: at most one level from its own rounding): ``iuv`` (h, w, 3) -> ``out``
    (h, w, 4) uint8 premultiplied inside ``boxes`` (K, 4)."""
    h, w = iuv.shape[:2]
    alpha = unorm8(255.0 * opacity)
    for n in range(boxes.shape[0]):
        for y in range(boxes[n, 0], boxes[n, 1]):
            for x in range(boxes[n, 2], boxes[n, 3]):
                part = iuv[y, x, 0]
                if part == 0:
                    clear_pixel(out, y, x)
                    continue
                if mode == 0:
                    r, g, b = (
                        np.float64(palette[part, 0]),
                        np.float64(palette[part, 1]),
                        np.float64(palette[part, 2]),
                    )
                elif mode == 1 or mode == 2:
                    t = np.float32(iuv[y, x, mode]) / np.float32(255.0)
                    r, g, b = _jet(t, 0.75), _jet(t, 0.5), _jet(t, 0.25)
                else:
                    dim = np.float32(CONTOUR_DIM)
                    r = np.float32(palette[part, 0]) * dim
                    g = np.float32(palette[part, 1]) * dim
                    b = np.float32(palette[part, 2]) * dim
                    for ch in (1, 2):  # U lines, then V lines over them
                        t = np.float32(iuv[y, x, ch]) / np.float32(255.0)
                        level = min(int(t * levels), levels - 1)
                        line = False
                        if x + 1 < w and iuv[y, x + 1, 0] == part:
                            tn = np.float32(iuv[y, x + 1, ch]) / np.float32(255.0)
                            line = min(int(tn * levels), levels - 1) != level
                        if not line and y + 1 < h and iuv[y + 1, x, 0] == part:
                            tn = np.float32(iuv[y + 1, x, ch]) / np.float32(255.0)
                            line = min(int(tn * levels), levels - 1) != level
                        if line:
                            r, g, b = (
                                _jet(t, 0.75),
                                _jet(t, 0.5),
                                _jet(t, 0.25),
                            )
                out[y, x, 0] = unorm8(r * opacity)
                out[y, x, 1] = unorm8(g * opacity)
                out[y, x, 2] = unorm8(b * opacity)
                out[y, x, 3] = alpha


class SurfacePainter:
    """Colours the surface layers of one topology from fragments (see the module docstring):
    ``mesh``, ``visibility`` and ``iuv`` -> (h, w, 4) uint8 premultiplied RGBA, a buffer
    per layer reused by the next call."""

    def __init__(
        self,
        faces: np.ndarray,
        face_part: np.ndarray,
        corner_part_uv: np.ndarray,
        light: np.ndarray,
        ambient: float,
        diffuse: float,
    ) -> None:
        self._faces = np.ascontiguousarray(faces, np.int32)
        self._face_part = np.ascontiguousarray(face_part, np.int32)
        self._corner_uv = np.ascontiguousarray(corner_part_uv, np.float32)
        self._light = np.asarray(light, np.float64) / max(float(np.linalg.norm(light)), 1e-12)
        self._ambient, self._diffuse = float(ambient), float(diffuse)
        self._palette = np.ascontiguousarray(_PART_PALETTE)
        self._images: dict[str, np.ndarray] = {}
        self._iuv = np.empty((0, 0, 3), np.uint8)
        self._compile()

    def _compile(self) -> None:
        """Compile (or load from numba's cache) every loop now, not on the first frame."""
        frags = Fragments.empty(2, 2)
        one = np.zeros((1, int(self._faces.max()) + 1, 3), np.float32)
        self.mesh(frags, one, np.zeros((1, 3), np.float32), 1.0)
        self.visibility(frags, one[..., 0], 1.0)
        for mode in IUV_MODES:
            self.iuv(frags, mode, 1.0)

    def _buffer(self, name: str, frags: Fragments, boxes: np.ndarray | None) -> np.ndarray:
        """The layer's picture buffer, emptied outside ``boxes`` (the loops paint inside)."""
        shape = (frags.height, frags.width, 4)
        if name not in self._images or self._images[name].shape != shape:
            self._images[name] = np.empty(shape, np.uint8)
        if boxes is not None:
            self._images[name].fill(0)
        return self._images[name]

    @staticmethod
    def _boxes(frags: Fragments, boxes: np.ndarray | None) -> np.ndarray:
        if boxes is None:
            return np.array([[0, frags.height, 0, frags.width]], np.int64)
        return np.ascontiguousarray(boxes, np.int64).reshape(-1, 4)

    def mesh(
        self,
        frags: Fragments,
        normals: np.ndarray,
        colors: np.ndarray,
        opacity: float,
        boxes: np.ndarray | None = None,
    ) -> np.ndarray:
        """normals (M, V, 3) per mesh id, colors (M, 3) RGB 0..255; ``boxes`` (K, 4) rows
        r0:r1, columns c0:c1 where the meshes lie (each person's: a frame-wide rectangle of
        people far apart is mostly empty), None: everywhere."""
        out = self._buffer("mesh", frags, boxes)
        paint_mesh(
            frags.mesh_id, frags.face_id, frags.bary, self._faces,
            np.ascontiguousarray(normals, np.float32), np.ascontiguousarray(colors, np.float32),
            self._light, self._ambient, self._diffuse, float(opacity), out,
            self._boxes(frags, boxes),
        )  # fmt: skip
        return out

    def visibility(
        self,
        frags: Fragments,
        visibility: np.ndarray,
        opacity: float,
        boxes: np.ndarray | None = None,
    ) -> np.ndarray:
        """visibility (M, V) per mesh id, in [0, 1] (NaN: unknown, grey); boxes: ``mesh``."""
        out = self._buffer("visibility", frags, boxes)
        vis = np.ascontiguousarray(visibility, np.float32)
        unknown = np.isnan(vis)
        if unknown.any():  # the loop runs with fast-math, which may not see NaN
            vis = np.where(unknown, np.float32(-np.inf), vis)
        paint_visibility(
            frags.mesh_id, frags.face_id, frags.bary, self._faces, vis, float(opacity), out,
            self._boxes(frags, boxes),
        )  # fmt: skip
        return out

    def iuv(
        self, frags: Fragments, mode: str, opacity: float, boxes: np.ndarray | None = None
    ) -> np.ndarray:
        """``mode``: one of ``IUV_MODES`` (``shading.iuv_colormap``'s); boxes: ``mesh``'s (K, 4)
        -> (H, W, 4) uint8 premultiplied RGBA, reused by the next call."""
        if mode not in IUV_MODES:
            raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(IUV_MODES)}")
        if self._iuv.shape[:2] != (frags.height, frags.width):
            self._iuv = np.empty((frags.height, frags.width, 3), np.uint8)
        if boxes is not None:  # the contour lines read neighbours outside a box
            self._iuv.fill(0)
        inside = self._boxes(frags, boxes)
        iuv_values(
            frags.mesh_id, frags.face_id, frags.bary, self._face_part, self._corner_uv, self._iuv,
            inside,
        )  # fmt: skip
        out = self._buffer("iuv", frags, boxes)
        paint_iuv(
            self._iuv, IUV_MODES[mode], CONTOUR_LEVELS, self._palette, float(opacity), out, inside
        )
        return out
