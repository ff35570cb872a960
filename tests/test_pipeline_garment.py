"""The pipeline's garment layer: garments where the body is, each person in their own outfit
(kept while their track lives), one rasterisation shared with the mesh layer, the CPU
rasterizer path, and configuration errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_pipeline_layers import TORSO_FRONT, H, W, part_pixel, template_person

from meshpose_core.pipeline.layers import LayerRenderer, RenderConfig, parse_layers
from meshpose_core.pipeline.results import PersonResult
from meshpose_core.topology import part_index
from meshpose_core.tryon import GarmentError, UnknownGarment

SHIN = (part_index("lower_leg_left_front"), part_index("lower_leg_right_front"))
HEAD = (part_index("head_left"), part_index("head_right"))


def visible(person: PersonResult) -> PersonResult:
    """The template person, fully visible (the layers' fixture fades half of the body)."""
    return replace(person, visibility_high=np.ones_like(person.visibility_high))


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.random.default_rng(1).integers(60, 120, (H, W, 3), dtype=np.uint8)


def render(frame: np.ndarray, people: list[PersonResult], spec: str, outfits, **kw) -> np.ndarray:
    renderer = LayerRenderer(RenderConfig(layers=parse_layers(spec), outfits=outfits, **kw))
    try:
        return renderer.render(frame, people)
    finally:
        renderer.close()


def changed(out: np.ndarray, frame: np.ndarray, at: tuple[int, int], radius: int = 2) -> bool:
    """Whether a garment covers the (2 radius + 1)^2 patch at ``at`` (row, col): every pixel
    differs from the frame; False when none does (anything else fails the test)."""
    r, c = at
    patch = (slice(r - radius, r + radius + 1), slice(c - radius, c + radius + 1))
    differs = (out[patch] != frame[patch]).any(axis=-1)
    assert differs.all() or not differs.any(), f"partly covered at {at}"
    return bool(differs.all())


@pytest.mark.parametrize("renderer", ["moderngl", "cpu"])
def test_garment_pixels_where_the_garment_is(frame: np.ndarray, renderer: str) -> None:
    person = visible(template_person(1, W / 2, H / 2, 220))
    out = render(frame, [person], "garment", (("striped_tshirt",),), renderer=renderer)
    assert changed(out, frame, part_pixel(person, (TORSO_FRONT,)))  # the shirt
    assert not changed(out, frame, part_pixel(person, SHIN))  # no trousers
    assert not changed(out, frame, part_pixel(person, HEAD))
    assert (out[:, :10] == frame[:, :10]).all()  # background untouched
    skirt = render(frame, [person], "garment", (("flared_skirt",),), renderer=renderer)
    torso_r, torso_c = part_pixel(person, (TORSO_FRONT,))
    assert not changed(skirt, frame, (torso_r, torso_c))
    hem = (torso_r + 45, torso_c)  # below the hips, between the legs: the skirt bridges them
    assert changed(skirt, frame, hem)
    # a half-transparent layer blends: between the frame and the opaque garment
    half = render(frame, [person], "garment:0.5", (("striped_tshirt",),), renderer=renderer)
    covered = (out != frame).any(-1)
    mid = (frame.astype(int) + out) / 2
    assert np.abs(half[covered] - mid[covered]).max() <= 2


def test_each_person_wears_their_outfit_while_their_track_lives(frame: np.ndarray) -> None:
    people = [visible(template_person(i + 1, 50 + 110 * i, H / 2, 170)) for i in range(3)]
    outfits = (("striped_tshirt",), ("flared_skirt",))
    renderer = LayerRenderer(RenderConfig(layers=parse_layers("garment"), outfits=outfits))
    try:

        def wears(out: np.ndarray, person: PersonResult) -> tuple[bool, bool]:
            torso = part_pixel(person, (TORSO_FRONT,))
            return changed(out, frame, torso), changed(out, frame, (torso[0] + 35, torso[1]))

        out = renderer.render(frame, people)
        shirt, skirt = (True, False), (False, True)
        assert [wears(out, p) for p in people] == [shirt, skirt, shirt]  # 1st, 2nd, 3rd seen
        # track 1 leaves: the others keep their outfits, a new track takes the next one
        newcomer = replace(people[0], track_id=4)
        out = renderer.render(frame, [newcomer, people[1], people[2]])
        assert [wears(out, p) for p in (newcomer, people[1], people[2])] == [skirt, skirt, shirt]
        renderer.reset()  # a new input: the order of appearance starts again
        out = renderer.render(frame, [people[1]])
        assert wears(out, people[1]) == shirt
    finally:
        renderer.close()


def test_mesh_layer_shares_the_garment_rasterisation(frame: np.ndarray) -> None:
    """With a surface layer on, the garment layer's rasterisation also draws the surface
    layers: the same picture as their own (back faces aside: a few silhouette pixels)."""
    people = [template_person(1, 130, 120, 200), template_person(2, 180, 125, 160)]
    spec = "mesh,visibility:0.5,iuv:0.4"
    alone = render(frame, people, spec, ())
    # garments all but invisible: the surface layers are what is compared
    shared = render(frame, people, spec + ",garment:0.001", (("loose_coat",),))
    differ = (alone != shared).any(-1)
    assert differ.sum() <= 0.005 * (alone != frame).any(-1).sum()
    dressed = render(frame, people, spec + ",garment", (("loose_coat",),))
    assert (dressed != shared).any(-1).sum() > 500  # and the coat is drawn over them


def test_garment_configuration_errors(tmp_path: Path) -> None:
    assert parse_layers("mesh,garment:0.5") == (("mesh", 0.7), ("garment", 0.5))
    with pytest.raises(GarmentError, match="needs at least one outfit"):
        LayerRenderer(RenderConfig(layers=parse_layers("garment")))
    with pytest.raises(UnknownGarment, match=r"unknown garment 'ball_gown'.*flared_skirt"):
        LayerRenderer(RenderConfig(layers=parse_layers("garment"), outfits=(("ball_gown",),)))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(GarmentError, match="cannot read garment image") as err:
        LayerRenderer(RenderConfig(layers=parse_layers("garment"), outfits=((str(broken),),)))
    assert "\n" not in str(err.value) and str(broken) in str(err.value)
