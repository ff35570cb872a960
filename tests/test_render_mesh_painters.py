"""The mesh layer's painters, ``GLMeshPainter`` (OpenGL) and ``CPUMeshPainter`` (compiled
CPU loops): back-face-culled drawing of closed meshes, one contract. Culling must never open
a hole in a closed surface, where a mesh folds over (back faces nearest) the front faces are
what shows, and both paint the same picture."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
from scipy.spatial import ConvexHull

from meshpose_core.render import CpuRasterizer, GLRasterizer, Rasterizer, RendererUnavailable
from meshpose_core.render.cpu_mesh import CPUMeshPainter
from meshpose_core.render.gl_mesh import GLMeshPainter
from meshpose_core.render.gl_pass import depth_mapping
from meshpose_core.render.normals import VertexNormals
from meshpose_core.render.shaded_mesh import MeshPainter, ShadedMesh
from meshpose_core.render.shading import DEFAULT_LIGHT_DIR, shade_mesh
from meshpose_core.topology.mesh_checks import check_mesh, signed_volume

W, H = 160, 120


@pytest.fixture(scope="module")
def gl() -> Iterator[GLRasterizer]:
    try:
        rast = GLRasterizer()
    except RendererUnavailable as exc:
        pytest.skip(f"no OpenGL context on this machine: {exc}")
    yield rast
    rast.close()


Factory = Callable[[np.ndarray], MeshPainter]


@pytest.fixture(params=["gl", "cpu"])
def make_painter(request: pytest.FixtureRequest) -> Factory:
    """faces -> a painter of that kind (the GL one skipped without an OpenGL context)."""
    if request.param == "gl":
        rast = request.getfixturevalue("gl")
        return lambda faces: GLMeshPainter(rast, faces, DEFAULT_LIGHT_DIR, 0.35, 0.65)
    return lambda faces: CPUMeshPainter(faces, DEFAULT_LIGHT_DIR, 0.35, 0.65)


@pytest.fixture(scope="module")
def rasterizer() -> Iterator[Rasterizer]:
    """The unculled reference rasterizer: GL where there is a context, else numpy (the
    same pixel convention)."""
    try:
        rast: Rasterizer = GLRasterizer()
    except RendererUnavailable:
        rast = CpuRasterizer()
    yield rast
    rast.close()


def sphere(radius: float, centre: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """A closed triangulated sphere in image px (x right, y down, z away), oriented like the
    body topology (positive signed volume: counter-clockwise seen from outside)."""
    rng = np.random.default_rng(3)
    unit = rng.normal(size=(400, 3))
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    faces = ConvexHull(unit).simplices.astype(np.int64)
    v = unit * radius + np.asarray(centre)
    outward = np.einsum("fi,fi->f", np.cross(unit[faces[:, 1]] - unit[faces[:, 0]],
                                             unit[faces[:, 2]] - unit[faces[:, 0]]),
                        unit[faces].mean(1))  # fmt: skip
    faces[outward < 0] = faces[outward < 0][:, ::-1]
    assert check_mesh(faces, len(v)).ok and signed_volume(v, faces) > 0
    return v.astype(np.float32), faces


def draw(make_painter: Factory, faces: np.ndarray, meshes: list[ShadedMesh]) -> np.ndarray:
    painter = make_painter(faces)
    try:
        return painter.draw(meshes, W, H, (0, 0)).copy()
    finally:
        painter.close()


def test_culling_opens_no_hole_in_a_closed_mesh(
    make_painter: Factory, rasterizer: Rasterizer
) -> None:
    v, faces = sphere(40.0, (80.0, 60.0, 0.0))
    normals, _ = VertexNormals(faces, len(v))(v)
    rgba = draw(make_painter, faces, [ShadedMesh(v, normals, (200.0, 100.0, 50.0))])
    frags = rasterizer.rasterize([(v, faces)], W, H)  # the same pixel convention, unculled
    painted = rgba[..., 3] > 0
    assert painted.sum() > 4000
    np.testing.assert_array_equal(painted, frags.mask)
    # the front (near) half shows, shaded as the numpy path shades the unculled fragments
    shaded = shade_mesh(frags, [(v, faces)], [(200.0, 100.0, 50.0)], normals=[normals])
    diff = np.abs(rgba[..., :3].astype(int) - shaded.astype(int))[painted]
    assert diff.max() <= 1


def test_folded_surface_shows_its_front_faces(make_painter: Factory) -> None:
    """Depth turned inside out (z -> -z): the far half is now nearest but faces away (its
    screen winding is unchanged). Culled, the picture is the same as before the fold, with
    the same normals; without culling the far half would cover it."""
    v, faces = sphere(40.0, (80.0, 60.0, 0.0))
    normals, _ = VertexNormals(faces, len(v))(v)
    folded = v * np.float32([1, 1, -1])
    colour = (200.0, 100.0, 50.0)
    a = draw(make_painter, faces, [ShadedMesh(v, normals, colour)])
    b = draw(make_painter, faces, [ShadedMesh(folded, normals, colour)])
    np.testing.assert_array_equal(a, b)


def test_opacity_premultiplies_and_people_order_by_depth(make_painter: Factory) -> None:
    v, faces = sphere(30.0, (70.0, 60.0, 0.0))
    normals, _ = VertexNormals(faces, len(v))(v)
    other = v + np.float32([20, 0, 0])
    red = ShadedMesh(v, normals, (255.0, 0.0, 0.0), order=(1.0, 0.0))
    blue_behind = ShadedMesh(other, normals, (0.0, 0.0, 255.0), order=(1.0, 100.0))
    painter = make_painter(faces)
    try:
        for meshes in ([red, blue_behind], [blue_behind, red]):
            rgba = painter.draw(meshes, W, H, (0, 0), opacity=0.5)
            covered = rgba[..., 3] > 0
            assert set(np.unique(rgba[..., 3][covered])) <= {127, 128}
            assert (rgba[..., :3][covered] <= rgba[..., 3:][covered]).all()  # premultiplied
            both = rgba[60, 85]  # inside both spheres: the nearer (red) one wins
            assert both[0] > 0 and both[2] == 0
            assert rgba[60, 115, 2] > 0 and rgba[60, 115, 0] == 0  # blue alone
        with pytest.raises(ValueError, match="vertices"):
            painter.draw([ShadedMesh(v[:-1], normals[:-1], (1.0, 1.0, 1.0))], W, H, (0, 0))
    finally:
        painter.close()
        painter.close()  # idempotent


def test_depth_mapping_spans_every_mesh() -> None:
    a = ShadedMesh(np.float32([[0, 0, -1], [0, 0, 1]]), np.zeros((2, 3)), (0, 0, 0), (1.0, 0.0))
    b = ShadedMesh(np.float32([[0, 0, 0], [0, 0, 2]]), np.zeros((2, 3)), (0, 0, 0), (2.0, 3.0))
    centre, scale = depth_mapping([a, b])
    lo, hi = -1.0, 7.0  # a: -1..1; b: 3..7
    assert (lo - centre) * scale == pytest.approx(-0.98) and (hi - centre) * scale == 0.98


def test_cpu_and_gl_painters_paint_the_same_picture(gl: GLRasterizer) -> None:
    """Two overlapping people at half opacity, vertices off the pixel grid: the same pixels,
    colours within one rounding step."""
    v, faces = sphere(35.0, (70.0, 60.0, 5.0))
    v = v * np.float32([1.0, 1.3, 1.0]) + np.float32([0.37, -17.81, 0.0])
    normals, _ = VertexNormals(faces, len(v))(v)
    other = v + np.float32([25.3, 8.6, 0.0])
    meshes = [
        ShadedMesh(v, normals, (250.0, 40.0, 10.0), order=(1.0, 0.0)),
        ShadedMesh(other, normals, (20.0, 90.0, 240.0), order=(0.5, -3.0)),
    ]
    out = []
    for painter in (
        GLMeshPainter(gl, faces, DEFAULT_LIGHT_DIR, 0.35, 0.65),
        CPUMeshPainter(faces, DEFAULT_LIGHT_DIR, 0.35, 0.65),
    ):
        out.append(painter.draw(meshes, W, H, (3, 7), opacity=0.6).astype(int))
        painter.close()
    a, b = out
    assert (a[..., 3] > 0).sum() > 5000
    # pixel centres exactly on an edge may go either way (GL's top-left rule): a handful
    assert ((a[..., 3] > 0) != (b[..., 3] > 0)).sum() <= 3
    both = (a[..., 3] > 0) & (b[..., 3] > 0)
    assert np.abs(a - b)[both].max() <= 1


def test_cpu_painter_skips_non_finite_and_far_triangles() -> None:
    """A vertex at NaN or inf (a broken prediction) drops its triangles and leaves the rest
    of the mesh drawn; one at 1e30 px gives huge triangles, clipped to the rectangle with no
    integer overflow (the rest of the mesh is still drawn)."""
    v, faces = sphere(30.0, (80.0, 60.0, 0.0))
    normals, _ = VertexNormals(faces, len(v))(v)
    painter = CPUMeshPainter(faces, DEFAULT_LIGHT_DIR, 0.35, 0.65)
    clean = painter.draw([ShadedMesh(v, normals, (200.0, 200.0, 200.0))], W, H, (0, 0)).copy()
    for bad in (np.nan, np.inf, 1e30, -1e30):
        broken = v.copy()
        broken[0] = bad
        rgba = painter.draw([ShadedMesh(broken, normals, (200.0, 200.0, 200.0))], W, H, (0, 0))
        drawn = rgba[..., 3] > 0
        assert drawn.sum() > 0.9 * (clean[..., 3] > 0).sum()
        if not np.isfinite(bad):
            assert not (drawn & (clean[..., 3] == 0)).any()
