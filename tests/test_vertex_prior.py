"""The BlazePose-heatmap prior: the weight fit and the exact initialisation of both heads."""

from __future__ import annotations

import numpy as np
import torch

from meshpose_core.model.decoding import argsoftmax_1d, bin_ranges, spatial_argsoftmax
from meshpose_core.model.heads import (
    RegressionHead,
    RegressionHeadConfig,
    VertexPoseHead,
    VertexPoseHeadConfig,
)
from meshpose_core.model.vertex_prior import (
    NUM_HEATMAPS,
    fit_anchor_weights,
    fit_vertex_weights,
    heatmap_prior,
    load_prior,
    prior_keypoints,
)


def test_fit_recovers_convex_weights() -> None:
    rng = np.random.default_rng(0)
    keypoints = rng.normal(size=(60, 4, 3))
    truth = rng.dirichlet(np.ones(4), size=7)  # (V, K), rows sum to one
    truth[0] = [1, 0, 0, 0]
    vertices = np.einsum("vk,nkd->nvd", truth, keypoints)
    weights = fit_vertex_weights(vertices, keypoints)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights, truth, atol=1e-3)


def test_shipped_prior_is_convex_over_blazepose_body_landmarks() -> None:
    prior = load_prior()
    _, channels = prior_keypoints()
    assert prior.shape == (518, NUM_HEATMAPS)
    np.testing.assert_allclose(prior.sum(1), 1.0, atol=0.02)
    unused = np.setdiff1d(np.arange(NUM_HEATMAPS), channels)
    assert (prior[:, unused] == 0).all() and (prior >= 0).all()
    assert heatmap_prior(np.eye(len(channels))[:3], channels)[:, channels].sum() == 3


def test_vertexpose_head_starts_as_the_prior() -> None:
    torch.manual_seed(0)
    head = VertexPoseHead(8 + 3, 4, VertexPoseHeadConfig(width=8), prior_channels=3)
    prior = torch.rand(4, 3)
    head.set_prior(prior)
    features = torch.randn(2, 11, 6, 6)
    scores, fg = head(features)
    expected = torch.einsum("vk,bkhw->bvhw", prior, features[:, 8:])
    torch.testing.assert_close(scores, expected)
    assert fg.shape == (2, 1, 6, 6)
    # the prior is a buffer: saved with the weights, never trained
    assert "prior_weight" in head.state_dict()
    assert all(p.data_ptr() != head.prior_weight.data_ptr() for p in head.parameters())


def test_regression_head_starts_at_the_prior_mix_of_keypoints() -> None:
    torch.manual_seed(0)
    k, v, size = 3, 5, 192.0
    head = RegressionHead(8, v, RegressionHeadConfig(bins=64), extra_channels=2 * k)
    prior = torch.distributions.Dirichlet(torch.ones(k)).sample((v,))
    ranges = bin_ranges(size, size)
    head.set_keypoint_prior(prior, ranges, (int(size), int(size)))
    keypoints = torch.rand(2, k, 2) * size  # (x, y) inside the crop
    out = head(torch.randn(2, 8, 6, 6), (keypoints / size).flatten(1))
    x = argsoftmax_1d(out["x_logits"], *ranges["x"])
    y = argsoftmax_1d(out["y_logits"], *ranges["y"])
    expected = torch.einsum("vk,bkd->bvd", prior, keypoints)
    torch.testing.assert_close(torch.stack((x, y), -1), expected, atol=0.5, rtol=0)


def test_heatmap_softargmax_feeds_the_regression_in_crop_pixels() -> None:
    # a one-hot heatmap peak at cell (i, j) -> the pixel the score maps' decoding gives it
    maps = torch.full((1, 1, 48, 48), -50.0)
    maps[0, 0, 10, 30] = 0.0
    xy = spatial_argsoftmax(maps, 1.0, 4)[0, 0]
    torch.testing.assert_close(xy, torch.tensor([30 * 4 + 1.5, 10 * 4 + 1.5]))


def test_frozen_xy_residuals_keep_xy_and_train_depth() -> None:
    from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet

    torch.manual_seed(0)
    net = MeshPoseNet(MeshPoseConfig.preset("xs_bp")).eval()  # eval: fixed BatchNorm stats
    net.freeze_xy_residuals()
    images = torch.randn(2, 3, 192, 192)
    with torch.no_grad():
        before = net.decode(net(images))
    heads = [*net.vertex_head.parameters(), *net.regression_head.parameters()]
    opt = torch.optim.Adam(heads, lr=1e-2)
    for _ in range(3):
        out = net.decode(net(images))
        loss = out.vertices.square().mean() + out.visibility.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = net.decode(net(images))
    for key in ("xy_vertexpose", "xy_regressed"):  # XY is exactly the prior's
        torch.testing.assert_close(getattr(after, key), getattr(before, key), rtol=0, atol=1e-4)
    assert (after.vertices[..., 2] - before.vertices[..., 2]).abs().max() > 1e-3
    assert (after.visibility - before.visibility).abs().max() > 1e-3


def test_checkpoint_carries_the_prior(tmp_path, monkeypatch) -> None:
    """Loading needs no prior file: the buffers come with the weights."""
    from meshpose_core.model import vertex_prior
    from meshpose_core.model.checkpoint import load_checkpoint, save_checkpoint
    from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet

    net = MeshPoseNet(MeshPoseConfig.preset("xs_bp"))
    path = tmp_path / "m.safetensors"
    save_checkpoint(net, path, {})
    monkeypatch.setattr(vertex_prior, "DEFAULT_PRIOR_PATH", tmp_path / "missing.npz")
    loaded, _ = load_checkpoint(path)
    torch.testing.assert_close(loaded.vertex_head.prior_weight, net.vertex_head.prior_weight)
    torch.testing.assert_close(loaded.regression_head.prior_mix, net.regression_head.prior_mix)


