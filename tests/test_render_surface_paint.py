"""The compiled CPU painting of the surface layers (``render.cpu_raster`` +
``render.surface_paint``, as ``LayerRenderer`` uses them where OpenGL is software or absent)
draws the same pictures as the numpy path it replaces (the numpy rasterizer's fragments,
``shading``'s colour functions, ``compose.overlay``): every layer, every IUV style, one and
two overlapping people, on the generated posed bodies of ``fixtures/posed_bodies.npz``
(no ``../shared``, no GPU)."""

# ruff: noqa: F811  (the fixtures `bodies` and `frame` are imported from test_pipeline_mesh_paint)
from __future__ import annotations

import numpy as np
import pytest
from test_pipeline_mesh_paint import H, W, bodies, frame, posed_person  # noqa: F401

from meshpose_core.pipeline.layers import (
    LayerRenderer,
    RenderConfig,
    ordering_depth,
    parse_layers,
    people_bounds,
    track_color,
)
from meshpose_core.pipeline.results import PersonResult
from meshpose_core.render import (
    CpuRasterizer,
    interpolate_vertex_attr,
    iuv_colormap,
    iuv_image,
    overlay,
    shade_mesh,
    vertex_normals,
    visibility_colormap,
)
from meshpose_core.render.cpu_raster import FaceMesh, clear, rasterize_into
from meshpose_core.render.raster import Fragments
from meshpose_core.render.shading import DEFAULT_LIGHT_DIR
from meshpose_core.render.surface_paint import IUV_MODES, SurfacePainter
from meshpose_core.topology import Topology


@pytest.fixture(scope="module")
def people(bodies) -> list[PersonResult]:
    """Two overlapping people, the nearer one turned (its arms fold over its body)."""
    near = posed_person(bodies, 0, 1, W / 2 - 40, H / 2, 300, yaw=20)
    far = posed_person(bodies, 1, 2, W / 2 - 10, H / 2 + 10, 220, yaw=-30)
    return [near, far]


@pytest.fixture(scope="module")
def topo() -> Topology:
    return Topology.load("high")


def numpy_path(
    spec: str, frame: np.ndarray, people: list[PersonResult], topo: Topology, iuv_mode: str
) -> np.ndarray:
    """The surface layers as ``LayerRenderer`` drew them before the compiled painters: the
    numpy rasterizer's fragments of the people's rectangle, ``shading``'s colours,
    ``overlay``."""
    out = frame.copy()
    r0, r1, c0, c1 = people_bounds(people, W, H)
    meshes = []
    for p in people:
        v = p.vertices_high.astype(np.float32, copy=True)
        v[:, :2] += np.float32([0.5 - c0, 0.5 - r0])
        v[:, 2] = ordering_depth(v[:, 2], p, max(W, H))
        meshes.append((v, topo.faces))
    frags = CpuRasterizer().rasterize(meshes, c1 - c0, r1 - r0)
    shade = [(p.vertices_high, topo.faces) for p in people]
    for name, opacity in parse_layers(spec):
        if name == "mesh":
            colors = np.array([track_color(p.track_id) for p in people], np.float32)
            layer = shade_mesh(frags, shade, colors)
        elif name == "visibility":
            vis = interpolate_vertex_attr(frags, shade, [p.visibility_high for p in people])
            layer = visibility_colormap(vis[..., 0])
        else:
            layer = iuv_colormap(iuv_image(frags, topo.face_part, topo.corner_part_uv), iuv_mode)
        out[r0:r1, c0:c1] = overlay(out[r0:r1, c0:c1], layer, frags.mask, opacity)
    return out


def compiled_path(
    spec: str, frame: np.ndarray, people: list[PersonResult], iuv_mode: str
) -> np.ndarray:
    renderer = LayerRenderer(
        RenderConfig(layers=parse_layers(spec), mesh_painter="cpu", iuv_mode=iuv_mode)
    )
    try:
        return renderer.render(frame, people)
    finally:
        renderer.close()


def assert_same_picture(a: np.ndarray, b: np.ndarray) -> None:
    """Equal but for edge ties and folds (the compiled rasterizer culls back faces and
    counts a pixel centre on an edge as inside) and one 8-bit rounding step (the layer is
    premultiplied and rounded before blending)."""
    diff = np.abs(a.astype(int) - b.astype(int)).max(-1)
    assert (diff <= 2).mean() >= 0.997, np.bincount(diff.ravel())
    assert diff.mean() < 0.5, np.bincount(diff.ravel())


