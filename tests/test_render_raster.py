"""The rasterizer contract (``raster``), for the numpy and the GL backends: coverage at pixel
centres, ids, barycentrics, depth order, reuse of buffers, bad input, the factory."""

# ruff: noqa: F811  (fixtures imported from render_helpers)
from __future__ import annotations

import numpy as np
import pytest
from render_helpers import gl_rast, pixel_centres, quad, rast  # noqa: F401

from meshpose_core.render import CpuRasterizer, Fragments, create_rasterizer, rasterize


def test_single_triangle_coverage_ids_depth_and_bary(rast):
    v = np.array([[1, 1, 5], [7, 1, 5], [1, 5, 5]], np.float32)
    f = np.array([[0, 1, 2]], np.int32)
    frags = rast.rasterize([(v, f)], 8, 6)
    # Pixel centres (c + .5, r + .5) left of the hypotenuse x = 7 - 1.5 (y - 1).
    expected = np.zeros((6, 8), bool)
    expected[1, 1:6] = True
    expected[2, 1:5] = True
    expected[3, 1:3] = True
    expected[4, 1:2] = True
    np.testing.assert_array_equal(frags.mask, expected)
    np.testing.assert_array_equal(frags.face_id, np.where(expected, 0, -1))
    np.testing.assert_array_equal(frags.mesh_id, np.where(expected, 0, -1))
    np.testing.assert_allclose(frags.depth[expected], 5.0, atol=1e-5)
    assert np.all(np.isinf(frags.depth[~expected]))
    np.testing.assert_array_equal(frags.bary[~expected], 0.0)
    r, c, xy = pixel_centres(frags)
    b = frags.bary[r, c]
    np.testing.assert_allclose(b.sum(1), 1.0, atol=1e-5)
    assert b.min() > -1e-5
    np.testing.assert_allclose(b @ v[:, :2], xy, atol=1e-3)


def test_cull_draws_only_faces_clockwise_on_the_image(rast):
    """The same triangle twice: far and clockwise (a body's outside, y down), near and
    counter-clockwise (its inside). Depth alone shows the near one; culling the far one,
    under its own face index."""
    tri = np.array([[1, 1], [7, 1], [1, 5]], np.float32)
    v = np.concatenate([np.c_[tri, np.full(3, 5.0)], np.c_[tri, np.full(3, 1.0)]]).astype("f4")
    f = np.array([[0, 2, 1], [3, 4, 5]], np.int32)
    both = rast.rasterize([(v, f)], 8, 6)
    front = rast.rasterize([(v, f)], 8, 6, cull=True)
    np.testing.assert_array_equal(front.mask, both.mask)
    assert set(np.unique(both.face_id[both.mask])) == {1}
    assert set(np.unique(front.face_id[front.mask])) == {0}
    np.testing.assert_allclose(front.depth[front.mask], 5.0, atol=1e-5)
    assert not rast.rasterize([(v, f[1:])], 8, 6, cull=True).mask.any()


def test_quad_edges_through_pixel_centres_cover_each_pixel_once(rast):
    # Edges through pixel centres: top-left rule -> columns/rows 2..9, diagonal to face 0.
    v, f = quad(2.5, 2.5, 10.5, 10.5)
    frags = rast.rasterize([(v, f)], 14, 12)
    rows, cols = np.mgrid[0:12, 0:14]
    inside = (rows >= 2) & (rows <= 9) & (cols >= 2) & (cols <= 9)
    expected = np.where(inside, np.where(cols >= rows, 0, 1), -1)
    np.testing.assert_array_equal(frags.face_id, expected)
    # Barycentrics reproduce the pixel centres with the face's own corners.
    r, c, xy = pixel_centres(frags)
    corners = v[f[frags.face_id[r, c]]][:, :, :2]  # (N, 3, 2)
    np.testing.assert_allclose(np.einsum("nk,nkc->nc", frags.bary[r, c], corners), xy, atol=1e-3)


def test_quad_off_grid_and_winding_does_not_matter(rast):
    v, f = quad(0.3, 0.2, 5.7, 3.9, z=2.0)
    for faces in (f, f[:, ::-1].copy()):
        frags = rast.rasterize([(v, faces)], 8, 6)
        expected = np.zeros((6, 8), bool)
        expected[0:4, 0:6] = True  # centres 0.5..5.5 x 0.5..3.5
        np.testing.assert_array_equal(frags.mask, expected)
        assert set(np.unique(frags.face_id[expected])) == {0, 1}
        r, c, xy = pixel_centres(frags)
        corners = v[faces[frags.face_id[r, c]]][:, :, :2]
        np.testing.assert_allclose(
            np.einsum("nk,nkc->nc", frags.bary[r, c], corners), xy, atol=1e-3
        )


