"""The keypoint lifter: what its normalisation guarantees, and a network with one: the
VertexPose anchors, the regressed XY and the depth are the lifter's, through checkpoints and
the ONNX export."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.export import export_onnx
from meshpose_core.model.checkpoint import load_checkpoint, save_checkpoint
from meshpose_core.model.lifter import MAX_DEVIATION, KeypointLifter
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet, normalise_pixels
from meshpose_core.topology import KEYPOINT_NAMES, Topology

SIZE = (192, 192)


def lifter(seed: int = 0) -> KeypointLifter:
    torch.manual_seed(seed)
    return KeypointLifter(39, 518, 64).eval()


def keypoints(seed: int = 1) -> torch.Tensor:
    """(2, 78) a spread of keypoints inside the crop, as fractions."""
    gen = torch.Generator().manual_seed(seed)
    return 0.3 + 0.4 * torch.rand(2, 78, generator=gen)


def test_the_lifter_follows_the_person_and_measures_depth_from_the_hips() -> None:
    lift, kp = lifter(), keypoints()
    with torch.no_grad():
        out = lift(kp, SIZE)
        # the same pose 20 px to the right and 30 px down, at 0.8 times the size
        px = kp.reshape(2, -1, 2) * 192
        moved = ((px - 96) * 0.8 + 96 + torch.tensor([20.0, 30.0])) / 192
        out_moved = lift(moved.flatten(1), SIZE)
    assert out.shape == (2, 518, 3)
    expected_xy = (out[..., :2] - 96) * 0.8 + 96 + torch.tensor([20.0, 30.0])
    torch.testing.assert_close(out_moved[..., :2], expected_xy, atol=1e-3, rtol=0)
    torch.testing.assert_close(out_moved[..., 2], out[..., 2] * 0.8, atol=1e-3, rtol=0)
    low = Topology.load("low")
    hips = [KEYPOINT_NAMES.index(n) for n in ("left_hip", "right_hip")]
    hip_depth = torch.from_numpy(low.landmark_matrix[hips]).float() @ out[..., 2:]
    assert hip_depth.mean(dim=1).abs().max() < 1e-3  # their midpoint is the origin


def test_snapped_vertices_keep_the_keypoints_and_stay_near_the_anchors(net) -> None:
    lift, kp = lifter(), keypoints()
    mix = net.vertex_head.prior_weight.flatten(1)  # the shipped anchor prior's (518, 39)
    with torch.no_grad():
        free, snapped = lift(kp, SIZE), lift(kp, SIZE, mix)
    px = kp.reshape(2, -1, 2) * 192
    radius = KeypointLifter.normalise(px)[2]

    def drift(v: torch.Tensor) -> torch.Tensor:
        return (lift.landmarks @ v[..., :2] - lift.select @ px).norm(dim=-1).mean()

    # an untrained MLP's mesh is nowhere near the keypoints; snapped and bounded, it is
    assert drift(snapped) < 0.2 * drift(free)
    off = (snapped[..., :2] - mix @ px).norm(dim=-1)
    assert (off <= MAX_DEVIATION * radius[..., 0] + 1e-4).all()
    torch.testing.assert_close(snapped[..., 2], free[..., 2])  # depth is not snapped


@pytest.fixture(scope="module")
def net() -> MeshPoseNet:
    torch.manual_seed(0)
    cfg = MeshPoseConfig.preset("xs_bp", vertex_head={"prior_kind": "anchor"}, lifter_width=64)
    net = MeshPoseNet(cfg)
    net.freeze_xy_residuals()
    assert not any(p.requires_grad for p in net.lifter.parameters())  # a prior, fitted offline
    return net.eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    return torch.rand(2, *SIZE, 3, generator=gen) * 255


def test_a_network_with_a_lifter_places_its_vertices_and_depth(net, images) -> None:
    with torch.no_grad():
        raw = net(normalise_pixels(images))
        out = net.decode(raw)
    assert raw.lifted.shape == (2, 518, 3)
    torch.testing.assert_close(out.xy_regressed, raw.lifted[..., :2])
    # the mesh is the lifter's (a person the crop cuts is not squashed against its border)
    torch.testing.assert_close(out.vertices, raw.lifted)
    # the VertexPose bumps sit at the lifter's vertices: where they lie inside the crop the
    # spatial softmax finds them there
    inside = ((raw.lifted[..., :2] > 8) & (raw.lifted[..., :2] < 184)).all(-1)
    assert inside.float().mean() > 0.5
    err = (out.xy_vertexpose - raw.lifted[..., :2]).norm(dim=-1)[inside]
    assert err.max() < 1.0


def test_a_lifter_survives_the_checkpoint_and_the_onnx_export(net, images, tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    path = tmp_path / "lifted.safetensors"
    save_checkpoint(net, path, {})
    loaded = load_checkpoint(path)[0].eval()
    assert loaded.cfg.lifter_width == 64
    with torch.no_grad():
        ref = net.decode(net(normalise_pixels(images)))
        again = loaded.decode(loaded(normalise_pixels(images)))
    torch.testing.assert_close(again.vertices, ref.vertices, atol=1e-3, rtol=0)
    onnx_path = export_onnx(load_checkpoint(path)[0], tmp_path / "lifted.onnx")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    vertices, _, _ = session.run(None, {"crops": images.numpy()})
    np.testing.assert_allclose(vertices, ref.vertices.numpy(), atol=5e-2)


def test_a_lifter_needs_keypoints() -> None:
    with pytest.raises(ValueError, match="needs keypoints"):
        MeshPoseNet(dataclasses.replace(MeshPoseConfig.preset("xs"), lifter_width=64))
    with pytest.raises(ValueError, match="anchor prior"):
        MeshPoseNet(MeshPoseConfig.preset("xs_bp", lifter_width=64))  # the mix prior
