"""Rendering layers: correct IUV part colours on a known mesh, depth order between people,
every layer changes the picture, option errors, a person as the try-on layer takes them."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.pipeline.layers import (
    LayerRenderer,
    RenderConfig,
    check_renderer,
    depth_order,
    ordering_depth,
    parse_layers,
    person_from_result,
    track_color,
)
from meshpose_core.pipeline.results import PersonResult
from meshpose_core.render import RendererUnavailable, part_colors
from meshpose_core.topology import Topology, Upsampling

W, H = 320, 240
TORSO_FRONT, HEAD_PARTS = 2, (23, 24)


def template_person(track_id: int, cx: float, cy: float, height: float) -> PersonResult:
    """The rest template facing the camera, ``height`` px tall, centred at (cx, cy)."""
    low, high = Topology.load("low"), Topology.load("high")

    def place(v: np.ndarray) -> np.ndarray:
        k = height / np.ptp(high.vertices[:, 1])
        mid = (high.vertices[:, 1].max() + high.vertices[:, 1].min()) / 2
        # image: x right, y down, z away from the camera (the template's +Z faces it)
        return np.stack([cx + v[:, 0] * k, cy - (v[:, 1] - mid) * k, -v[:, 2] * k], 1).astype(
            np.float32
        )

    vis = np.linspace(0, 1, 518, dtype=np.float32)
    vertices = place(low.vertices)
    keypoints = np.concatenate([low.keypoints(vertices)[:17, :2], np.ones((17, 1))], 1)
    return PersonResult(
        track_id=track_id,
        box=np.array([cx - height / 2, cy - height / 2, cx + height / 2, cy + height / 2]),
        score=0.9,
        keypoints=keypoints.astype(np.float32),
        vertices=vertices,
        visibility=vis,
        vertices_high=place(high.vertices),
        visibility_high=Upsampling.load().low_to_high(vis[:, None])[:, 0],
        crop_to_image=np.eye(2, 3),
    )


def part_pixel(person: PersonResult, parts: tuple[int, ...]) -> tuple[int, int]:
    """(row, col) of the mean position of the high-mesh vertices of ``parts`` (front side)."""
    high = Topology.load("high")
    sel = np.isin(high.vertex_part, parts)
    x, y = person.vertices_high[sel, :2].mean(0)
    return round(float(y)), round(float(x))


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(60, 120, (H, W, 3), dtype=np.uint8)


def render(spec: str, frame: np.ndarray, people: list[PersonResult], **kw) -> np.ndarray:
    renderer = LayerRenderer(RenderConfig(layers=parse_layers(spec), **kw))
    try:
        return renderer.render(frame, people, ["12.3 FPS", "ms: net 5.0"])
    finally:
        renderer.close()


@pytest.mark.parametrize("backend", ["moderngl", "cpu"])
def test_iuv_layer_gives_part_colours_on_a_known_mesh(frame: np.ndarray, backend: str) -> None:
    person = template_person(1, W / 2, H / 2, 200)
    out = render("iuv:1", frame, [person], iuv_mode="parts", renderer=backend)
    palette = part_colors()
    torso = part_pixel(person, (TORSO_FRONT,))
    head = part_pixel(person, HEAD_PARTS)
    assert tuple(out[torso]) == tuple(palette[TORSO_FRONT])
    assert tuple(out[head]) in {tuple(palette[p]) for p in HEAD_PARTS}
    # background untouched; every covered pixel shows a part colour
    assert (out[:, :5] == frame[:, :5]).all()
    changed = (out != frame).any(-1)
    colours = {tuple(c) for c in out[changed].reshape(-1, 3)}
    assert colours <= {tuple(c) for c in palette[1:]}
    assert 0.05 < changed.mean() < 0.5


def test_nearer_person_is_drawn_in_front(frame: np.ndarray) -> None:
    near = template_person(1, W / 2, H / 2, 200)  # bigger: nearer
    far = template_person(2, W / 2 + 20, H / 2, 120)
    for people in ([near, far], [far, near]):  # independent of list order
        out = render("mesh:1", frame, people)
        r, c = part_pixel(near, (TORSO_FRONT,))
        pixel = out[r, c].astype(int)
        # shaded colour is the track colour times a light intensity: same hue as track 1
        ratio = pixel / np.maximum(track_color(1).astype(int), 1)
        assert np.ptp(ratio[track_color(1) > 40]) < 0.1, pixel


def test_each_layer_changes_the_picture(frame: np.ndarray) -> None:
    person = template_person(3, W / 2, H / 2, 180)
    pictures = {}
    for name in ("mesh", "visibility", "iuv", "keypoints", "boxes", "hud"):
        out = render(name, frame, [person])
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert (out != frame).any(-1).mean() > 0.002, name
        pictures[name] = out
    names = list(pictures)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.array_equal(pictures[a], pictures[b]), (a, b)
    # opacity blends: half-transparent mesh lies between the frame and the opaque mesh
    half = render("mesh:0.5", frame, [person]).astype(int)
    full = pictures["mesh"].astype(int)
    covered = (full != frame).any(-1)
    mid = (frame.astype(int) + render("mesh:1", frame, [person]).astype(int)) / 2
    assert np.abs(half[covered] - mid[covered]).max() <= 1
    # the visibility layer is green where visible, red where occluded: both present
    vis = pictures["visibility"][covered]
    assert (vis[:, 1] > 150).any() and (vis[:, 0] > 150).any()
    # no people: only the HUD draws
    assert np.array_equal(render("mesh,iuv,keypoints,boxes", frame, []), frame)


def test_layer_and_renderer_options() -> None:
    assert parse_layers("mesh:0.5, iuv ,hud") == (("mesh", 0.5), ("iuv", 0.8), ("hud", 1.0))
    assert parse_layers("") == ()
    with pytest.raises(ValueError, match="unknown layer 'meshes'"):
        parse_layers("meshes")
    with pytest.raises(ValueError, match="opacity"):
        parse_layers("mesh:2")
    with pytest.raises(RendererUnavailable, match="unknown renderer 'vulkan'"):
        check_renderer("vulkan")


def test_person_for_the_tryon_layer_keeps_the_depth_order() -> None:
    """``person_from_result``: the high-level mesh, visibility and track, and the depth
    order of the surface layers (``z * a + b`` = ``ordering_depth``)."""
    near, far = template_person(3, 100, 120, 200), template_person(5, 200, 120, 100)
    focal = 1.2 * max(W, H)
    dressed = person_from_result(near, (), focal)
    assert dressed.vertices is near.vertices_high and dressed.visibility is near.visibility_high
    assert dressed.track_id == 3 and dressed.garments == ()
    a, b = dressed.depth_order
    assert (a, b) == depth_order(near, focal)
    z = near.vertices_high[:, 2]
    np.testing.assert_allclose(z * a + b, ordering_depth(z, near, focal), rtol=1e-6)
    # the bigger box is nearer, whatever the relative depths within a body
    assert (
        ordering_depth(z, near, focal).max()
        < ordering_depth(far.vertices_high[:, 2], far, focal).min()
    )
