"""The numpy rasterizer (``cpu_backend``): a closed mesh shows its front surface."""

from __future__ import annotations

import numpy as np
from render_helpers import body_to_pixels, icosphere

from meshpose_core.render import CpuRasterizer


def test_closed_sphere_front_surface_visible_cpu():
    radius, centre = 30.0, (40.0, 32.0)
    v, f = icosphere(3)
    verts = body_to_pixels(v, centre, radius, z0=100.0)
    frags = CpuRasterizer().rasterize([(verts, f)], 80, 64)
    rows, cols = np.mgrid[0:64, 0:80]
    d = np.hypot(cols + 0.5 - centre[0], rows + 0.5 - centre[1])
    assert frags.mask[d < 0.97 * radius].all()
    assert not frags.mask[d > radius].any()
    # Front surface wins: depth = z0 - sqrt(R^2 - d^2) (polyhedron slightly inside the sphere).
    inner = d < 0.8 * radius
    front = 100.0 - np.sqrt(radius**2 - d[inner] ** 2)
    assert np.all(np.abs(frags.depth[inner] - front) < 0.02 * radius)
