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
        loss = out["vertices"].square().mean() + out["visibility"].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = net.decode(net(images))
    for key in ("xy_vertexpose", "xy_regressed"):  # XY is exactly the prior's
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=1e-4)
    assert (after["vertices"][..., 2] - before["vertices"][..., 2]).abs().max() > 1e-3
    assert (after["visibility"] - before["visibility"]).abs().max() > 1e-3


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
