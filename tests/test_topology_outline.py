"""The outline widening: axis offsets, part groups, what widening keeps and what it moves, and
the widening fitted to a person's foreground."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.model.meshpose import MeshPoseConfig
from meshpose_core.predictor import Finisher
from meshpose_core.predictor.base import RawPrediction
from meshpose_core.topology import LEVELS, Topology
from meshpose_core.topology.outline import (
    FIT_RANGE,
    GROUP_NAMES,
    OutlineWidening,
    axis_offsets,
    fill_triangles,
    mask_extents,
    part_axes,
    rim_pushes,
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
    # ... except past a capped end (the crown): there the offset is from the end itself
    capped = np.array([True])
    past, within = np.array([[2.0, 9.0]]), np.array([[2.0, 3.0]])
    np.testing.assert_allclose(axis_offsets(past, start[:1], end[:1], capped), [[2, 4]])
    np.testing.assert_allclose(axis_offsets(within, start[:1], end[:1], capped), [[2, 0]])


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


def test_the_head_grows_at_its_crown_too() -> None:
    """The head's axis ends between the ears: the crown beyond it moves away from that point,
    so the head grows taller (hair) as well as wider; the neck end is unchanged."""
    topo = Topology.load("low")
    body = template_in_pixels()
    head = np.isin(topo.vertex_part, [23, 24])
    ears = topo.keypoints(body[0, :, :2])[[3, 4], 1].mean()  # COCO left / right ear
    # a mask with hair: the head's own outline 1.5x as far from the ears' midpoint
    grown = body.copy()
    centre = np.array([topo.keypoints(body[0, :, :2])[[3, 4], 0].mean(), ears])
    grown[0, head, :2] = centre + 1.5 * (body[0, head, :2] - centre)
    widen = OutlineWidening(scales(head=0.5), topo)
    out = widen(body, rasterised_cells(grown) + rasterised_cells(body))
    top = body[0, head, 1].min(), out[0, head, 1].min()  # y down: the crown
    assert ears - top[1] > 1.25 * (ears - top[0])  # fitted to the mask's crown
    # the fixed scales widen the sides only: the mask is the crown's evidence
    fixed = widen(body)
    assert abs(fixed[0, head, 1].min() - top[0]) < 0.05 * (ears - top[0])
    assert np.ptp(fixed[0, head, 0]) > 1.3 * np.ptp(body[0, head, 0])


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


# --- fitted to the person's foreground ----------------------------------------------------------


def rasterised_cells(vertices: np.ndarray, cells: int = 48, stride: int = 4) -> np.ndarray:
    """(1, 518, 3) low mesh in crop px -> (1, cells, cells) its mask at the cell centres."""
    from meshpose_core.eval.silhouette import mesh_silhouette

    up = Finisher().upsample(vertices)[0]
    mask = mesh_silhouette(up, Topology.load("high").faces, cells * stride)
    return mask[stride // 2 :: stride, stride // 2 :: stride][None].astype(np.float32)


def test_a_ray_stops_where_another_bone_is_nearer() -> None:
    # the vertex's bone along y = 50 from x = 0 to 100, another bone along y = 80: with the
    # mask everywhere and territory 1, the ray from (50, 50) downwards stops half-way, at
    # y = 65: between the samples at 1.5 offsets (y 65) and 1.625 (y 66.25)
    grid = np.ones((1, 100, 100), np.float32)
    xy = np.array([[[50.0, 60.0]]], np.float32)
    offsets = np.array([[[0.0, 10.0]]], np.float32)
    bones = np.array([[[0.0, 50.0, 100.0, 50.0], [0.0, 80.0, 100.0, 80.0]]], np.float32)
    own = np.array([0])
    extent, valid = mask_extents(xy, offsets, grid, 1.0, bones, own, territory=1.0)
    assert extent[0, 0] == pytest.approx(1.5625, abs=0.13) and valid[0, 0]
    # territory 0.5: the other bone must be under half as far as its own, past y = 70, at
    # 2 offsets (to a sample: the bones' distances are looked up on cells of 2 px here)
    extent = mask_extents(xy, offsets, grid, 1.0, bones, own, territory=0.5)[0]
    assert extent[0, 0] == pytest.approx(2.0, abs=0.13)
    assert mask_extents(xy, offsets, grid, 1.0)[0][0, 0] == pytest.approx(3.5)  # no bones


def test_mask_extents_by_hand() -> None:
    # a horizontal bone along y = 50, a vertex 10 px below it, a mask down to y = 80 (pixel
    # rows 40..79 on a 1-px grid): the mask ends 3 offsets out, between the samples at
    # 2.875 (y 78.75, inside) and 3.0 (y 80, outside)
    grid = np.zeros((1, 100, 100), np.float32)
    grid[0, 40:80, :] = 1.0
    xy = np.array([[[50.0, 60.0], [50.0, 0.0]]], np.float32)
    offsets = np.array([[[0.0, 10.0], [0.0, -50.0]]], np.float32)
    extent, valid = mask_extents(xy, offsets, grid, 1.0)
    assert extent[0, 0] == pytest.approx(2.9375)
    # the second vertex's ray (upwards) leaves the mask before half-way: no evidence
    assert valid.tolist() == [[True, False]]


def test_fitted_outline_finds_a_planted_widening() -> None:
    topo = Topology.load("low")
    body = template_in_pixels()
    planted = scales(torso=0.6, head=0.4, upper_arm=1.2, lower_arm=0.8, hand=0.5,
                     upper_leg=0.6, lower_leg=0.8, foot=0.4)  # fmt: skip
    target = OutlineWidening(planted, topo)(body)
    fitted = OutlineWidening(scales(), topo)(body, rasterised_cells(target))
    assert np.array_equal(fitted[..., 2], body[..., 2])  # depth kept

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        ma, mb = rasterised_cells(a, 192, 1), rasterised_cells(b, 192, 1)
        return float((ma * mb).sum() / np.maximum(ma, mb).sum())

    # the planted outline is recovered from its 4-px cells, far closer than the body (0.70;
    # 0.88 measured: the cells blur the edges, and where two parts' grounds meet, beside a
    # hanging arm, a side stops half-way to the other bone)
    assert iou(fitted, target) > 0.85 and iou(body, target) < 0.72
    # a coat: the mask one cell wider all round than any side's scale gives; the sides'
    # medians stop short of its edge, the rim moves on to it
    coat = np.pad(rasterised_cells(target)[0], 1)
    coat = (coat[1:-1, 1:-1] + coat[:-2, 1:-1] + coat[2:, 1:-1] + coat[1:-1, :-2]
            + coat[1:-1, 2:] > 0)[None].astype(np.float32)  # fmt: skip
    cells = coat[0].repeat(4, 0).repeat(4, 1)

    def coverage(mesh: np.ndarray) -> float:
        m = rasterised_cells(mesh, 192, 1)[0]
        return float((m * cells).sum() / np.maximum(m, cells).sum())

    sides = OutlineWidening(scales(), topo, rim_reach=0.0)(body, coat)
    rim = OutlineWidening(scales(), topo)(body, coat)
    assert coverage(rim) > coverage(sides) + 0.01


def test_fitted_outline_without_evidence_keeps_the_fixed_scales_and_is_bounded() -> None:
    topo = Topology.load("low")
    body = template_in_pixels()
    widen = OutlineWidening(scales(torso=0.4, upper_leg=0.6), topo, rim_reach=0.0)
    nothing = np.zeros((1, 48, 48), np.float32)  # no mask: no side has evidence
    np.testing.assert_allclose(widen(body, nothing), widen(body), atol=1e-5)
    # a mask everywhere: each side widens to its part's own ground (where another bone is
    # nearer), never past the widest allowed
    everything = np.ones((1, 48, 48), np.float32)
    widest = OutlineWidening(np.full(len(GROUP_NAMES), FIT_RANGE[1], np.float32), topo)(body)

    def moved(mesh: np.ndarray) -> np.ndarray:
        return np.linalg.norm(mesh[0, :, :2] - body[0, :, :2], axis=-1)

    fitted = moved(widen(body, everything))
    assert moved(widen(body)).mean() < fitted.mean() < moved(widest).mean()
    assert fitted.max() <= moved(widest).max()
    # the rim then moves on by at most its reach of the person's extent
    rim = OutlineWidening(widen.scales, topo, rim_reach=0.05)
    extent = np.ptp(topo.keypoints(body[..., :2])[0], axis=0).max()
    extra = np.linalg.norm(rim(body, everything) - widen(body, everything), axis=-1)
    assert 0 < extra.max() <= 0.05 * extent + 1e-3
    np.testing.assert_allclose(rim(body, nothing), widen(body, nothing), atol=1e-5)


def test_fill_triangles_by_hand() -> None:
    # the triangle (0, 0), (4, 0), (0, 4) on 1-px cells (centres at whole px): the 15 cells
    # with x, y >= 0 and x + y <= 4 (edges included), whichever way it is wound
    xy = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]], np.float32)
    for faces in (np.array([[0, 1, 2]]), np.array([[0, 2, 1]])):
        mask = fill_triangles(xy, faces.astype(np.int64), 8, 8, 1.0)
        ys, xs = np.nonzero(mask)
        assert mask.sum() == 15 and (xs + ys <= 4).all()
    # half-pixel cells (centres at 0.5 i - 0.25 px): those with i, j >= 1 and i + j <= 9
    assert fill_triangles(xy, np.array([[0, 1, 2]]), 16, 16, 0.5).sum() == 36


def test_rim_pushes_by_hand() -> None:
    # a square body [40, 60]^2 (two faces) and a second part [66, 70] x [40, 60]; the mask
    # covers columns 30..69 (1-px cells): bilinear, it ends at x = 69.5; samples every
    # silhouette cell (0.5 px), the edge half-way between the last inside and the first out
    xy = np.array(
        [[40, 40], [60, 40], [60, 60], [40, 60],  # the body's corners
         [66, 40], [70, 40], [70, 60], [66, 60],  # the second part
         [60, 50], [50, 50], [60, 45]],  # rays to test
        np.float32,
    )  # fmt: skip
    faces = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]], np.int64)
    grid = np.zeros((1, 100, 100), np.float32)
    grid[0, :, 30:70] = 1.0
    direction = np.zeros((1, 11, 2), np.float32)
    direction[0, 1] = (0, -1)  # the body's corner (60, 40) upwards: on to the mask's end
    direction[0, 8] = (1, 0)  # (60, 50) rightwards: into the second part at x = 66
    direction[0, 9] = (1, 0)  # (50, 50), inside the body: not on the rim
    direction[0, 10] = (-1, 0)  # (60, 45) leftwards: the body lies outwards
    move = rim_pushes(xy[None], direction * 3, grid, 1.0, faces, np.array([100.0]))[0]
    push = np.linalg.norm(move, axis=-1)  # along the rays, whatever their length
    np.testing.assert_allclose(move[1], [0.0, -push[1]])
    # upwards the mask runs to the crop's edge (y = -0.5): the last sample in the crop
    assert push[1] == pytest.approx(40.5)
    assert push[8] == pytest.approx(5.5)  # stops before the second part's first cell
    assert push[9] == 0 and push[10] == 0 and push[0] == 0  # no direction: stays
    # the reach bounds it; a rim outside the mask stays
    assert rim_pushes(xy[None], direction, grid, 1.0, faces, np.array([3.0]))[0, 1, 1] == -3.0
    outside = np.zeros_like(grid)
    assert not rim_pushes(xy[None], direction, outside, 1.0, faces, np.array([100.0])).any()


def test_finisher_fits_the_outline_to_the_foreground() -> None:
    body = template_in_pixels()
    fixed = tuple(scales(torso=0.2).tolist())
    wide = OutlineWidening(scales(torso=0.8, upper_leg=0.8), Topology.load("low"))(body)
    raw = RawPrediction(body, np.full((1, 518), 0.9, np.float32))
    with_mask = RawPrediction(raw.vertices, raw.visibility, foreground=rasterised_cells(wide))
    plain, fitted = Finisher(fixed)(raw), Finisher(fixed)(with_mask)
    np.testing.assert_array_equal(plain.keypoints, fitted.keypoints)
    torso = np.isin(Topology.load("high").vertex_part, [1, 2])
    width = [np.ptp(p.vertices_high[0, torso, 0]) for p in (plain, fitted)]
    # wider where the mask is (not by the full planted 0.8: beside the arms the torso's
    # ground ends half-way to the arm's bone)
    assert width[1] > 1.1 * width[0]
    assert fitted.foreground is with_mask.foreground
