"""Tests of the mesh-integrity statistic (``topology.integrity``): whole meshes pass at any
scale and pose-like bending, a mesh pulled onto a second person or broken does not."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.topology import Topology
from meshpose_core.topology.integrity import (
    STRETCH_LIMIT,
    edge_stretch,
    mend_legs,
    mesh_is_broken,
    mesh_stretch,
    template_edges,
)
from meshpose_core.topology.parts import PART_NAMES


@pytest.fixture(scope="module")
def template() -> np.ndarray:
    return Topology.load("low").vertices.astype(np.float64)


def test_template_at_any_scale_and_place_is_not_stretched(template: np.ndarray) -> None:
    for scale, shift in ((1.0, 0.0), (350.0, 200.0), (0.01, -5.0)):
        assert mesh_stretch(template * scale + shift) == pytest.approx(0.0, abs=1e-6)
        assert not mesh_is_broken(template * scale + shift)


def test_hand_made_edges() -> None:
    # a chain of 5 points one unit apart: 4 edges, a template 4 high
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])
    rest = np.ones(4)
    chain = np.stack([np.zeros(5), np.arange(5.0)], axis=1)
    assert edge_stretch(chain * 3 + 7, edges, rest, 4.0) == pytest.approx(0.0)
    pulled = chain.copy()
    pulled[4] = [0.0, 6.0]  # the last edge 3 long; median ratio still 1: (3 - 1) / 4
    assert edge_stretch(pulled, edges, rest, 4.0) == pytest.approx(0.5)
    assert edge_stretch(pulled * 10, edges, rest, 4.0) == pytest.approx(0.5)  # any scale
    assert edge_stretch(np.zeros((5, 2)), edges, rest, 4.0) == float("inf")
    nan = chain.copy()
    nan[1, 0] = np.nan
    assert edge_stretch(nan, edges, rest, 4.0) == float("inf")
    with pytest.raises(ValueError, match="do not fit"):
        edge_stretch(chain, edges, rest[:3], 4.0)


def test_a_mesh_joining_two_people_is_broken(template: np.ndarray) -> None:
    person = template * 300.0  # ~300 px tall
    height = np.ptp(person[:, 1])
    joined = person.copy()
    arm = np.argmax(person[:, 0])  # the outermost vertex of one side (a hand)
    joined[arm, 0] += 0.8 * height  # pulled onto a neighbour 0.8 body heights away
    assert mesh_stretch(joined) > STRETCH_LIMIT and mesh_is_broken(joined)
    # a moderate bend (a few vertices moved by 5 % of the height) is not
    bent = person.copy()
    bent[:20, 0] += 0.05 * height
    assert not mesh_is_broken(bent)


def test_levels_are_chosen_by_vertex_count() -> None:
    edges, rest, height = template_edges("low")
    assert edges.shape[1] == 2 and rest.shape == (len(edges),) and height > 0
    with pytest.raises(ValueError, match="no topology level"):
        mesh_stretch(np.zeros((7, 3)))


def test_high_poly_views_pass_spikes_drags_and_nan_do_not() -> None:
    t = Topology.load("high")
    front = t.vertices[:, :2] * [1.0, -1.0] * 300 + 50  # 2D image px, any scale and offset
    side = t.vertices[:, [2, 1]] * [1.0, -1.0] * 80  # seen from the side: edges foreshortened
    spike = front.copy()
    spike[100] += [0.0, 400.0]  # one vertex flown off (the body is ~490 px tall)
    dragged = front.copy()
    dragged[t.vertex_part == 4] += [900.0, 0.0]  # a hand dragged onto someone else
    nan = front.copy()
    nan[5] = np.nan
    assert mesh_stretch(front) < 0.1 and mesh_stretch(side) < 0.1
    assert mesh_stretch(spike) > STRETCH_LIMIT and mesh_stretch(dragged) > 3 * STRETCH_LIMIT
    assert mesh_stretch(nan) == float("inf")
    broken = [mesh_is_broken(v) for v in (front, side, spike, dragged, nan)]
    assert broken == [False, False, True, True, True]


def posed(template: np.ndarray, turn: float) -> np.ndarray:
    """(518, 3) the template in image axes (y down, z away), 300 px tall, turned in-plane."""
    c, s = np.cos(turn), np.sin(turn)
    image = template * np.array([1.0, -1.0, -1.0]) * 300.0
    return image @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) + [200.0, 300.0, 0.0]


def test_whole_feet_are_left_alone(template: np.ndarray) -> None:
    meshes = np.stack([posed(template, 0.0), posed(template, 0.6)]).astype(np.float32)
    assert mend_legs(meshes) is meshes  # nothing stretched: the same array, no copy
    # forced (limit below zero): a foot redrawn where it was, turned with the shin
    forced = mend_legs(meshes, limit=-1.0)
    np.testing.assert_allclose(forced, meshes, atol=1e-3)


def test_a_stray_foot_is_redrawn_at_its_ankle(template: np.ndarray) -> None:
    """As when the crop does not show the feet: the heel and toe heatmaps far apart."""
    low = Topology.load("low")
    right = np.flatnonzero(low.vertex_part == PART_NAMES.index("right_foot") + 1)
    left = np.flatnonzero(low.vertex_part == PART_NAMES.index("left_foot") + 1)
    whole = posed(template, 0.3)
    broken = whole.copy()
    broken[right[:6], 0] += 250.0
    assert mesh_is_broken(broken)
    mended = mend_legs(broken[None].astype(np.float32))[0]
    assert not mesh_is_broken(mended)
    np.testing.assert_array_equal(
        np.delete(mended, right, axis=0), np.delete(broken, right, 0).astype(np.float32)
    )
    # back at the ankle with the template's shape, within a few px of where it belonged
    assert np.abs(mended[right] - whole[right]).max() < 0.03 * 300
    np.testing.assert_array_equal(mended[left], broken[left].astype(np.float32))


def test_a_stray_lower_leg_is_redrawn_from_its_knee(template: np.ndarray) -> None:
    """As when the crop holds the whole body but shows it only down to the waist."""
    low = Topology.load("low")
    names = ("lower_leg_left_back", "lower_leg_left_front", "left_foot")
    leg = np.flatnonzero(np.isin(low.vertex_part, [PART_NAMES.index(n) + 1 for n in names]))
    whole = posed(template, -0.2)
    broken = whole.copy()
    broken[leg[::3], 1] += 200.0  # every third shin and foot vertex pulled down
    assert mesh_is_broken(broken)
    mended = mend_legs(broken[None].astype(np.float32))[0]
    assert not mesh_is_broken(mended)
    others = np.setdiff1d(np.arange(len(whole)), leg)
    np.testing.assert_array_equal(mended[others], broken[others].astype(np.float32))
    assert np.abs(mended[leg] - whole[leg]).max() < 0.05 * 300  # the template's leg again
