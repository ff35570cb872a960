"""Renderer tests: rasterisation (CPU always, GL when an EGL context exists), shading, IUV,
colour maps, compositing and cameras. CPU-only and fast."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from meshpose_core.render import (
    CpuRasterizer,
    Fragments,
    RendererUnavailable,
    create_rasterizer,
    fit_orthographic,
    interpolate_corner_attr,
    interpolate_vertex_attr,
    iuv_colormap,
    iuv_image,
    overlay,
    part_colors,
    project_pinhole,
    rasterize,
    shade_mesh,
    vertex_normals,
    visibility_colormap,
)

# -- helpers ---------------------------------------------------------------------------------


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


# -- rasterisation -----------------------------------------------------------------------------


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


def test_gl_and_cpu_agree_on_closed_meshes(gl_rast):
    a = bumpy_sphere(3, 0, (90.0, 80.0), 60.0, 300.0)
    b = bumpy_sphere(3, 1, (140.0, 95.0), 45.0, 330.0)  # interpenetrates the first
    meshes = [a, b]
    g = gl_rast.rasterize(meshes, 200, 160)
    c = CpuRasterizer().rasterize(meshes, 200, 160)
    union = g.mask | c.mask
    assert union.sum() > 10000
    same = (g.mesh_id == c.mesh_id) & (g.face_id == c.face_id)
    assert same[union].mean() > 0.995
    assert (g.mesh_id[union] == 1).sum() > 2000  # both meshes visible
    both = same & g.mask
    np.testing.assert_allclose(g.bary[both], c.bary[both], atol=5e-3)
    np.testing.assert_allclose(g.depth[both], c.depth[both], atol=0.05)


def test_gl_rasterizer_refuses_other_threads(gl_rast):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            gl_rast.rasterize([quad(0, 0, 4, 4)], 8, 8)
        except RuntimeError as exc:
            errors.append(exc)

    th = threading.Thread(target=worker)
    th.start()
    th.join()
    assert len(errors) == 1 and "thread" in str(errors[0])


def test_gl_reuses_resources_and_resizes(gl_rast):
    v, f = quad(1.5, 1.5, 5.5, 3.5)
    small = gl_rast.rasterize([(v, f)], 8, 6)
    large = gl_rast.rasterize([(v, f)], 20, 10)
    again = gl_rast.rasterize([(v, f)], 8, 6)
    assert small.mask.sum() == 8 and large.mask.sum() == 8
    np.testing.assert_array_equal(small.face_id, again.face_id)
    np.testing.assert_array_equal(large.face_id[:6, :8], small.face_id)


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


def test_no_gl_context_gives_renderer_unavailable_and_auto_falls_back(monkeypatch):
    moderngl = pytest.importorskip("moderngl")
    from meshpose_core.render.gl_backend import GLRasterizer

    def no_context(*args, **kwargs):
        raise Exception("no display")  # what glcontext raises when EGL/GLX fail

    monkeypatch.setattr(moderngl, "create_context", no_context)
    with pytest.raises(RendererUnavailable, match="no display"):
        GLRasterizer()
    with pytest.raises(RendererUnavailable):
        create_rasterizer("gl")
    assert isinstance(create_rasterizer("auto"), CpuRasterizer)


# -- shading / attributes ----------------------------------------------------------------------


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


def _front_quad_px(width=12, height=10):
    # A square in the canonical frame (metres), counter-clockwise seen from the front (+Z).
    m = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float)
    f = np.array([[0, 1, 2], [0, 2, 3]], np.int32)
    return fit_orthographic(m, width, height, margin=0.0), f


def test_vertex_normals_of_a_front_facing_surface_point_to_the_camera():
    v, f = _front_quad_px()
    n = vertex_normals(v, f)
    np.testing.assert_allclose(n, np.tile([0.0, 0.0, -1.0], (4, 1)), atol=1e-6)


def test_shade_mesh_lambert_and_ambient():
    v, f = _front_quad_px()
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


# -- compositing -------------------------------------------------------------------------------


def test_overlay_opacity():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    layer = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    mask = np.zeros((6, 7), bool)
    mask[1:4, 2:6] = True
    np.testing.assert_array_equal(overlay(base, layer, mask, 0.0), base)
    full = overlay(base, layer, mask, 1.0)
    np.testing.assert_array_equal(full[mask], layer[mask])
    np.testing.assert_array_equal(full[~mask], base[~mask])
    half = overlay(base, layer, mask, 0.5)
    expected = np.rint((base[mask].astype(float) + layer[mask]) / 2.0)
    assert np.abs(half[mask].astype(float) - expected).max() <= 1.0
    soft = overlay(base, layer, mask.astype(np.float32) * 0.5, 1.0)
    np.testing.assert_array_equal(soft, half)
    assert overlay(base, layer, mask, 1.0) is not base
    np.testing.assert_array_equal(base, base.copy())  # input untouched


# -- cameras ------------------------------------------------------------------------------------


def test_fit_orthographic_fills_image_with_margin():
    v, _ = icosphere(1)
    body = v * np.array([0.3, 0.9, 0.2]) + np.array([0.1, 1.0, 0.0])
    px = fit_orthographic(body, 200, 100, margin=0.1)
    # Height limits: 100 * 0.8 = 80 px tall, centred.
    assert px[:, 1].min() == pytest.approx(10.0, abs=1e-3)
    assert px[:, 1].max() == pytest.approx(90.0, abs=1e-3)
    assert (px[:, 0].min() + px[:, 0].max()) / 2 == pytest.approx(100.0, abs=1e-3)
    top = np.argmax(body[:, 1])
    assert px[top, 1] == px[:, 1].min()  # +Y up -> smallest image y
    front = np.argmax(body[:, 2])
    assert px[front, 2] == px[:, 2].min()  # +Z toward viewer -> nearest
    left = np.argmax(body[:, 0])
    assert px[left, 0] == px[:, 0].max()  # person's left appears on the image right


def test_project_pinhole():
    pts = np.array([[0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5], [0, 0, -0.5]], float)
    out = project_pinhole(pts, 640, 480, focal_px=500.0, distance=4.0, target=(0, 0, 0))
    np.testing.assert_allclose(out[0], [320, 240, 0], atol=1e-4)
    np.testing.assert_allclose(out[1], [320 + 500 * 0.5 / 4, 240, 0], atol=1e-4)
    np.testing.assert_allclose(out[2], [320, 240 - 500 * 0.5 / 4, 0], atol=1e-4)
    assert out[3, 2] < 0 < out[4, 2]  # nearer -> smaller z
    np.testing.assert_allclose(out[3, 2], 500 * (1 - 4 / 3.5), atol=1e-3)
    turned = project_pinhole(
        pts, 640, 480, focal_px=500.0, distance=4.0, target=(0, 0, 0), yaw_deg=90
    )
    assert turned[3, 0] > 320 + 50  # the nose (+Z) turns toward the person's left (+X)
    behind = project_pinhole(
        np.array([[0, 0, 5.0]]), 64, 48, focal_px=50.0, distance=4.0, target=(0, 0, 0)
    )
    assert np.isnan(behind).all()


def test_pinhole_sphere_renders_as_disc():
    v, f = icosphere(2)
    px = project_pinhole(v * 0.5, 96, 96, focal_px=300.0, distance=4.0)
    frags = rasterize([(px, f)], 96, 96)
    rows, cols = np.mgrid[0:96, 0:96]
    d = np.hypot(cols + 0.5 - 48, rows + 0.5 - 48)
    assert frags.mask[d < 33].all() and not frags.mask[d > 40].any()
    assert frags.depth[48, 48] < 0  # front of the sphere is nearer than its centre