@pytest.mark.parametrize(
    "spec", ["mesh,visibility", "visibility", "visibility:0.5", "iuv", "mesh:0.5,iuv:0.7"]
)
@pytest.mark.parametrize("count", [1, 2])
def test_surface_layers_match_the_numpy_path(
    frame: np.ndarray, people: list[PersonResult], topo: Topology, spec: str, count: int
) -> None:
    chosen = people[:count]
    compiled = compiled_path(spec, frame, chosen, "contour")
    reference = numpy_path(spec, frame, chosen, topo, "contour")
    assert (compiled != frame).any(-1).mean() > 0.05
    assert_same_picture(compiled, reference)


@pytest.mark.parametrize("mode", list(IUV_MODES))
def test_every_iuv_style_matches(
    frame: np.ndarray, people: list[PersonResult], topo: Topology, mode: str
) -> None:
    compiled = compiled_path("iuv:1", frame, people, mode)
    reference = numpy_path("iuv:1", frame, people, topo, mode)
    assert_same_picture(compiled, reference)


def test_colours_equal_the_numpy_functions_on_the_same_fragments(
    people: list[PersonResult], topo: Topology
) -> None:
    """On one set of fragments the compiled colours are the numpy functions' (one rounding
    step apart at most: the opaque layers here need none), NaN visibility grey included."""
    r0, r1, c0, c1 = people_bounds(people, W, H)
    frags = Fragments.allocate(c1 - c0, r1 - r0)
    clear(frags)
    shade = [(p.vertices_high, topo.faces) for p in people]
    meshes = []
    for p in people:
        v = p.vertices_high.astype(np.float32, copy=True)
        v[:, :2] += np.float32([0.5 - c0, 0.5 - r0])
        v[:, 2] = ordering_depth(v[:, 2], p, max(W, H))
        meshes.append(FaceMesh(v, topo.faces))
    rasterize_into(meshes, frags, (0, 0))
    painter = SurfacePainter(
        topo.faces, topo.face_part, topo.corner_part_uv, np.asarray(DEFAULT_LIGHT_DIR), 0.35, 0.65
    )
    fg = frags.mask
    normals = [vertex_normals(v, f) for v, f in shade]
    colors = np.array([[200, 120, 40], [30, 90, 250]], np.float32)
    rgba = painter.mesh(frags, np.stack(normals), colors, 1.0)
    ref = shade_mesh(frags, shade, colors, normals=normals)
    assert np.abs(rgba[..., :3].astype(int) - ref)[fg].max() <= 1
    assert (rgba[..., 3][fg] == 255).all() and (rgba[~fg] == 0).all()
    vis = np.stack([p.visibility_high for p in people])
    vis[0, ::7] = np.nan
    rgba = painter.visibility(frags, vis, 1.0)
    ref = visibility_colormap(interpolate_vertex_attr(frags, shade, list(vis))[..., 0])
    assert np.abs(rgba[..., :3].astype(int) - ref)[fg].max() <= 1
    assert (rgba[..., :3][fg] == 128).all(-1).sum() > 100  # unknown visibility is grey
    for mode in IUV_MODES:
        rgba = painter.iuv(frags, mode, 1.0)
        ref = iuv_colormap(iuv_image(frags, topo.face_part, topo.corner_part_uv), mode)
        assert np.abs(rgba[..., :3].astype(int) - ref)[fg].max() <= 1, mode
    with pytest.raises(ValueError, match="unknown mode"):
        painter.iuv(frags, "rainbow", 1.0)


def test_compiled_fragments_are_the_rasterizers_front_surface(
    people: list[PersonResult], topo: Topology
) -> None:
    """The same coverage, nearest mesh and face as the numpy rasterizer (which draws back
    faces too: they never win on a closed body), barycentrics within rounding."""
    meshes = [(p.vertices_high + np.float32([0.5, 0.5, 0]), topo.faces) for p in people]
    ref = CpuRasterizer().rasterize(meshes, W, H)
    frags = Fragments.allocate(W, H)
    clear(frags)
    rasterize_into([FaceMesh(v, f) for v, f in meshes], frags, (0, 0))
    assert (frags.mesh_id == ref.mesh_id).mean() > 0.999
    both = (frags.mesh_id >= 0) & (frags.face_id == ref.face_id)
    assert both.sum() > 0.99 * ref.mask.sum()
    assert np.abs(frags.bary[both] - ref.bary[both]).max() < 0.01
    assert np.abs(frags.bary[frags.mask].sum(-1) - 1).max() < 1e-5