def test_depth_ordering_between_meshes(rast):
    far = quad(0, 0, 10, 10, z=10.0)
    near = quad(5, 5, 16, 12, z=5.0)
    frags = rast.rasterize([far, near], 16, 12)
    assert frags.mesh_id[7, 7] == 1 and frags.depth[7, 7] == pytest.approx(5.0)
    assert frags.mesh_id[2, 2] == 0 and frags.depth[2, 2] == pytest.approx(10.0)
    assert frags.mesh_id[10, 14] == 1
    np.testing.assert_array_equal(frags.mesh_id[5:10, 5:10], 1)
    # Same meshes, depths swapped: the first mesh is now in front in the overlap.
    far2 = (near[0].copy(), near[1])
    far2[0][:, 2] = 20.0
    frags = rast.rasterize([far, far2], 16, 12)
    np.testing.assert_array_equal(frags.mesh_id[5:10, 5:10], 0)
    assert frags.mesh_id[10, 14] == 1


def test_interpenetrating_planes_split_at_intersection(rast):
    flat = quad(0, 0, 12, 6, z=5.0)
    tilted = quad(0, 0, 12, 6)
    tilted[0][:, 2] = tilted[0][:, 0]  # z = x: nearer than z = 5 left of x = 5
    frags = rast.rasterize([flat, tilted], 12, 6)
    cols = np.arange(12) + 0.5
    expected = np.where(cols < 5.0, 1, 0)
    np.testing.assert_array_equal(frags.mesh_id, np.broadcast_to(expected, (6, 12)))
    np.testing.assert_allclose(frags.depth, np.broadcast_to(np.minimum(cols, 5.0), (6, 12)))


def test_rasterize_into_reused_out(rast):
    out = Fragments.allocate(8, 6)
    first = rast.rasterize([quad(0, 0, 8, 6, z=3.0)], 8, 6, out=out)
    assert first is out and out.mask.all()
    # A smaller quad next frame: everything outside it must be background again.
    v, f = quad(1.5, 1.5, 4.5, 3.5, z=2.0)
    again = rast.rasterize([(v, f)], 8, 6, out=out)
    fresh = rast.rasterize([(v, f)], 8, 6)
    assert again is out and out.mask.sum() == 6
    for name in ("mesh_id", "face_id", "bary", "depth"):
        np.testing.assert_array_equal(getattr(out, name), getattr(fresh, name))
    rast.rasterize([], 8, 6, out=out)
    assert not out.mask.any() and np.isinf(out.depth).all()
    with pytest.raises(ValueError, match="out"):
        rast.rasterize([(v, f)], 9, 6, out=out)


def test_non_finite_vertices_drop_only_their_faces(rast):
    v, f = quad(0, 0, 8, 6)
    v = np.vstack([v, [[np.nan, 1.0, 1.0]]]).astype(np.float32)
    f = np.vstack([f, [[0, 1, 4]]]).astype(np.int32)
    frags = rast.rasterize([(v, f)], 8, 6)
    assert frags.mask.all()
    assert set(np.unique(frags.face_id)) == {0, 1}


def test_empty_and_invalid_input(rast):
    frags = rast.rasterize([], 5, 4)
    assert frags.mesh_id.shape == (4, 5) and not frags.mask.any()
    v, f = quad(0, 0, 4, 4)
    with pytest.raises(ValueError, match="out of range"):
        rast.rasterize([(v, f + 4)], 5, 4)
    with pytest.raises(ValueError, match="size"):
        rast.rasterize([(v, f)], 0, 4)


def test_factory_and_default_rasterize():
    assert isinstance(create_rasterizer("cpu"), CpuRasterizer)
    with pytest.raises(ValueError, match="backend"):
        create_rasterizer("vulkan")
    with create_rasterizer("auto") as auto:
        assert auto.name in ("gl", "cpu")
        a = auto.rasterize([quad(0.5, 0.5, 3.5, 2.5)], 6, 4)
    b = rasterize([quad(0.5, 0.5, 3.5, 2.5)], 6, 4)
    np.testing.assert_array_equal(a.face_id, b.face_id)
    assert b.mask.sum() == 6