def _similarity(rng: np.random.Generator, points: np.ndarray) -> np.ndarray:
    """(N, P, 2) -> each set rotated, scaled and shifted at random (a crop's augmentation)."""
    angle = rng.uniform(-np.pi, np.pi, len(points))
    rot = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1)
    rot = rot.reshape(-1, 2, 2) * rng.uniform(20, 80, (len(points), 1, 1))
    return np.einsum("nij,npj->npi", rot, points) + rng.uniform(0, 192, (len(points), 1, 2))


def test_anchor_fit_recovers_affine_weights_with_negative_entries() -> None:
    rng = np.random.default_rng(0)
    k, v = 5, 6
    truth = rng.normal(size=(v, k))
    truth += (1 - truth.sum(1, keepdims=True)) / k  # rows sum to one, some entries < 0
    assert (truth < 0).any()
    keypoints = _similarity(rng, rng.normal(size=(200, k, 2)))
    vertices = np.einsum("vk,nkd->nvd", truth, keypoints)
    start = np.full((v, k), 1 / k)
    weights = fit_anchor_weights(vertices, keypoints, start, ridge=1e-9)
    np.testing.assert_allclose(weights, truth, atol=1e-5)
    # with no evidence the ridge keeps the start, and rows always sum to one
    weak = fit_anchor_weights(vertices[:2], keypoints[:2], start, ridge=1e6)
    np.testing.assert_allclose(weak, start, atol=1e-3)
    np.testing.assert_allclose(weak.sum(1), 1.0, atol=1e-9)


def test_anchor_fit_consistency_keeps_the_meshs_keypoints_on_the_landmarks() -> None:
    rng = np.random.default_rng(1)
    k, v = 4, 8
    keypoints = _similarity(rng, rng.normal(size=(100, k, 2)))
    vertices = np.einsum("vk,nkd->nvd", rng.dirichlet(np.ones(k), v), keypoints)
    vertices += rng.normal(scale=3.0, size=vertices.shape)
    landmarks = rng.dirichlet(np.ones(v), k)  # (K, V) regressor rows sum to one
    start = np.full((v, k), 1 / k)
    loose = fit_anchor_weights(vertices, keypoints, start, 1e-6, landmarks, 0.0)
    tight = fit_anchor_weights(vertices, keypoints, start, 1e-6, landmarks, 1e4)
    eye = np.eye(k)
    assert np.abs(landmarks @ tight - eye).max() < 1e-2 < np.abs(landmarks @ loose - eye).max()
    np.testing.assert_allclose(tight.sum(1), 1.0, atol=1e-9)


def test_anchor_head_decodes_to_the_affine_mix_of_keypoints() -> None:
    """Spatial argsoftmax of the anchor scores gives the anchor back in crop pixels, with the
    decoding's pixel convention (a vertex at a keypoint decodes to that keypoint)."""
    cfg = VertexPoseHeadConfig(width=8, beta=16.0, prior_kind="anchor")
    head = VertexPoseHead(8 + 3, 3, cfg, prior_channels=3)
    mix = torch.tensor([[1.0, 0.0, 0.0], [1.2, -0.2, 0.0], [0.5, 0.25, 0.25]])
    head.set_prior(mix)
    size = 192.0
    keypoints = torch.tensor([[[60.0, 50.0], [100.0, 70.0], [90.0, 150.0]]])  # (1, K, 2) px
    scores, _ = head(torch.randn(1, 11, 48, 48), (keypoints / size).flatten(1))
    xy = spatial_argsoftmax(scores, head.beta, 4)[0]
    expected = torch.einsum("vk,kd->vd", mix, keypoints[0])
    torch.testing.assert_close(xy, expected, atol=0.05, rtol=0)
    assert xy[1, 0] < keypoints[0, :, 0].min()  # outside the keypoints' hull


def test_anchor_model_needs_keypoints_and_keeps_depth_path() -> None:
    from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet

    cfg = MeshPoseConfig.preset("xs_bp", vertex_head={"prior_kind": "anchor"})
    net = MeshPoseNet(cfg).eval()
    mix = net.regression_head.prior_mix
    torch.testing.assert_close(mix, net.vertex_head.prior_weight.reshape(mix.shape))
    assert (mix < 0).any()  # the shipped anchor prior leaves the landmarks' hull
    with torch.no_grad():
        out = net.decode(net(torch.randn(1, 3, 192, 192)))
    assert out.vertices.shape == (1, 518, 3) and torch.isfinite(out.vertices).all()


def test_set_priors_swaps_the_prior_and_keeps_the_learned_layers() -> None:
    """What training's init_from does when the checkpoint had the other kind of prior."""
    from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
    from meshpose_core.model.vertex_prior import DEFAULT_ANCHOR_PATH

    torch.manual_seed(0)
    mix_net = MeshPoseNet(MeshPoseConfig.preset("xs_bp"))
    anchor = MeshPoseNet(MeshPoseConfig.preset("xs_bp", vertex_head={"prior_kind": "anchor"}))
    anchor.load_state_dict(mix_net.state_dict())
    assert anchor.set_priors()
    expected = torch.from_numpy(load_prior(DEFAULT_ANCHOR_PATH))
    torch.testing.assert_close(anchor.vertex_head.prior_weight.flatten(1), expected)
    torch.testing.assert_close(anchor.regression_head.prior_mix, expected)
    v = anchor.cfg.num_vertices
    torch.testing.assert_close(
        anchor.vertex_head.out.weight[v:], mix_net.vertex_head.out.weight[v:]
    )
    torch.testing.assert_close(
        anchor.regression_head.psi.weight, mix_net.regression_head.psi.weight
    )
