"""MeshPoseNet: raw outputs, decoding wiring, gradients, configs and exportability."""

from __future__ import annotations

import dataclasses
import json
import platform
from pathlib import Path

import pytest
import torch

from meshpose_core.model import (
    MeshPoseConfig,
    MeshPoseNet,
    RegressionHeadConfig,
    TopologyArrays,
    VertexPoseHeadConfig,
    keep_freed_memory,
    prepare_for_inference,
)
from meshpose_core.model.decoding import fuse_visibility

V = 6  # octahedron
FACES = torch.tensor(
    [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
)
TOPOLOGY = TopologyArrays(
    faces=FACES,
    corner_part_uv=torch.rand(8, 3, 2, generator=torch.Generator().manual_seed(0)),
    face_part=torch.tensor([1, 2, 3, 4, 5, 6, 7, 8]),
    vertex_part=torch.tensor([1, 2, 3, 4, 5, 6]),
    vertex_part_uv=torch.rand(V, 2, generator=torch.Generator().manual_seed(1)),
)


def small_config(**overrides) -> MeshPoseConfig:
    """MeshPose-XS wiring at 64x64 with a thin decoder: fast enough for CI."""
    base = {
        "input_size": (64, 64),
        "num_vertices": V,
        "backbone_kwargs": {"decoder": {"channels": 24}},
        "vertex_head": VertexPoseHeadConfig(width=16),
        "regression_head": RegressionHeadConfig(bins=16),
    }
    return MeshPoseConfig.preset("xs", **{**base, **overrides})


@pytest.fixture(scope="module")
def net() -> MeshPoseNet:
    torch.manual_seed(0)
    return MeshPoseNet(small_config()).eval()


def test_forward_raw_output_shapes(net: MeshPoseNet) -> None:
    with torch.no_grad():
        out = net(torch.randn(3, 3, 64, 64))
    assert out.lifted is None  # no keypoint lifter in this config
    fields = [f.name for f in dataclasses.fields(out) if f.name != "lifted"]
    assert {name: tuple(getattr(out, name).shape) for name in fields} == {
        "scores": (3, V, 16, 16),
        "fg_logit": (3, 1, 16, 16),
        "x_logits": (3, V, 16),
        "y_logits": (3, V, 16),
        "z_logits": (3, V, 16),
        "vis_logit": (3, V),
    }
    torch.testing.assert_close(out.vis_logit, out.z_logits.mean(-1))


def test_decode_fuses_and_keeps_both_xy_estimates(net: MeshPoseNet) -> None:
    with torch.no_grad():
        out = net(torch.randn(2, 3, 64, 64))
        dec = net.decode(out)
    assert dec.iuv is None  # not asked for
    torch.testing.assert_close(dec.vis_logit, out.vis_logit)  # no facing term here
    assert dec.vertices.shape == (2, V, 3)
    assert torch.all((dec.visibility > 0) & (dec.visibility < 1))
    torch.testing.assert_close(dec.visibility, torch.sigmoid(dec.vis_logit))
    fused = fuse_visibility(dec.xy_vertexpose, dec.xy_regressed, dec.visibility)
    torch.testing.assert_close(dec.vertices[..., :2], fused)
    vp = dec.xy_vertexpose  # expectations over cell centres stay inside the crop
    assert torch.all((vp >= 1.5) & (vp <= 64 - 2.5))


def test_decode_uses_crop_ranges_for_regression() -> None:
    torch.manual_seed(0)
    net = MeshPoseNet(small_config(input_size=(64, 96))).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 64, 96))
        uniform = {
            k: torch.zeros_like(getattr(out, k)) for k in ("x_logits", "y_logits", "z_logits")
        }
        invisible = torch.full_like(out.vis_logit, -50.0)
        dec = net.decode(dataclasses.replace(out, **uniform, vis_logit=invisible))
    # W = 96, H = 64: x in [-96, 192] -> 48, y in [-64, 192] -> 64, z in [-192, 192] -> 0
    expected = torch.tensor([48.0, 64.0, 0.0]).expand(1, V, 3)
    torch.testing.assert_close(dec.vertices, expected, atol=1e-3, rtol=0)


def test_decode_iuv_only_on_request(net: MeshPoseNet) -> None:
    with torch.no_grad():
        out = net(torch.randn(2, 3, 64, 64))
        iuv = net.decode(out, TOPOLOGY, want_iuv=True).iuv
    assert iuv is not None and iuv.shape == (2, 3, 16, 16)
    fg = out.fg_logit[:, 0] >= 0
    assert torch.all(iuv[:, 0][~fg] == 0)
    assert torch.all((iuv[:, 0][fg] >= 1) & (iuv[:, 0][fg] <= 8))
    with pytest.raises(ValueError, match="topology"):
        net.decode(out, want_iuv=True)


