"""The mesh layer painted by a ``MeshPainter`` (``LayerRenderer._painted_mesh``; GL or the
compiled CPU painter): the same picture as the numpy shading of the fragments
(``shade_mesh``), the same depth order between people, taken only when the mesh is the only
surface layer, the painter chosen as configured, and released by ``close``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.pipeline.layers import LayerRenderer, RenderConfig, parse_layers, track_color
from meshpose_core.pipeline.results import PersonResult
from meshpose_core.render import RendererUnavailable
from meshpose_core.render.camera import yaw_matrix
from meshpose_core.topology import Upsampling

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"
W, H = 480, 360


@pytest.fixture(scope="module", autouse=True)
def gl_available() -> None:
    """Skip the module where no OpenGL context can be made (the painter needs GL)."""
    from meshpose_core.render.gl_backend import GLRasterizer

    try:
        GLRasterizer().close()
    except RendererUnavailable as exc:
        pytest.skip(f"no OpenGL context on this machine: {exc}")


@pytest.fixture(scope="module")
def bodies() -> dict[str, np.ndarray]:
    with np.load(FIXTURES) as data:
        return {"low": data["low"], "high": data["high"]}


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(60, 120, (H, W, 3), dtype=np.uint8)


def posed_person(
    bodies: dict[str, np.ndarray],
    index: int,
    track_id: int,
    cx: float,
    cy: float,
    height: float,
    yaw: float = 0.0,
) -> PersonResult:
    """Posed fixture body ``index`` (metres), turned by ``yaw`` degrees, ``height`` px tall,
    centred at (cx, cy) in image px; the box (its height orders people in depth) is
    ``height`` tall. Visibility varies over the body (the mesh layer must not fade by it)."""
    rot = yaw_matrix(yaw).T
    high_m = bodies["high"][index].astype(np.float64) @ rot
    low_m = bodies["low"][index].astype(np.float64) @ rot
    centre = (high_m.max(0) + high_m.min(0)) / 2
    k = height / np.ptp(high_m[:, 1])

    def place(v: np.ndarray) -> np.ndarray:
        p = (v - centre) * k
        return np.stack([cx + p[:, 0], cy - p[:, 1], -p[:, 2]], 1).astype(np.float32)

    vis = np.random.default_rng(track_id).uniform(0, 1, 518).astype(np.float32)
    low = place(low_m)
    return PersonResult(
        track_id=track_id,
        box=np.array([cx - height / 4, cy - height / 2, cx + height / 4, cy + height / 2]),
        score=0.9,
        keypoints=np.concatenate([low[:17, :2], np.ones((17, 1), np.float32)], 1),
        vertices=low,
        visibility=vis,
        vertices_high=place(high_m),
        visibility_high=Upsampling.load().low_to_high(vis[:, None])[:, 0],
        crop_to_image=np.eye(2, 3),
    )


@pytest.fixture(scope="module")
def near(bodies) -> PersonResult:
    """Bigger box: nearer."""
    return posed_person(bodies, 0, 1, W / 2 - 40, H / 2, 300, yaw=20)


@pytest.fixture(scope="module")
def far(bodies) -> PersonResult:
    """Smaller box, overlapping ``near``: farther."""
    return posed_person(bodies, 1, 2, W / 2 - 10, H / 2 + 10, 220, yaw=-30)


def render(
    spec: str,
    frame: np.ndarray,
    people: list[PersonResult],
    painted: bool,
    painter: str = "auto",
) -> tuple[np.ndarray, bool]:
    """(annotated frame, whether a mesh painter was used) with a fresh renderer;
    ``painted=False`` forces the fragments path (numpy shading)."""
    renderer = LayerRenderer(RenderConfig(layers=parse_layers(spec), mesh_painter=painter))
    if not painted:
        renderer._paints_mesh_alone = lambda _painted: False  # type: ignore[method-assign]
    try:
        out = renderer.render(frame, people)
        assert renderer.backend != "cpu"  # GL when a rasterizer was needed: GL vs GL
        used = renderer._mesh_painter
        assert used is None or painter == "auto" or used.name == painter  # type: ignore[attr-defined]
        return out, used is not None
    finally:
        renderer.close()


def assert_close_pictures(a: np.ndarray, b: np.ndarray, translucent: bool = False) -> None:
    """Within 2 levels on >= 99.9 % of the pixels, 0.1 level on average. A translucent mesh
    may differ by one rounding step wherever it covers: the painted layer rounds its
    premultiplied colour and alpha before blending, ``overlay`` rounds once after. The
    painter culls back faces: where a posed body folds over (a back face nearest) the front
    face behind shows instead, a handful of pixels."""
    diff = np.abs(a.astype(int) - b.astype(int)).max(-1)
    assert (diff <= 2).mean() >= 0.999, np.bincount(diff.ravel())
    if translucent:
        assert (diff > 2).sum() <= 5 and diff.mean() < 0.2, np.bincount(diff.ravel())
    else:
        assert diff.mean() < 0.1, np.bincount(diff.ravel())


def coverage(out: np.ndarray, frame: np.ndarray) -> np.ndarray:
    return (out != frame).any(-1)


@pytest.mark.parametrize("spec", ["mesh:1", "mesh:0.5", "mesh"])
@pytest.mark.parametrize("count", [1, 2])
@pytest.mark.parametrize("painter", ["gl", "cpu"])
def test_painted_mesh_matches_the_fragments_path(
    frame: np.ndarray, near: PersonResult, far: PersonResult, spec: str, count: int, painter: str
) -> None:
    people = [near, far][:count]
    painted, used_painter = render(spec, frame, people, painted=True, painter=painter)
    shaded, used_painter_forced_off = render(spec, frame, people, painted=False)
    assert used_painter and not used_painter_forced_off
    covered = coverage(painted, frame)
    assert 0.05 < covered.mean() < 0.5  # the people are drawn, not the whole frame
    assert (painted[~covered] == frame[~covered]).all()
    assert_close_pictures(painted, shaded, translucent=parse_layers(spec)[0][1] < 1)


def test_half_opacity_lies_between_the_frame_and_the_opaque_mesh(
    frame: np.ndarray, near: PersonResult
) -> None:
    full, _ = render("mesh:1", frame, [near], painted=True)
    half, _ = render("mesh:0.5", frame, [near], painted=True)
    covered = coverage(full, frame)
    mid = (frame.astype(int) + full.astype(int)) / 2
    assert np.abs(half[covered].astype(int) - mid[covered]).max() <= 1.5


def test_low_visibility_does_not_fade_the_painted_mesh(
    frame: np.ndarray, near: PersonResult
) -> None:
    """The mesh layer ignores visibility (the painter's ramp is below 0): an opaque mesh
    hides the frame everywhere it covers, also where visibility is 0."""
    hidden = PersonResult(**{**vars(near), "visibility_high": np.zeros(6890, np.float32)})
    a, _ = render("mesh:1", frame, [near], painted=True)
    b, _ = render("mesh:1", frame, [hidden], painted=True)
    np.testing.assert_array_equal(a, b)
    # opaque: the shaded colour, whatever the frame below (another frame gives the same)
    other = np.full_like(frame, 200)
    c, _ = render("mesh:1", other, [near], painted=True)
    inside = coverage(a, frame) & coverage(c, other)
    # the mesh's own pixels (not its anti-aliased edge) do not depend on the frame
    assert (a[inside] == c[inside]).all(-1).mean() > 0.97


@pytest.mark.parametrize("order", ["near_first", "far_first"])
@pytest.mark.parametrize("painter", ["gl", "cpu"])
def test_nearer_person_covers_the_other_in_the_painted_path(
    frame: np.ndarray, near: PersonResult, far: PersonResult, order: str, painter: str
) -> None:
    near_alone, _ = render("mesh:1", frame, [near], painted=True, painter=painter)
    far_alone, _ = render("mesh:1", frame, [far], painted=True, painter=painter)
    people = [near, far] if order == "near_first" else [far, near]
    both, used_painter = render("mesh:1", frame, people, painted=True, painter=painter)
    assert used_painter
    overlap = coverage(near_alone, frame) & coverage(far_alone, frame)
    # where both could be seen and the two people look different, the near one wins
    distinct = overlap & (np.abs(near_alone.astype(int) - far_alone.astype(int)).max(-1) > 20)
    assert distinct.sum() > 2000, distinct.sum()
    same_as_near = (np.abs(both.astype(int) - near_alone.astype(int)).max(-1) <= 2)[distinct]
    assert same_as_near.mean() > 0.995
    # the near person's shading has its track colour's hue: colour = track colour * light
    pix = both[distinct].astype(float)
    colour = track_color(near.track_id).astype(float)
    ratio = pix / colour
    assert np.ptp(ratio, axis=1).max() < 0.05
    # elsewhere the far person is still drawn: covered by one, not erased
    far_only = coverage(far_alone, frame) & ~coverage(near_alone, frame)
    assert far_only.sum() > 500
    assert (np.abs(both.astype(int) - far_alone.astype(int)).max(-1) <= 2)[far_only].mean() > 0.99


def test_box_size_not_list_order_decides_who_is_in_front(
    frame: np.ndarray, near: PersonResult, far: PersonResult
) -> None:
    """Swap the boxes: the person that was behind is now nearer and covers the other; the
    painted and fragment paths agree on it."""
    swapped_near = PersonResult(**{**vars(near), "box": far.box})
    swapped_far = PersonResult(**{**vars(far), "box": near.box})
    before, _ = render("mesh:1", frame, [near, far], painted=True)
    after, _ = render("mesh:1", frame, [swapped_near, swapped_far], painted=True)
    shaded, _ = render("mesh:1", frame, [swapped_near, swapped_far], painted=False)
    assert_close_pictures(after, shaded)
    far_alone, _ = render("mesh:1", frame, [far], painted=True)
    near_alone, _ = render("mesh:1", frame, [near], painted=True)
    overlap = coverage(near_alone, frame) & coverage(far_alone, frame)
    distinct = overlap & (np.abs(near_alone.astype(int) - far_alone.astype(int)).max(-1) > 20)
    assert distinct.sum() > 2000
    assert (np.abs(before.astype(int) - near_alone.astype(int)).max(-1) <= 2)[
        distinct
    ].mean() > 0.99
    assert (np.abs(after.astype(int) - far_alone.astype(int)).max(-1) <= 2)[distinct].mean() > 0.99


@pytest.mark.parametrize(
    "spec", ["mesh,visibility", "visibility,mesh", "mesh,iuv", "mesh:0.5,visibility:0.3"]
)
def test_other_surface_layers_use_the_fragments_path(
    frame: np.ndarray, near: PersonResult, far: PersonResult, spec: str
) -> None:
    out, used_painter = render(spec, frame, [near, far], painted=True)
    assert not used_painter
    forced, _ = render(spec, frame, [near, far], painted=False)
    np.testing.assert_array_equal(out, forced)  # the same code path: the same picture


def test_no_painter_without_people_or_without_the_mesh_layer(
    frame: np.ndarray, near: PersonResult
) -> None:
    out, used_painter = render("mesh,keypoints", frame, [], painted=True)
    assert not used_painter and np.array_equal(out, frame)
    out, used_painter = render("keypoints,boxes", frame, [near], painted=True)
    assert not used_painter and coverage(out, frame).any()
    out, used_painter = render("mesh:0", frame, [near], painted=True)  # opacity 0: off
    assert not used_painter and np.array_equal(out, frame)


def test_people_outside_the_frame_draw_nothing(frame: np.ndarray, bodies) -> None:
    gone = posed_person(bodies, 2, 3, -400, H / 2, 200)
    out, _ = render("mesh:1", frame, [gone], painted=True)
    np.testing.assert_array_equal(out, frame)


def test_person_partly_outside_the_frame_matches(frame: np.ndarray, bodies) -> None:
    edge = posed_person(bodies, 3, 4, 20, 60, 330)
    painted, used_painter = render("mesh:1", frame, [edge], painted=True)
    shaded, _ = render("mesh:1", frame, [edge], painted=False)
    assert used_painter and coverage(painted, frame).mean() > 0.02
    assert_close_pictures(painted, shaded)


@pytest.fixture
def renderer() -> Iterator[LayerRenderer]:
    r = LayerRenderer(RenderConfig(layers=parse_layers("mesh")))
    try:
        yield r
    finally:
        r.close()


def test_close_releases_the_painter_and_is_idempotent(
    renderer: LayerRenderer, frame: np.ndarray, near: PersonResult, far: PersonResult
) -> None:
    first = renderer.render(frame, [near, far])
    painter = renderer._mesh_painter
    assert painter is not None
    second = renderer.render(frame, [near, far])  # the painter is kept between frames
    assert renderer._mesh_painter is painter
    np.testing.assert_array_equal(first, second)
    renderer.close()
    assert renderer._mesh_painter is None and renderer._rast is None
    renderer.close()  # twice: nothing left to release, no error
    assert renderer._mesh_painter is None


def test_auto_paints_on_the_cpu_where_gl_is_software(frame: np.ndarray, near: PersonResult) -> None:
    """ "auto": the compiled CPU painter on a software OpenGL (llvmpipe), GL on a hardware one
    (simulated: the flag the rasterizer derives from GL_RENDERER); "gl" and "cpu" as asked;
    without OpenGL (the numpy rasterizer) the CPU painter, also when "gl" is asked for."""
    from meshpose_core.render.cpu_mesh import CPUMeshPainter
    from meshpose_core.render.gl_backend import GLRasterizer, is_software_renderer
    from meshpose_core.render.gl_mesh import GLMeshPainter

    assert is_software_renderer("llvmpipe (LLVM 15.0.6, 256 bits)")
    assert not is_software_renderer("NVIDIA GeForce RTX 4070/PCIe/SSE2")
    for choice, renderer_name, software, expected in [
        ("auto", "moderngl", True, CPUMeshPainter),
        ("auto", "moderngl", False, GLMeshPainter),
        ("gl", "moderngl", True, GLMeshPainter),
        ("cpu", "moderngl", False, CPUMeshPainter),
        ("gl", "cpu", None, CPUMeshPainter),
        ("auto", "cpu", None, CPUMeshPainter),
    ]:
        r = LayerRenderer(
            RenderConfig(layers=parse_layers("mesh"), renderer=renderer_name, mesh_painter=choice)
        )
        try:
            rast = r.rasterizer()
            if isinstance(rast, GLRasterizer):
                rast.software = software  # type: ignore[assignment]
            assert isinstance(r.mesh_painter(), expected), (choice, renderer_name, software)
            assert coverage(r.render(frame, [near]), frame).mean() > 0.02
        finally:
            r.close()
    with pytest.raises(ValueError, match="mesh painter"):
        LayerRenderer(RenderConfig(mesh_painter="vulkan"))
