"""What the compiled painters do at one pixel of ``Fragments``: interpolate a face's values,
shade, round to 8 bits.

The painters (``surface_paint``, ``meshpose_core.tryon.cpu_paint``) each walk the pixels
their layer covers and call these; numba inlines them into each loop (``inline="always"``),
so sharing them costs nothing per pixel and every painter keeps GL's arithmetic in one place.
The triangle walk that makes the fragments is ``cpu_raster.rasterize_faces``.

Arguments at a pixel are the fragments' arrays and its (y, x): ``faces`` (F, 3) int32,
``face`` the fragment's face index, ``bary`` (h, w, 3) float32 barycentrics in corner order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def unorm8(value: float) -> np.uint8:
    """float in 0..255 -> uint8, rounded to nearest (ties up), clamped (GL's unorm8)."""
    return np.uint8(int(min(max(value, 0.0), 255.0) + 0.5))


@njit(cache=True, nogil=True, inline="always")
def clear_pixel(out: np.ndarray, y: int, x: int) -> None:
    """Pixel (y, x) of an (h, w, 4) uint8 RGBA picture -> transparent black."""
    out[y, x, 0] = out[y, x, 1] = out[y, x, 2] = out[y, x, 3] = 0


@njit(cache=True, nogil=True, inline="always")
def vertex_lerp3(
    table: np.ndarray, m: int, faces: np.ndarray, face: int, bary: np.ndarray, y: int, x: int
) -> tuple[float, float, float]:
    """(M, V, 3) per-vertex values of mesh ``m`` (e.g. normals) at pixel (y, x) of ``face``."""
    a = b = c = 0.0
    for k in range(3):
        v = faces[face, k]
        wk = bary[y, x, k]
        a += wk * table[m, v, 0]
        b += wk * table[m, v, 1]
        c += wk * table[m, v, 2]
    return a, b, c


@njit(cache=True, nogil=True, inline="always")
def vertex_lerp(
    table: np.ndarray, m: int, faces: np.ndarray, face: int, bary: np.ndarray, y: int, x: int
) -> float:
    """(M, V) per-vertex values of mesh ``m`` (e.g. visibility) at pixel (y, x) of ``face``."""
    a = 0.0
    for k in range(3):
        a += bary[y, x, k] * table[m, faces[face, k]]
    return a


@njit(cache=True, nogil=True, inline="always")
def corner_lerp2(
    corners: np.ndarray, face: int, bary: np.ndarray, y: int, x: int
) -> tuple[float, float]:
    """(F, 3, 2) per-corner values (e.g. UVs: seams stay sharp) at pixel (y, x) of ``face``."""
    u = v = 0.0
    for k in range(3):
        u += bary[y, x, k] * corners[face, k, 0]
        v += bary[y, x, k] * corners[face, k, 1]
    return u, v


@njit(cache=True, nogil=True, inline="always")
def lambert(
    nx: float, ny: float, nz: float, light: np.ndarray, ambient: float, diffuse: float
) -> float:
    """Intensity ``ambient + diffuse * max(0, n . l)`` clipped to 1, for a normal of any
    length and a (3,) unit ``light`` (``shading.shade_mesh``'s model, GL's ``lambert``)."""
    length = max(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-12)
    cos_l = (nx * light[0] + ny * light[1] + nz * light[2]) / length
    return min(ambient + diffuse * max(cos_l, 0.0), 1.0)