def test_gradients_reach_backbone_heads_and_beta() -> None:
    torch.manual_seed(0)
    cfg = small_config(vertex_head=VertexPoseHeadConfig(width=16, learn_beta=True, beta=2.0))
    net = MeshPoseNet(cfg).train()
    dec = net.decode(net(torch.randn(2, 3, 64, 64)))
    target = torch.rand(2, V, 3) * 64
    loss = (dec.vertices - target).abs().mean() + (dec.xy_vertexpose - target[..., :2]).abs().mean()
    loss.backward()
    stem = net.backbone.stem[0].weight.grad
    assert stem is not None and torch.isfinite(stem).all() and stem.abs().sum() > 0
    for name, p in net.named_parameters():
        if name.startswith(("vertex_head.out", "regression_head.", "backbone.decoder.proj")):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert net.vertex_head.log_beta.grad is not None and net.vertex_head.log_beta.grad != 0
    assert net.vertex_head.beta.item() == pytest.approx(2.0)


def test_config_presets_and_dict_round_trip() -> None:
    expected = {"l": "hrnet_w32", "s": "resnet50", "xs": "mobilenet_v2"}
    for name, backbone in expected.items():
        cfg = MeshPoseConfig.preset(name)
        assert cfg.backbone == backbone and cfg.num_vertices == 518
        assert cfg.regression_head.bins == 64
    assert MeshPoseConfig.preset("xs").input_size == (192, 192)
    cfg = small_config(uv_decoder="global_average")
    assert MeshPoseConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="multiples of 32"):
        MeshPoseConfig(input_size=(200, 192))
    with pytest.raises(ValueError, match="uv_decoder"):
        MeshPoseConfig(uv_decoder="nearest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="preset"):
        MeshPoseConfig.preset("xxl")


def test_forward_and_decode_export_without_graph_breaks(net: MeshPoseNet) -> None:
    """torch.export needs a forward free of data-dependent Python control flow (ONNX path)."""

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: MeshPoseNet) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            dec = self.inner.predict(images)
            return dec.vertices, dec.visibility

    wrapper = Wrapper(net).eval()
    x = torch.randn(1, 3, 64, 64)
    exported = torch.export.export(wrapper, (x,))
    with torch.no_grad():
        ref = wrapper(x)
        got = exported.module()(x)
    torch.testing.assert_close(got[0], ref[0])
    torch.testing.assert_close(got[1], ref[1])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # legacy TorchScript exporter
@pytest.mark.filterwarnings("error::torch.jit.TracerWarning")  # a shape read as a constant
def test_onnx_export_generalises_to_other_batch_and_crop_sizes(
    net: MeshPoseNet, tmp_path: Path
) -> None:
    """No shape is baked into the traced graph: export at 1x64x64, run at 2x64x96."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")

    class Decoded(torch.nn.Module):
        def __init__(self, inner: MeshPoseNet) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            dec = self.inner.predict(images)
            return dec.vertices, dec.visibility

    model = Decoded(net).eval()
    path = tmp_path / "xs.onnx"
    torch.onnx.export(
        model,
        (torch.randn(1, 3, 64, 64),),
        str(path),
        dynamo=False,
        input_names=["images"],
        output_names=["vertices", "visibility"],
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}},
    )
    model.eval()  # the exporter restores the wrapper's (train) mode
    x = torch.randn(2, 3, 64, 96)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    vertices, visibility = session.run(None, {"images": x.numpy()})
    with torch.no_grad():
        ref_vertices, ref_visibility = model(x)
    torch.testing.assert_close(torch.from_numpy(vertices), ref_vertices, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(torch.from_numpy(visibility), ref_visibility, atol=1e-5, rtol=0)


def test_prepare_for_inference_keeps_predictions() -> None:
    torch.manual_seed(0)
    net = MeshPoseNet(small_config())
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial statistics to fold
            m.running_mean.normal_(0, 0.3)
            m.running_var.uniform_(0.5, 2.0)
    net.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = net.predict(x, TOPOLOGY, want_iuv=True)
        prepare_for_inference(net)
        assert net.vertex_head.out.weight.is_contiguous(memory_format=torch.channels_last)
        got = net.predict(x.contiguous(memory_format=torch.channels_last), TOPOLOGY, True)
    torch.testing.assert_close(got.vertices, ref.vertices, atol=1e-3, rtol=1e-4)
    torch.testing.assert_close(got.visibility, ref.visibility, atol=1e-5, rtol=1e-4)
    assert got.iuv is not None and ref.iuv is not None
    agree = (got.iuv[:, 0] == ref.iuv[:, 0]).float().mean()
    assert agree > 0.99  # part labels may flip only at exact ties


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc-only")
def test_keep_freed_memory_applies_on_glibc() -> None:
    assert keep_freed_memory() is True
