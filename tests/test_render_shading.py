"""Per-pixel images from fragments (``shading``): attribute interpolation, Lambert shading,
IUV, colour maps."""

from __future__ import annotations

import numpy as np
import pytest
from render_helpers import front_quad_px, pixel_centres, quad

from meshpose_core.render import (
    interpolate_corner_attr,
    interpolate_vertex_attr,
    iuv_colormap,
    iuv_image,
    part_colors,
    rasterize,
    shade_mesh,
    visibility_colormap,
)


def test_interpolate_vertex_attr_reproduces_positions():
    v, f = quad(1.0, 1.0, 9.0, 7.0)
    frags = rasterize([(v, f)], 10, 8)
    xy = interpolate_vertex_attr(frags, [(v, f)], [v[:, :2]], fill=-1.0)
    r, c, centres = pixel_centres(frags)
    np.testing.assert_allclose(xy[r, c], centres, atol=1e-4)
    np.testing.assert_array_equal(xy[~frags.mask], -1.0)


def test_interpolate_corner_attr_keeps_seams():
    v, f = quad(0.0, 0.0, 8.0, 8.0)
    corner = np.array([[10.0, 10.0, 10.0], [20.0, 20.0, 20.0]], np.float32)  # (F, 3)
    frags = rasterize([(v, f)], 8, 8)
    out = interpolate_corner_attr(frags, corner)
    assert out.shape == (8, 8, 1)
    expected = np.where(frags.face_id == 0, 10.0, 20.0)
    np.testing.assert_allclose(out[..., 0], expected, atol=1e-4)
    assert (frags.face_id == 0).sum() > 20 and (frags.face_id == 1).sum() > 20


def test_shade_mesh_lambert_and_ambient():
    v, f = front_quad_px()
    frags = rasterize([(v, f)], 12, 10)
    assert frags.mask.sum() == 100  # 10x10 square centred in 12x10
    lit = shade_mesh(
        frags, [(v, f)], [(200, 100, 50)], light_dir=(0, 0, -1), ambient=0.25, diffuse=0.75
    )
    np.testing.assert_array_equal(lit[frags.mask], np.tile([200, 100, 50], (100, 1)))
    np.testing.assert_array_equal(lit[~frags.mask], 0)
    side = shade_mesh(
        frags, [(v, f)], [(200, 100, 50)], light_dir=(1, 0, 0), ambient=0.25, diffuse=0.75
    )
    np.testing.assert_array_equal(side[frags.mask], np.tile([50, 25, 12], (100, 1)))  # 12.5 -> 12
    back = shade_mesh(frags, [(v, f)], [(200, 100, 50)], light_dir=(0, 0, 1), ambient=0.5)
    np.testing.assert_array_equal(back[frags.mask], np.tile([100, 50, 25], (100, 1)))


def test_shade_mesh_colours_each_mesh():
    a = quad(0, 0, 4, 4, z=1.0)
    b = quad(4, 0, 8, 4, z=1.0)
    frags = rasterize([a, b], 8, 4)
    out = shade_mesh(frags, [a, b], [(255, 0, 0), (0, 0, 255)], ambient=1.0)
    np.testing.assert_array_equal(out[:, :4], np.tile([255, 0, 0], (4, 4, 1)))
    np.testing.assert_array_equal(out[:, 4:], np.tile([0, 0, 255], (4, 4, 1)))


def test_iuv_image_exact_flat_values():
    v, f = quad(0.0, 0.0, 16.0, 8.0)
    face_part = np.array([3, 7])
    uv = np.zeros((2, 3, 2), np.float32)
    uv[0] = [100 / 255, 200 / 255]  # constant on face 0
    uv[1, :, 0] = v[f[1], 0] / 16.0  # face 1: U = x / 16, V = 1 - y / 8
    uv[1, :, 1] = 1.0 - v[f[1], 1] / 8.0
    frags = rasterize([(v, f)], 18, 9)
    iuv = iuv_image(frags, face_part, uv)
    assert iuv.dtype == np.uint8 and iuv.shape == (9, 18, 3)
    f0, f1 = frags.face_id == 0, frags.face_id == 1
    assert f0.sum() > 40 and f1.sum() > 40
    np.testing.assert_array_equal(iuv[f0], np.tile([3, 100, 200], (f0.sum(), 1)))
    r, c = np.nonzero(f1)
    np.testing.assert_array_equal(iuv[r, c, 0], 7)
    np.testing.assert_array_equal(iuv[r, c, 1], np.rint((c + 0.5) / 16.0 * 255.0))
    np.testing.assert_array_equal(iuv[r, c, 2], np.rint((1.0 - (r + 0.5) / 8.0) * 255.0))
    np.testing.assert_array_equal(iuv[~frags.mask], 0)


def test_iuv_colormap_modes():
    iuv = np.zeros((4, 6, 3), np.uint8)
    iuv[:, :3, 0] = 2
    iuv[:, 3:, 0] = 15
    iuv[:, :, 1] = np.array([0, 60, 120, 0, 200, 250], np.uint8)
    iuv[0] = 0  # background row
    pal = part_colors()
    parts = iuv_colormap(iuv, "parts")
    np.testing.assert_array_equal(parts[1:, :3], np.tile(pal[2], (3, 3, 1)))
    np.testing.assert_array_equal(parts[1:, 3:], np.tile(pal[15], (3, 3, 1)))
    for mode in ("contour", "u", "v"):
        out = iuv_colormap(iuv, mode)
        assert out.shape == (4, 6, 3) and out.dtype == np.uint8
        np.testing.assert_array_equal(out[0], 0)
    contour = iuv_colormap(iuv, "contour", levels=4)
    # U levels 0,0,1 | 0,3,3 -> isoline at column 1 (same part, level changes) but not at 2
    # (part boundary) nor 4/5 (same level); plain pixels keep the dimmed part colour.
    assert np.abs(contour[1, 1] - pal[2] * 0.55).max() > 20
    np.testing.assert_allclose(contour[1, 0], pal[2] * 0.55, atol=1.0)
    np.testing.assert_allclose(contour[1, 4], pal[15] * 0.55, atol=1.0)
    u = iuv_colormap(iuv, "u")
    np.testing.assert_array_equal(u[1, 0], [0, 0, 128])  # jet(0) = dark blue
    with pytest.raises(ValueError):
        iuv_colormap(iuv, "nope")


def test_part_colors_palette():
    pal = part_colors()
    assert pal.shape == (25, 3) and pal.dtype == np.uint8
    np.testing.assert_array_equal(pal[0], 0)
    assert len({tuple(c) for c in pal[1:]}) == 24
    pal[1] = 0  # a copy: the palette itself is not modified
    assert part_colors()[1].any()


def test_visibility_colormap_endpoints():
    np.testing.assert_array_equal(visibility_colormap(1.0), [0, 255, 0])
    np.testing.assert_array_equal(visibility_colormap(0.0), [255, 0, 0])
    np.testing.assert_array_equal(visibility_colormap(0.5), [255, 255, 0])
    out = visibility_colormap(np.array([[0.0, 0.25], [1.0, np.nan]]))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[0, 1], [255, 128, 0])
    np.testing.assert_array_equal(out[1, 1], [128, 128, 128])
    np.testing.assert_array_equal(
        visibility_colormap(np.array([-1.0, 2.0])), [[255, 0, 0], [0, 255, 0]]
    )
