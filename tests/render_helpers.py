"""Generated meshes and rasterizer fixtures shared by the renderer tests (test_render_*.py)."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.render import CpuRasterizer, Fragments, RendererUnavailable, fit_orthographic


def icosphere(level: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere by midpoint subdivision: (V, 3) float64, (F, 3) int32, counter-clockwise
    seen from outside (outward normals) in a right-handed frame."""
    t = (1.0 + 5.0**0.5) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
        (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
        (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
        (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    v = [np.array(p, float) / np.linalg.norm(p) for p in verts]
    for _ in range(level):
        cache: dict[tuple[int, int], int] = {}

        def midpoint(a: int, b: int, cache: dict[tuple[int, int], int] = cache) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = v[a] + v[b]
                v.append(m / np.linalg.norm(m))
                cache[key] = len(v) - 1
            return cache[key]

        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = midpoint(a, b), midpoint(b, c), midpoint(c, a)
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    return np.array(v), np.array(faces, np.int32)


def body_to_pixels(v: np.ndarray, centre_px: tuple[float, float], scale: float, z0: float):
    """Canonical y-up / z-toward-viewer frame -> pixel frame (y down, z = depth, far = larger)."""
    p = np.asarray(v, np.float64) * scale
    return np.stack([centre_px[0] + p[:, 0], centre_px[1] - p[:, 1], z0 - p[:, 2]], 1).astype(
        np.float32
    )


def bumpy_sphere(level: int, seed: int, centre_px, radius: float, z0: float):
    v, f = icosphere(level)
    rng = np.random.default_rng(seed)
    r = 1.0 + 0.15 * np.sin(3.0 * v[:, 0] + 2.0 * v[:, 1]) + 0.03 * rng.standard_normal(len(v))
    return body_to_pixels(v * r[:, None], centre_px, radius, z0), f


def quad(x0, y0, x1, y1, z=1.0):
    """Axis-aligned rectangle in pixel space as two triangles sharing the (x0,y0)-(x1,y1)
    diagonal."""
    v = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float32)
    return v, np.array([[0, 1, 2], [0, 2, 3]], np.int32)


def pixel_centres(frags: Fragments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, (N, 2) xy centres) of the covered pixels."""
    r, c = np.nonzero(frags.mask)
    return r, c, np.stack([c + 0.5, r + 0.5], 1)


def _make_gl():
    from meshpose_core.render.gl_backend import GLRasterizer

    try:
        return GLRasterizer()
    except RendererUnavailable as exc:
        pytest.skip(f"no OpenGL context on this machine: {exc}")


@pytest.fixture(scope="module")
def gl_rast():
    r = _make_gl()
    yield r
    r.close()


@pytest.fixture(params=["cpu", "gl"])
def rast(request):
    if request.param == "cpu":
        return CpuRasterizer()
    return request.getfixturevalue("gl_rast")


def front_quad_px(width=12, height=10):
    # A square in the canonical frame (metres), counter-clockwise seen from the front (+Z).
    m = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float)
    f = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    return fit_orthographic(m, width, height, margin=0.0), f