def test_garment_and_surface_layers_share_the_compiled_pass(
    frame: np.ndarray, people: list[PersonResult]
) -> None:
    """With garments on, the surface layers take the bodies' fragments of the compiled
    garment pass: the same visibility picture as without garments, where no garment is."""
    spec = "visibility:1,garment"
    config = RenderConfig(
        layers=parse_layers(spec), mesh_painter="cpu", outfits=(("striped_tshirt",),)
    )
    renderer = LayerRenderer(config)
    try:
        dressed = renderer.render(frame, people)
        assert renderer._tryon is not None and renderer._tryon.painter_in_use == "cpu"
    finally:
        renderer.close()
    plain = compiled_path("visibility:1", frame, people, "contour")
    same = (dressed == plain).all(-1).mean()
    assert 0.9 < same < 1.0  # the shirt covers part of the bodies, the rest is the same


@pytest.mark.parametrize("spec", ["mesh:1", "visibility:1", "iuv:1", "garment"])
def test_layers_are_drawn_at_the_inputs_full_resolution(bodies, spec: str) -> None:
    """At 1280x720 every painted layer covers exactly the person's pixels at that size (the
    fragments at full resolution), its edges follow single pixels, not blocks of an upscaled
    smaller picture, and the frame keeps its size."""
    width, height = 1280, 720
    big = posed_person(bodies, 0, 1, width / 2, height / 2, 600, yaw=20)
    frame = np.full((height, width, 3), 90, np.uint8)
    config = RenderConfig(
        layers=parse_layers(spec), mesh_painter="cpu", outfits=(("striped_tshirt",),)
    )
    renderer = LayerRenderer(config)
    try:
        out = renderer.render(frame, [big])
    finally:
        renderer.close()
    assert out.shape == frame.shape
    painted = (out != frame).any(-1)
    frags = Fragments.allocate(width, height)
    clear(frags)
    v = big.vertices_high + np.float32([0.5, 0.5, 0])
    rasterize_into([FaceMesh(v, Topology.load("high").faces)], frags, (0, 0))
    if spec != "garment":  # opaque surface layers: exactly the body's pixels
        assert (painted == frags.mask).mean() > 0.999
    else:  # the shirt: on the body (soft edges reach one pixel beyond)
        assert painted.sum() > 5000
        assert (painted & ~frags.mask).sum() < 0.1 * painted.sum()
    blocks = painted[: height // 2 * 2, : width // 2 * 2].reshape(height // 2, 2, width // 2, 2)
    count = blocks.sum(axis=(1, 3))
    edge_blocks = (count > 0) & (count < 4)
    odd = (count == 1) | (count == 3)  # never seen in a 2x nearest upscale
    assert edge_blocks.sum() > 200 and odd.sum() > 0.2 * edge_blocks.sum()


def test_gl_and_compiled_painters_draw_the_same_layers(
    frame: np.ndarray, people: list[PersonResult]
) -> None:
    """Every painted layer at once through GL (its rasterisation, its garment shader) and
    through the compiled CPU loops: the same picture but for edge ties, folds and texture
    filtering rounding."""
    from meshpose_core.render import GLRasterizer, RendererUnavailable

    try:
        GLRasterizer().close()
    except RendererUnavailable as exc:
        pytest.skip(f"no OpenGL context on this machine: {exc}")
    spec = "mesh:0.5,visibility:0.5,iuv:0.5,garment"
    out = {}
    for painter in ("gl", "cpu"):
        config = RenderConfig(
            layers=parse_layers(spec), mesh_painter=painter, outfits=(("striped_tshirt",),)
        )
        renderer = LayerRenderer(config)
        try:
            out[painter] = renderer.render(frame, people)
            assert renderer._tryon is not None and renderer._tryon.painter_in_use == painter
        finally:
            renderer.close()
    assert (out["cpu"] != frame).any(-1).mean() > 0.05
    diff = np.abs(out["gl"].astype(int) - out["cpu"].astype(int)).max(-1)
    assert (diff <= 3).mean() > 0.99 and diff.mean() < 1.0, np.bincount(diff.ravel())


def test_screen_boxes_bound_each_mesh_in_the_rectangle() -> None:
    """Rows and columns each mesh can cover, relative to the rectangle's origin, clipped to
    it; non-finite vertices (faces never drawn) ignored; nothing finite: an empty box."""
    from meshpose_core.render.cpu_raster import screen_boxes

    v = np.float32([[10.5, 20.5, 0], [30.5, 25.5, 0], [12.5, 60.5, 0]])  # renderer px
    broken = v.copy()
    broken[1] = np.nan
    gone = np.full((3, 3), np.inf, np.float32)
    boxes = screen_boxes([v, broken, gone], (5, 4), 20, 100)
    np.testing.assert_array_equal(boxes[0], [15, 56, 6, 20])  # columns clipped at 20
    np.testing.assert_array_equal(boxes[1], [15, 56, 6, 9])
    assert boxes[2][1] == boxes[2][0] or boxes[2][3] == boxes[2][2]  # empty
