"""Backbones: stride-4 output shapes, registry, MobileNetV2 widths, weights I/O, BN folding."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from meshpose_core.model.backbones import (
    WeightsMismatchError,
    build_backbone,
    load_backbone_weights,
    save_backbone_weights,
)
from meshpose_core.model.backbones.mobilenet import make_divisible
from meshpose_core.model.inference import fold_batchnorm

SMALL_DECODER = {"decoder": {"channels": 32}}


@pytest.fixture(scope="module")
def hrnet() -> nn.Module:
    torch.manual_seed(0)
    return build_backbone("hrnet_w32").eval()


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return build_backbone("resnet50").eval()


@pytest.mark.parametrize(
    ("name", "size", "channels"),
    [("hrnet_w32", (64, 64), 256), ("resnet50", (64, 96), 128), ("mobilenet_v2", (64, 96), 96)],
)
def test_default_backbones_give_stride4_maps(
    name: str, size: tuple[int, int], channels: int, request: pytest.FixtureRequest
) -> None:
    model = {"hrnet_w32": "hrnet", "resnet50": "resnet"}.get(name)
    net = request.getfixturevalue(model) if model else build_backbone(name).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, *size))
    assert out.shape == (2, channels, size[0] // 4, size[1] // 4)
    assert net.out_channels == channels and net.stride == 4
    assert torch.isfinite(out).all()
    assert out.std() > 0  # the features depend on the input, not a constant map


def test_hrnet_w32_branch_widths_and_fused_output(hrnet: nn.Module) -> None:
    last_module = hrnet.stages[-1][-1]
    widths = [branch[0].conv1[0].in_channels for branch in last_module.branches]
    assert widths == [32, 64, 128, 256]
    assert [p[0].out_channels for p in hrnet.project] == [256] * 4
    assert [len(s) for s in hrnet.stages] == [1, 4, 3]


def test_resnet_encoder_stops_at_stride_16(resnet: nn.Module) -> None:
    shapes: list[torch.Size] = []
    hook = resnet.layer4.register_forward_hook(lambda m, i, o: shapes.append(o.shape))
    with torch.no_grad():
        resnet(torch.randn(1, 3, 64, 64))
    hook.remove()
    assert shapes == [torch.Size([1, 2048, 4, 4])]
    dilations = {blk.conv2[0].dilation for blk in resnet.layer4}
    assert dilations == {(1, 1), (2, 2)}


def test_mobilenet_v2_width_14_stage_channels_and_dilation() -> None:
    net = build_backbone("mobilenet_v2", **SMALL_DECODER)
    outs = [stage[-1].block[-1][0].out_channels for stage in net.stages]
    assert outs == [24, 32, 48, 88, 136, 224, 448]  # MobileNetV2 x1.4 widths
    assert net.stem[0].out_channels == 48
    depthwise = [m for m in net.stages[5].modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert all(m.stride == (1, 1) and m.dilation == (2, 2) for m in depthwise)
    assert make_divisible(33.6) == 32 and make_divisible(22.4) == 24 and make_divisible(3.0) == 8


def test_registry_overrides_and_errors() -> None:
    net = build_backbone("mobilenet_v2", width=1.0, decoder={"channels": 40, "blocks": 2})
    assert net.out_channels == 40
    assert net.stages[-1][-1].block[-1][0].out_channels == 320
    keeps_width = build_backbone("mobilenet_v2", decoder={"blocks": 2})
    assert keeps_width.out_channels == 96 and len(keeps_width.decoder.refine[0]) == 2
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg16")
    with pytest.raises(TypeError, match="no fields"):
        build_backbone("resnet50", widht=32)


def test_weights_round_trip_and_strict_errors(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = build_backbone("mobilenet_v2", **SMALL_DECODER).eval()
    path = tmp_path / "xs.safetensors"
    save_backbone_weights(src, path)
    torch.manual_seed(1)
    dst = build_backbone("mobilenet_v2", **SMALL_DECODER).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(src(x), dst(x))
        load_backbone_weights(dst, path)
        torch.testing.assert_close(src(x), dst(x), rtol=0, atol=0)

    wider = build_backbone("mobilenet_v2", decoder={"channels": 48})
    with pytest.raises(WeightsMismatchError, match=r"shape mismatch .*decoder\.proj\.0"):
        load_backbone_weights(wider, path)
    with pytest.raises(WeightsMismatchError, match=r"missing .*unexpected"):
        load_backbone_weights(build_backbone("resnet50", **SMALL_DECODER), path)


def test_weights_from_prefixed_full_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    src = build_backbone("mobilenet_v2", **SMALL_DECODER)
    state = {f"backbone.{k}": v.contiguous() for k, v in src.state_dict().items()}
    state["vertex_head.out.weight"] = torch.zeros(3, 32, 1, 1)
    path = tmp_path / "full.safetensors"
    save_file(state, str(path))
    dst = build_backbone("mobilenet_v2", **SMALL_DECODER)
    load_backbone_weights(dst, path, prefix="backbone.")
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    with pytest.raises(WeightsMismatchError, match="unexpected"):
        load_backbone_weights(dst, path)  # without the prefix nothing lines up


def _randomise_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.5)


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2"])
def test_fold_batchnorm_preserves_outputs(name: str) -> None:
    torch.manual_seed(0)
    net = build_backbone(name, **SMALL_DECODER)
    _randomise_batchnorm(net)
    net.eval()
    folded = fold_batchnorm(copy.deepcopy(net))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref, out = net(x), folded(x)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
