"""The outline widening: axis offsets, part groups, what widening keeps and what it moves."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.model.meshpose import MeshPoseConfig
from meshpose_core.predictor import Finisher
from meshpose_core.predictor.base import RawPrediction
from meshpose_core.topology import LEVELS, Topology
from meshpose_core.topology.outline import (
    GROUP_NAMES,
    OutlineWidening,
    axis_offsets,
    part_axes,
)


def template_in_pixels(scale: float = 100.0) -> np.ndarray:
    """(1, 518, 3) the rest template seen from the front, y down, about 170 px tall."""
    v = Topology.load("low").vertices.astype(np.float64)
    xy = np.stack([v[:, 0], -v[:, 1]], axis=-1) * scale + [96.0, 100.0]
    return np.concatenate([xy, v[:, 2:] * scale], axis=-1)[None].astype(np.float32)


def scales(**by_group: float) -> np.ndarray:
    return np.array([by_group.get(g, 0.0) for g in GROUP_NAMES], np.float32)


def test_axis_offsets_by_hand() -> None:
    xy = np.array([[1.0, 2.0], [3.0, -4.0], [5.0, 5.0]])
    start = np.array([[0.0, 0.0], [0.0, 0.0], [4.0, 4.0]])
    end = np.array([[0.0, 5.0], [2.0, 0.0], [4.0, 4.0]])  # vertical, horizontal, a point
    np.testing.assert_allclose(axis_offsets(xy, start, end), [[1, 0], [0, -4], [1, 1]])
    # beyond the segment's ends the line still holds: widening never lengthens
    np.testing.assert_allclose(axis_offsets(np.array([[2.0, 9.0]]), start[:1], end[:1]), [[2, 0]])


@pytest.mark.parametrize("level", LEVELS)
def test_every_part_has_an_axis(level: str) -> None:
    axes = part_axes(Topology.load(level).vertex_part)
    np.testing.assert_allclose(axes.start.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(axes.end.sum(1), 1.0, atol=1e-6)
    assert set(np.unique(axes.group)) == set(range(len(GROUP_NAMES)))


def test_zero_scales_keep_the_body() -> None:
    body = template_in_pixels()
    out = OutlineWidening(scales(), Topology.load("low"))(body)
    np.testing.assert_allclose(out, body, atol=1e-4)


def test_widening_makes_parts_wider_not_longer() -> None:
    topo = Topology.load("low")
    body = template_in_pixels()
    out = OutlineWidening(scales(torso=0.5, upper_leg=0.5), topo)(body)
    torso = np.isin(topo.vertex_part, [1, 2])
    width = np.ptp(body[0, torso, 0]), np.ptp(out[0, torso, 0])
    height = np.ptp(body[0, torso, 1]), np.ptp(out[0, torso, 1])
    assert width[1] > 1.25 * width[0]  # smoothing shares the step with the neighbours
    assert abs(height[1] - height[0]) < 0.02 * height[0]
    assert np.array_equal(out[..., 2], body[..., 2])  # depth kept
    # the mesh's own joints stay: parts widen symmetrically about their bones
    kp_body, kp_out = topo.keypoints(body[0, :, :2]), topo.keypoints(out[0, :, :2])
    assert np.abs(kp_out - kp_body).max() < 0.03 * np.ptp(body[0, :, 1])
    # a group at zero stays (up to the seam smoothing at its border)
    head = np.isin(topo.vertex_part, [23, 24])
    assert np.abs(out[0, head] - body[0, head]).max() < 1.0


def test_widening_follows_the_person() -> None:
    """Equivariant to the crop's similarity transforms: moving, scaling or turning the
    person moves the outline the same way."""
    topo = Topology.load("low")
    widen = OutlineWidening(scales(torso=0.4, head=0.3, lower_arm=0.6, foot=0.2), topo)
    body = template_in_pixels().astype(np.float64)
    angle, s, shift = 0.7, 0.6, np.array([30.0, -12.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = body.copy()
    moved[..., :2] = s * body[..., :2] @ rot.T + shift
    expected = widen(body).astype(np.float64)
    expected[..., :2] = s * expected[..., :2] @ rot.T + shift
    np.testing.assert_allclose(widen(moved), expected, atol=1e-3)


def test_finisher_widens_the_mesh_and_keeps_the_keypoints() -> None:
    raw = RawPrediction(template_in_pixels(), np.full((1, 518), 0.9, np.float32))
    body, outline = Finisher()(raw), Finisher(tuple(scales(torso=0.5).tolist()))(raw)
    np.testing.assert_array_equal(body.keypoints, outline.keypoints)
    torso = np.isin(Topology.load("high").vertex_part, [1, 2])
    width = [np.ptp(p.vertices_high[0, torso, 0]) for p in (body, outline)]
    assert width[1] > 1.15 * width[0]
    assert not np.allclose(body.vertices, outline.vertices)


def test_config_takes_one_scale_per_group() -> None:
    cfg = MeshPoseConfig.from_dict({"outline_scales": [0.1] * len(GROUP_NAMES)})
    assert cfg.outline_scales == (0.1,) * len(GROUP_NAMES)
    assert MeshPoseConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="one scale per group"):
        MeshPoseConfig(outline_scales=(0.1, 0.2))
