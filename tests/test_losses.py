"""MeshPose losses against values computed by hand on tiny meshes."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from meshpose_core.topology import Topology
from meshpose_core.train.losses import (
    TERMS,
    LossWeights,
    MeshPoseLoss,
    SilhouetteConfig,
    barycentric_cross_entropy,
    crop_to_grid,
    edge_loss,
    foreground_bce,
    joint_loss,
    mask_distance_transform,
    masked_mean,
    normal_loss,
    regress_keypoints,
    render_soft_silhouette,
    sample_scores,
    soft_silhouette_loss,
    uv_consistency,
    vertex_loss,
    visibility_bce,
)

FIXTURES = Path(__file__).parent / "fixtures"
LN2 = math.log(2.0)
TRIANGLE = torch.tensor([[0, 1, 2]])
UNIT_TRIANGLE = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]], dtype=torch.float64)
TRI_EDGES = torch.tensor([[0, 1], [0, 2], [1, 2]])


def _scores(values: list[float]) -> torch.Tensor:
    """(1, V, 1, 1) score maps holding log(values), with gradients."""
    log = torch.tensor(values, dtype=torch.float64).log()
    return log.reshape(1, -1, 1, 1).requires_grad_()


def _point() -> torch.Tensor:
    return torch.zeros(1, 1, 2, dtype=torch.float64)


def _assert_zero_with_finite_grad(loss: torch.Tensor, *leaves: torch.Tensor) -> None:
    assert loss.item() == 0.0
    loss.backward()
    for leaf in leaves:
        assert leaf.grad is not None and torch.isfinite(leaf.grad).all()


# --- helpers --------------------------------------------------------------------------------


def test_masked_mean_weights_per_sample_and_per_element():
    values = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert masked_mean(values).item() == 2.5
    assert masked_mean(values, torch.tensor([True, False])).item() == 1.5
    assert masked_mean(values, torch.tensor([[1.0, 0.0], [0.0, 3.0]])).item() == 13.0 / 4.0
    with pytest.raises(ValueError, match="does not lead"):
        masked_mean(values, torch.ones(3))


def test_masked_mean_ignores_nan_in_masked_entries_and_is_zero_when_nothing_valid():
    values = torch.tensor([[1.0, float("nan")]], requires_grad=True)
    assert masked_mean(values, torch.tensor([[1.0, 0.0]])).item() == 1.0
    _assert_zero_with_finite_grad(masked_mean(values, torch.zeros(1, 2)), values)
    assert masked_mean(torch.zeros(2, 0)).item() == 0.0


def test_crop_to_grid_maps_cell_centres_and_boundaries():
    # crop (H, W) = (8, 4) onto a (2, 2) grid: strides 4 in y and 2 in x.
    xy = torch.tensor([[0.5, 1.5], [1.5, 3.5], [-0.5, -0.5]])
    grid = crop_to_grid(xy, (8, 4), (2, 2))
    # (0.5, 1.5) is the centre of cell 0 (pixels x 0-1, y 0-3); (1.5, 3.5) the corner shared
    # with cell (1, 1); the crop's top-left corner is the grid's.
    torch.testing.assert_close(grid, torch.tensor([[0.0, 0.0], [0.5, 0.5], [-0.5, -0.5]]))


def test_sample_scores_is_bilinear_in_cell_coordinates_with_border_clamp():
    scores = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]).reshape(1, 1, 2, 3)
    points = torch.tensor([[[0.5, 0.5], [2.0, 1.0], [-3.0, 0.0], [1.0, 0.25]]])
    sampled = sample_scores(scores, points)
    assert sampled.shape == (1, 4, 1)
    torch.testing.assert_close(sampled[0, :, 0], torch.tensor([2.0, 5.0, 0.0, 1.75]))


# --- L_BL -------------------------------------------------------------------------------------


def test_barycentric_cross_entropy_hand_value():
    # q = (1/4, 1/2, 1/4); target b = (1/2, 1/4, 1/4) on the face's corners in face order.
    bary = torch.tensor([[[0.5, 0.25, 0.25]]], dtype=torch.float64)
    args = (_scores([1, 2, 1]), _point(), torch.zeros(1, 1, dtype=torch.long), bary)
    # -(1/2 ln 1/4 + 1/4 ln 1/2 + 1/4 ln 1/4) = 7/4 ln 2
    assert barycentric_cross_entropy(*args, TRIANGLE).item() == pytest.approx(1.75 * LN2)
    # corners (1, 0, 2): the mass 1/2 now sits on q = 1/2 -> 1/2 ln 2 + 1/2 ln 4
    swapped = torch.tensor([[1, 0, 2]])
    assert barycentric_cross_entropy(*args, swapped).item() == pytest.approx(1.5 * LN2)


def test_barycentric_cross_entropy_optimum_is_the_entropy_with_zero_gradient():
    b = [0.5, 0.3, 0.2]
    scores = _scores(b)
    bary = torch.tensor([[b]], dtype=torch.float64)
    loss = barycentric_cross_entropy(scores, _point(), torch.zeros(1, 1, dtype=int), bary, TRIANGLE)
    assert loss.item() == pytest.approx(-sum(p * math.log(p) for p in b))
    loss.backward()
    torch.testing.assert_close(scores.grad, torch.zeros_like(scores))


def test_barycentric_cross_entropy_samples_bilinearly_between_cells():
    # Cell 0 holds zeros, cell 1 holds 2 log(1, 2, 1): halfway the logits are log(1, 2, 1).
    log = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64).log()
    scores = torch.stack((torch.zeros(3, dtype=torch.float64), 2 * log), dim=-1)
    scores = scores.reshape(1, 3, 1, 2)
    point = torch.tensor([[[0.5, 0.0]]], dtype=torch.float64)
    bary = torch.tensor([[[0.5, 0.25, 0.25]]], dtype=torch.float64)
    loss = barycentric_cross_entropy(scores, point, torch.zeros(1, 1, dtype=int), bary, TRIANGLE)
    assert loss.item() == pytest.approx(1.75 * LN2)


def test_barycentric_cross_entropy_masks_points():
    scores = _scores([1, 2, 1])
    points = torch.zeros(1, 2, 2, dtype=torch.float64)
    faces = torch.tensor([[0, -7]])  # the padded point's index is out of range: it is masked
    bary = torch.tensor([[[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]]], dtype=torch.float64)
    args = (scores, points, faces, bary, TRIANGLE)
    loss = barycentric_cross_entropy(*args, mask=torch.tensor([[1.0, 0.0]]))
    assert loss.item() == pytest.approx(1.75 * LN2)
    _assert_zero_with_finite_grad(barycentric_cross_entropy(*args, mask=torch.zeros(1)), scores)


# --- L_consistency ------------------------------------------------------------------------------

UV_FACES = torch.tensor([[0, 1, 2], [1, 2, 3]])
CORNER_UV = torch.tensor(
    [[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]],
    dtype=torch.float64,
)


def _uv_loss(scores: torch.Tensor, bary: list[float], norm: str = "l1") -> torch.Tensor:
    b = torch.tensor([[bary]], dtype=torch.float64)
    face = torch.zeros(1, 1, dtype=torch.long)
    return uv_consistency(scores, _point(), face, b, UV_FACES, CORNER_UV, norm=norm)


def test_uv_consistency_hand_value_renormalised_over_the_face():
    # V = 4 with the off-face vertex 3 most likely: on face 0 the posterior renormalises to
    # (1/4, 1/2, 1/4) -> UV (1/2, 1/4); the annotation (1/3, 1/3, 1/3) -> UV (1/3, 1/3).
    scores = _scores([1, 2, 1, 4])
    assert _uv_loss(scores, [1 / 3] * 3).item() == pytest.approx(1 / 6 + 1 / 12)
    assert _uv_loss(scores, [1 / 3] * 3, "l2").item() == pytest.approx(math.sqrt(5) / 12)
    with pytest.raises(ValueError, match="unknown norm"):
        _uv_loss(scores, [1 / 3] * 3, "l3")


def test_uv_consistency_zero_when_face_posterior_matches_and_off_face_score_free():
    scores = _scores([2, 1, 1, 100])
    loss = _uv_loss(scores, [0.5, 0.25, 0.25])
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    loss.backward()
    assert scores.grad[0, 3].item() == 0.0  # only the face's vertices are involved


def test_uv_consistency_gradient_moves_posterior_towards_annotation():
    scores = _scores([1, 1, 1, 1])
    _uv_loss(scores, [0.0, 1.0, 0.0]).backward()  # annotation at corner 1 (UV (1, 0))
    grad = scores.grad.flatten()
    assert grad[1] < 0 < grad[2]  # raise vertex 1, lower vertex 2


# --- L_W --------------------------------------------------------------------------------------


def test_visibility_bce_hand_value_mask_and_gradient():
    logits = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)
    target = torch.tensor([[1, 0]])
    loss = visibility_bce(logits, target)
    assert loss.item() == pytest.approx((LN2 + 2 * LN2) / 2)  # -ln 1/2 and -ln(1 - 3/4)
    loss.backward()
    torch.testing.assert_close(logits.grad, torch.tensor([[-0.25, 0.375]]))  # (p - y) / 2
    assert visibility_bce(logits, target, torch.tensor([[1, 0]])).item() == pytest.approx(LN2)
    logits.grad = None
    _assert_zero_with_finite_grad(visibility_bce(logits, target, torch.zeros(1)), logits)


# --- L_V --------------------------------------------------------------------------------------


def test_vertex_loss_hand_value_with_separate_depth_mask():
    pred = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]], requires_grad=True)
    target = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 0.0, 4.0]]])
    # xy: (3 + 0) / 2; z: (3 + 4) / 2
    assert vertex_loss(pred, target).item() == pytest.approx(1.5 + 3.5)
    assert vertex_loss(pred, target, depth_weight=0.5).item() == pytest.approx(1.5 + 1.75)
    depth_mask = torch.tensor([[1.0, 0.0]])
    assert vertex_loss(pred, target, depth_mask=depth_mask).item() == pytest.approx(1.5 + 3.0)
    assert vertex_loss(pred, target[..., :2]).item() == pytest.approx(1.5)  # 2D target: no z
    loss = vertex_loss(pred, target, depth_mask=torch.zeros(1))  # real data: no depth at all
    assert loss.item() == pytest.approx(1.5)
    loss.backward()
    assert pred.grad[..., 2].abs().sum().item() == 0.0


def test_vertex_loss_zero_at_target_and_per_sample_mask():
    target = torch.randn(2, 5, 3)
    assert vertex_loss(target.clone(), target).item() == 0.0
    pred = target.clone()
    pred[1] += 100.0
    assert vertex_loss(pred, target, mask=torch.tensor([1.0, 0.0])).item() == 0.0


# --- L_E, L_N ---------------------------------------------------------------------------------


def test_edge_loss_hand_value_masks_and_translation_invariance():
    pred = torch.tensor([[[0.0, 0, 0], [3, 0, 0], [0, 4, 0]]], dtype=torch.float64)
    # lengths (3, 4, 5) against (1, 1, sqrt 2)
    expected = (2 + 3 + 5 - math.sqrt(2)) / 3
    assert edge_loss(pred, UNIT_TRIANGLE, TRI_EDGES).item() == pytest.approx(expected)
    vertex_mask = torch.tensor([[1.0, 1.0, 0.0]])  # only edge (0, 1) keeps both ends
    assert edge_loss(pred, UNIT_TRIANGLE, TRI_EDGES, vertex_mask).item() == pytest.approx(2.0)
    shifted = UNIT_TRIANGLE + torch.tensor([5.0, -2.0, 1.0], dtype=torch.float64)
    assert edge_loss(shifted, UNIT_TRIANGLE, TRI_EDGES).item() == pytest.approx(0.0, abs=1e-12)


def test_edge_loss_collapsed_prediction_has_finite_gradient():
    pred = torch.zeros(1, 3, 3, dtype=torch.float64, requires_grad=True)
    loss = edge_loss(pred, UNIT_TRIANGLE, TRI_EDGES)
    assert loss.item() == pytest.approx((2 + math.sqrt(2)) / 3, abs=1e-5)
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_normal_loss_hand_value():
    # Target normal +z; predicted unit edges (1,0,1)/√2, (-1,1,-1)/√3, (0,-1,0).
    pred = torch.tensor([[[0.0, 0, 0], [1, 0, 1], [0, 1, 0]]], dtype=torch.float64)
    expected = 1 / math.sqrt(2) + 1 / math.sqrt(3)
    assert normal_loss(pred, UNIT_TRIANGLE, TRIANGLE).item() == pytest.approx(expected)


def test_normal_loss_zero_for_in_plane_faces_and_masks():
    angle = 0.7
    rot = torch.tensor(
        [[math.cos(angle), -math.sin(angle), 0], [math.sin(angle), math.cos(angle), 0], [0, 0, 1]],
        dtype=torch.float64,
    )
    in_plane = 2.5 * UNIT_TRIANGLE @ rot.T + torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert normal_loss(in_plane, UNIT_TRIANGLE, TRIANGLE).item() == pytest.approx(0, abs=1e-12)
    tilted = torch.tensor([[[0.0, 0, 0], [1, 0, 1], [0, 1, 0]]], dtype=torch.float64)
    assert normal_loss(tilted, UNIT_TRIANGLE, TRIANGLE, torch.tensor([[1, 0, 1]])).item() == 0.0


def test_normal_loss_degenerate_target_face_contributes_zero_with_finite_gradient():
    collinear = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [2, 0, 0]]], dtype=torch.float64)
    pred = torch.tensor([[[0.0, 0, 0], [1, 0, 1], [0, 1, 0]]], dtype=torch.float64)
    pred.requires_grad_()
    loss = normal_loss(pred, collinear, TRIANGLE)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(pred.grad).all()


# --- L_J --------------------------------------------------------------------------------------


def test_joint_loss_hand_value_2d_3d_and_mask():
    vertices = torch.tensor([[[0.0, 0.0, 0.0], [4.0, 8.0, 4.0]]], requires_grad=True)
    index, weight = torch.tensor([[0, 1]]), torch.tensor([[0.25, 0.75]])  # keypoint (3, 6, 3)
    assert joint_loss(vertices, torch.tensor([[[1.0, 1.0]]]), index, weight).item() == 7.0
    target3 = torch.tensor([[[1.0, 1.0, 1.0]]])
    assert joint_loss(vertices, target3, index, weight).item() == 9.0
    loss = joint_loss(vertices, target3, index, weight, torch.zeros(1, 1))
    _assert_zero_with_finite_grad(loss, vertices)


def test_regress_keypoints_matches_the_topology_landmarker():
    low = Topology.load("low")
    with np.load(FIXTURES / "posed_bodies.npz") as bodies:
        vertices = bodies["low"][:2].astype(np.float32)
    ours = regress_keypoints(
        torch.from_numpy(vertices),
        torch.from_numpy(low.landmark_index),
        torch.from_numpy(low.landmark_weight),
    )
    np.testing.assert_allclose(ours.numpy(), low.keypoints(vertices), atol=1e-5)


# --- L_Is -------------------------------------------------------------------------------------

IDENTITY = (8, 8)  # crop size equal to the render size: crop pixels are grid pixels
SMALL = SilhouetteConfig(render_size=IDENTITY, radius=1.0, softness=0.5)


def _dense_silhouette(xy: torch.Tensor, w: torch.Tensor, cfg: SilhouetteConfig) -> torch.Tensor:
    """Reference: 1 - prod_j (1 - w_j D_j(p)) over every pixel and vertex, no window."""
    h, wd = cfg.render_size
    ys, xs = torch.meshgrid(torch.arange(float(h)), torch.arange(float(wd)), indexing="ij")
    d = ((xs - xy[:, :, None, None, 0]) ** 2 + (ys - xy[:, :, None, None, 1]) ** 2).sqrt()
    splat = w[:, :, None, None] * torch.sigmoid((cfg.radius - d) / cfg.softness)
    return 1 - (1 - splat).prod(dim=1)


def test_render_soft_silhouette_hand_values_single_vertex():
    xy = torch.tensor([[[3.0, 4.0]]])
    image = render_soft_silhouette(xy, torch.tensor([[0.5]]), IDENTITY, SMALL)
    sig = torch.sigmoid
    assert image[0, 4, 3].item() == pytest.approx(0.5 * sig(torch.tensor(2.0)).item())
    assert image[0, 4, 4].item() == pytest.approx(0.25)  # on the radius: D = 1/2
    expected = 0.5 * sig(torch.tensor((1 - math.sqrt(2)) / 0.5)).item()
    assert image[0, 5, 4].item() == pytest.approx(expected)


def test_render_soft_silhouette_combines_vertices_as_a_soft_union():
    xy = torch.tensor([[[3.0, 4.0], [3.0, 4.0]]])
    w = torch.tensor([[0.5, 0.5]])
    d = 0.5 * torch.sigmoid(torch.tensor(2.0)).item()
    image = render_soft_silhouette(xy, w, IDENTITY, SMALL)
    assert image[0, 4, 3].item() == pytest.approx(1 - (1 - d) ** 2)


def test_render_soft_silhouette_window_matches_dense_reference_and_scales_from_crop():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(2, 6, 2, generator=gen) * 10 - 1  # some vertices off the grid
    w = torch.rand(2, 6, generator=gen)
    image = render_soft_silhouette(xy, w, IDENTITY, SMALL)
    torch.testing.assert_close(image, _dense_silhouette(xy, w, SMALL), atol=2e-3, rtol=0)
    # the same vertices in a 4x larger crop render the same image
    crop_xy = (xy + 0.5) * 4 - 0.5
    torch.testing.assert_close(render_soft_silhouette(crop_xy, w, (32, 32), SMALL), image)
    far = render_soft_silhouette(xy + 100.0, w, IDENTITY, SMALL)
    assert far.abs().max().item() == 0.0


def test_render_soft_silhouette_gradient_finite_on_pixel_centres():
    xy = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]], requires_grad=True)
    w = torch.tensor([[1.0, 1.0]], requires_grad=True)
    render_soft_silhouette(xy, w, IDENTITY, SMALL).sum().backward()
    assert torch.isfinite(xy.grad).all() and torch.isfinite(w.grad).all()
    assert (w.grad > 0).all()


def test_mask_distance_transform_hand_values():
    mask = torch.zeros(2, 3, 3, dtype=torch.bool)
    mask[0, 0, 0] = True
    dist = mask_distance_transform(mask)
    assert dist[0, 0, 0].item() == 0.0
    assert dist[0, 0, 2].item() == pytest.approx(2.0)
    assert dist[0, 2, 2].item() == pytest.approx(2 * math.sqrt(2))
    assert dist[1].abs().max().item() == 0.0  # empty mask: nothing to pull towards


def _rectangle_mask(batch: int = 1) -> torch.Tensor:
    mask = torch.zeros(batch, 64, 64)
    mask[:, 16:48, 24:40] = 1.0
    return mask


def _cloud(offset: float = 0.0) -> torch.Tensor:
    """Vertices every render pixel over the rectangle, in the crop pixels of a 256 crop."""
    ys, xs = torch.meshgrid(torch.arange(16.0, 48.0), torch.arange(24.0, 40.0), indexing="ij")
    grid_xy = torch.stack((xs.flatten() + offset, ys.flatten()), dim=-1)
    return ((grid_xy + 0.5) * 4 - 0.5).unsqueeze(0)


def test_soft_silhouette_loss_is_the_documented_sum():
    xy, w, mask = _cloud(3.0), torch.full((1, 512), 0.8), _rectangle_mask()
    cfg = SilhouetteConfig(mse_weight=7.0, boundary_weight=3.0)
    image = render_soft_silhouette(xy, w, (256, 256), cfg)
    dist = mask_distance_transform(mask > 0.5)
    expected = 7.0 * ((image - mask) ** 2).mean() + 3.0 * (image * dist).mean()
    loss = soft_silhouette_loss(xy, w, mask, (256, 256), cfg)
    assert loss.item() == pytest.approx(expected.item())


def test_soft_silhouette_loss_prefers_the_cloud_covering_the_mask():
    w, mask = torch.ones(1, 512), _rectangle_mask()
    losses = [soft_silhouette_loss(_cloud(dx), w, mask, (256, 256)).item() for dx in (0, 1, 3, 12)]
    assert losses == sorted(losses) and losses[0] < 0.05 * losses[-1]
    blank = soft_silhouette_loss(_cloud(), torch.zeros(1, 512), mask, (256, 256)).item()
    assert blank == pytest.approx(100 * 0.125)  # nothing rendered: 100 * mask area fraction
    assert losses[0] < 0.1 * blank


def test_soft_silhouette_boundary_term_pulls_a_stray_vertex_back():
    mask = _rectangle_mask()
    stray = torch.tensor([[[(50 + 0.5) * 4 - 0.5, (30 + 0.5) * 4 - 0.5]]], requires_grad=True)
    w = torch.ones(1, 1)
    only_mse = SilhouetteConfig(boundary_weight=0.0)
    soft_silhouette_loss(stray, w, mask, (256, 256), only_mse).backward()
    assert abs(stray.grad[0, 0, 0].item()) < 1e-6  # squared term: no lateral pull
    stray.grad = None
    soft_silhouette_loss(stray, w, mask, (256, 256)).backward()
    assert stray.grad[0, 0, 0].item() > 1e-5  # descending moves it left, towards the mask


def test_soft_silhouette_loss_resamples_full_resolution_masks_and_masks_samples():
    xy, w = _cloud(2.0).repeat(2, 1, 1), torch.ones(2, 512)
    small = _rectangle_mask(2)
    full = small.repeat_interleave(4, dim=1).repeat_interleave(4, dim=2)  # (2, 256, 256)
    a = soft_silhouette_loss(xy, w, small, (256, 256))
    b = soft_silhouette_loss(xy, w, full, (256, 256))
    assert a.item() == pytest.approx(b.item())
    garbage = small.clone()
    garbage[1] = 1.0 - garbage[1]
    masked = soft_silhouette_loss(xy, w, garbage, (256, 256), mask=torch.tensor([1.0, 0.0]))
    assert masked.item() == pytest.approx(a.item())
    xy.requires_grad_()
    none = soft_silhouette_loss(xy, w, garbage, (256, 256), mask=torch.zeros(2))
    _assert_zero_with_finite_grad(none, xy)


# --- MeshPoseLoss -----------------------------------------------------------------------------


def _tetrahedron_loss(weights: LossWeights | None = None) -> MeshPoseLoss:
    faces = torch.tensor([[0, 2, 1], [0, 1, 3], [1, 2, 3], [2, 0, 3]])
    topo = SimpleNamespace(
        faces=faces.numpy(),
        edges=np.array([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]),
        corner_part_uv=np.random.default_rng(0).random((4, 3, 2)).astype(np.float32),
        landmark_index=np.array([[0, 1], [2, 3]]),
        landmark_weight=np.array([[0.5, 0.5], [0.25, 0.75]], np.float32),
    )
    silhouette = SilhouetteConfig(render_size=(16, 16))
    return MeshPoseLoss.from_topology(topo, (32, 32), weights, silhouette)


def _batch(seed: int = 0) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(seed)
    pred = {
        "scores": torch.randn(2, 4, 8, 8, generator=gen).requires_grad_(),
        "vertices": (torch.rand(2, 4, 3, generator=gen) * 32).requires_grad_(),
        "vis_logit": torch.randn(2, 4, generator=gen).requires_grad_(),
        "fg_logit": torch.randn(2, 1, 8, 8, generator=gen).requires_grad_(),
    }
    bary = torch.rand(2, 5, 3, generator=gen)
    silhouette = torch.zeros(2, 32, 32)
    silhouette[:, 8:24, 10:20] = 1.0
    target = {
        "dp_points": torch.rand(2, 5, 2, generator=gen) * 32,
        "dp_face": torch.randint(0, 4, (2, 5), generator=gen),
        "dp_bary": bary / bary.sum(-1, keepdim=True),
        "visibility": (torch.rand(2, 4, generator=gen) > 0.5).float(),
        "vertices": torch.rand(2, 4, 3, generator=gen) * 32,
        "depth_mask": torch.tensor([1.0, 0.0]),
        "keypoints": torch.rand(2, 2, 2, generator=gen) * 32,
        "keypoints_mask": torch.tensor([[1.0, 0.0], [1.0, 1.0]]),
        "silhouette": silhouette,
    }
    return pred, target


def test_meshpose_loss_total_is_the_weighted_sum_of_terms():
    weights = LossWeights(barycentric=0.3, edge=2.0, silhouette=0.5)
    loss_fn = _tetrahedron_loss(weights)
    pred, target = _batch()
    total, logged = loss_fn(pred, target)
    assert set(logged) == {*TERMS, "total"}
    assert all(logged[name] > 0 for name in TERMS)
    expected = sum(getattr(weights, name) * logged[name] for name in TERMS)
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert logged["total"] == pytest.approx(total.item())
    assert [f.name for f in dataclasses.fields(LossWeights())] == list(TERMS)
    total.backward()
    for value in pred.values():
        assert torch.isfinite(value.grad).all() and value.grad.abs().sum() > 0


def test_meshpose_loss_terms_are_the_plain_functions():
    loss_fn = _tetrahedron_loss()
    pred, target = _batch(1)
    terms = loss_fn.terms(pred, target)
    points = crop_to_grid(target["dp_points"], (32, 32), (8, 8))
    dp = (pred["scores"], points, target["dp_face"], target["dp_bary"], loss_fn.faces)
    torch.testing.assert_close(terms["barycentric"], barycentric_cross_entropy(*dp))
    torch.testing.assert_close(terms["consistency"], uv_consistency(*dp, loss_fn.corner_uv))
    mesh_args = (pred["vertices"], target["vertices"])
    depth = target["depth_mask"]
    torch.testing.assert_close(terms["vertex"], vertex_loss(*mesh_args, depth_mask=depth))
    torch.testing.assert_close(terms["edge"], edge_loss(*mesh_args, loss_fn.edges, depth))
    torch.testing.assert_close(terms["normal"], normal_loss(*mesh_args, loss_fn.faces, depth))


def test_meshpose_loss_missing_or_masked_supervision_contributes_zero():
    loss_fn = _tetrahedron_loss()
    pred, target = _batch()
    total, logged = loss_fn(pred, {})
    assert total.item() == 0.0 and all(v == 0.0 for v in logged.values())
    real = {k: target[k] for k in ("keypoints", "keypoints_mask", "silhouette")}
    _, logged = loss_fn(pred, real)  # real images: 2D joints and silhouettes only
    from_mask = ("joint", "silhouette", "foreground")
    assert all(logged[k] > 0 for k in from_mask)
    assert all(logged[k] == 0.0 for k in TERMS if k not in from_mask)
    masked = {**target, "dp_mask": torch.zeros(2), "silhouette_mask": torch.zeros(2)}
    total, logged = loss_fn(pred, masked)
    assert logged["barycentric"] == logged["consistency"] == logged["silhouette"] == 0.0
    assert logged["foreground"] == 0.0
    assert math.isfinite(total.item())


def test_foreground_bce_by_hand():
    # a 2x2 logit grid against a 4x4 mask: area-resampled, the left column is all person
    # (target 1), the right one half (target 0.5)
    mask = torch.zeros(1, 4, 4)
    mask[0, :, :3] = 1.0
    logit = torch.tensor([[[[2.0, 0.0], [2.0, 0.0]]]], requires_grad=True)
    loss = foreground_bce(logit, mask)
    left = -math.log(1 / (1 + math.exp(-2.0)))
    right = math.log(2.0)  # BCE of logit 0 against 0.5 (and against anything)
    assert loss.item() == pytest.approx((left + right) / 2, rel=1e-6)
    loss.backward()
    # at logit 0 against 0.5 the gradient vanishes; the left column is pushed up
    assert logit.grad[0, 0, :, 1].abs().max() < 1e-7
    assert (logit.grad[0, 0, :, 0] < 0).all()
    # a perfect, confident foreground costs ~nothing; a sample masked out costs nothing
    sure = (mask[:, None, ::2, ::2] * 40 - 20).clone()
    assert foreground_bce(sure, mask[:, ::2, ::2]).item() < 1e-8
    assert foreground_bce(logit, mask, torch.zeros(1)).item() == 0.0


def test_meshpose_loss_on_the_low_topology_runs_and_backpropagates():
    low = Topology.load("low")
    loss_fn = MeshPoseLoss.from_topology(low, (192, 192))
    b, v = 2, low.num_vertices
    gen = torch.Generator().manual_seed(0)
    pred = {
        "scores": torch.randn(b, v, 48, 48, generator=gen).requires_grad_(),
        "vertices": (torch.rand(b, v, 3, generator=gen) * 192).requires_grad_(),
        "vis_logit": torch.randn(b, v, generator=gen).requires_grad_(),
    }
    target = {
        "dp_points": torch.rand(b, 20, 2, generator=gen) * 192,
        "dp_face": torch.randint(0, low.num_faces, (b, 20), generator=gen),
        "dp_bary": torch.full((b, 20, 3), 1 / 3),
        "vertices": torch.rand(b, v, 3, generator=gen) * 192,
        "keypoints": torch.rand(b, 23, 2, generator=gen) * 192,
        "silhouette": (torch.rand(b, 192, 192, generator=gen) > 0.5).float(),
    }
    total, logged = loss_fn(pred, target)
    assert math.isfinite(total.item()) and logged["visibility"] == 0.0
    total.backward()
    assert all(torch.isfinite(t.grad).all() for t in pred.values())
