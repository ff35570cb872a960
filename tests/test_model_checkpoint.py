"""Checkpoints of XY-frozen models store the regression head's depth path only; loading
gives the same outputs, and training gets its full layout back."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from meshpose_core.model.checkpoint import load_checkpoint, save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet

PSI = "regression_head.psi.weight"


def frozen_xy_net() -> MeshPoseNet:
    torch.manual_seed(0)
    net = MeshPoseNet(MeshPoseConfig.preset("xs_bp", input_size=(64, 64)))
    with torch.no_grad():  # as training leaves it: depth learned, x and y the prior's
        for p in net.regression_head.parameters():
            p.normal_(0, 0.01)
    net.freeze_xy_residuals()
    return net.eval()


def test_xy_frozen_checkpoint_stores_the_depth_path_only(tmp_path: Path) -> None:
    net = frozen_xy_net()
    full_rows = net.regression_head.psi.out_features
    save_checkpoint(net, tmp_path / "m.safetensors", {})
    assert net.regression_head.psi.out_features == full_rows  # the saved net is unchanged
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        assert f.get_slice(PSI).get_shape()[0] * 3 == full_rows
        # BlazePose's layers are fp16 at source: stored so, exactly
        assert f.get_tensor("backbone.net.layers.conv061.weight").dtype == torch.float16
        assert f.get_tensor(PSI).dtype == torch.float32  # learned: kept whole
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded.regression_head.depth_only
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        a, b = net.decode(net(x)), loaded.decode(loaded(x))
    torch.testing.assert_close(a.vertices, b.vertices)
    torch.testing.assert_close(a.visibility, b.visibility)
    training, _ = load_checkpoint(tmp_path / "m.safetensors", for_training=True)
    assert not training.regression_head.depth_only
    for key, value in net.state_dict().items():
        torch.testing.assert_close(training.state_dict()[key], value, msg=key)


def test_learned_xy_is_stored_whole(tmp_path: Path) -> None:
    net = frozen_xy_net()
    with torch.no_grad():
        net.regression_head.psi.weight[0, 0] = 0.5  # a learned x weight
    save_checkpoint(net, tmp_path / "m.safetensors", {})
    loaded, _ = load_checkpoint(tmp_path / "m.safetensors")
    assert not loaded.regression_head.depth_only
    torch.testing.assert_close(loaded.regression_head.psi.weight, net.regression_head.psi.weight)
