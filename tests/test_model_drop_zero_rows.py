"""Dropping the exactly-zero XY rows of the heads of a frozen-XY (``xs_bp``) net: the layers
shrink, the outputs do not change, a net with learned XY is left alone, and both
``prepare_for_inference`` and the ONNX export apply it."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.export import export_onnx
from meshpose_core.model.inference import drop_zero_rows, prepare_for_inference
from meshpose_core.model.meshpose import IMAGE_MEAN, IMAGE_STD, MeshPoseConfig, MeshPoseNet

HEADS = ["vertex_head", "regression_head"]


def _noisy_rows(param: torch.Tensor, start: int, std: float, gen: torch.Generator) -> None:
    """Add noise to rows ``start:`` of a parameter (in place)."""
    rows = param[start:]
    rows.add_(torch.randn(rows.shape, generator=gen) * std)


@torch.no_grad()
def frozen_xy_net(seed: int = 0, prior_kind: str = "mix") -> MeshPoseNet:
    """xs_bp with XY frozen to the prior and non-trivial depth / visibility / foreground."""
    torch.manual_seed(seed)
    net = MeshPoseNet(MeshPoseConfig.preset("xs_bp", vertex_head={"prior_kind": prior_kind}))
    net.freeze_xy_residuals()
    gen = torch.Generator().manual_seed(seed + 1)
    v = net.cfg.num_vertices
    reg = net.regression_head
    c_bins = reg.psi.out_features // 3
    _noisy_rows(reg.psi.weight, 2 * c_bins, 0.05, gen)
    _noisy_rows(reg.psi.bias, 2 * c_bins, 0.05, gen)
    _noisy_rows(reg.f1d.weight, 2 * v, 0.05, gen)
    _noisy_rows(reg.f1d.bias, 2 * v, 0.5, gen)
    _noisy_rows(net.vertex_head.out.weight, v, 0.2, gen)
    _noisy_rows(net.vertex_head.out.bias, v, 0.2, gen)
    # the learned XY rows are still exactly zero
    assert not net.vertex_head.out.weight[:v].any() and not net.vertex_head.out.bias[:v].any()
    assert not reg.psi.weight[: 2 * c_bins].any() and not reg.f1d.weight[: 2 * v].any()
    return net.eval()


@pytest.fixture(scope="module", params=["mix", "anchor"])
def net(request: pytest.FixtureRequest) -> MeshPoseNet:
    return frozen_xy_net(prior_kind=request.param)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    size = MeshPoseConfig.preset("xs_bp").input_size
    return torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(3))


def pixels(images: torch.Tensor) -> np.ndarray:
    """Normalised (B, 3, H, W) images -> the (B, H, W, 3) float pixels an export takes."""
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return ((images * std + mean) * 255.0).permute(0, 2, 3, 1).contiguous().numpy()


@torch.no_grad()
def outputs(model: MeshPoseNet, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Raw outputs and decoded geometry together."""
    raw = model(x)
    decoded = model.decode(raw)
    fields = {f.name: getattr(o, f.name) for o in (raw, decoded) for f in dataclasses.fields(o)}
    return {k: v for k, v in fields.items() if v is not None}  # iuv not asked for


def assert_same_outputs(
    got: dict[str, torch.Tensor],
    ref: dict[str, torch.Tensor],
    atol: float = 1e-4,
    vertex_rtol: float = 1e-5,
) -> None:
    for key in ("scores", "fg_logit", "z_logits", "vis_logit", "visibility"):
        torch.testing.assert_close(got[key], ref[key], atol=atol, rtol=1e-4, msg=key)
    # crop px, up to a few hundred: relative tolerance
    torch.testing.assert_close(got["vertices"], ref["vertices"], atol=atol, rtol=vertex_rtol)


def test_fixture_outputs_are_non_trivial(net: MeshPoseNet, images: torch.Tensor) -> None:
    """The perturbation reaches depth, visibility and the foreground logit."""
    out = outputs(net, images)
    assert out["vertices"][..., 2].std() > 1.0  # depth is not the middle of its range
    assert out["visibility"].std() > 1e-3
    assert out["fg_logit"].std() > 1e-3
    assert torch.isfinite(out["vertices"]).all()


def test_drop_zero_rows_shrinks_layers_and_keeps_outputs(
    net: MeshPoseNet, images: torch.Tensor
) -> None:
    ref = outputs(net, images)
    dropped_net = copy.deepcopy(net)
    assert sorted(drop_zero_rows(dropped_net)) == sorted(HEADS)
    v = net.cfg.num_vertices
    assert dropped_net.vertex_head.out.out_channels == 1
    assert dropped_net.regression_head.f1d.out_channels == v
    assert dropped_net.regression_head.psi.out_features == net.regression_head.psi.out_features // 3
    n_before = sum(p.numel() for p in net.parameters())
    n_after = sum(p.numel() for p in dropped_net.parameters())
    assert n_after < n_before
    got = outputs(dropped_net, images)
    assert {k: tuple(t.shape) for k, t in got.items()} == {
        k: tuple(t.shape) for k, t in ref.items()
    }
    assert_same_outputs(got, ref)
    for key in ("x_logits", "y_logits", "xy_vertexpose", "xy_regressed"):
        torch.testing.assert_close(got[key], ref[key], atol=1e-4, rtol=1e-5, msg=key)
    # a second call finds nothing left to drop and changes nothing
    assert drop_zero_rows(dropped_net) == []
    assert dropped_net.vertex_head.out.out_channels == 1


def test_the_original_net_is_untouched_by_dropping_on_a_copy(net: MeshPoseNet) -> None:
    v = net.cfg.num_vertices
    assert net.vertex_head.out.out_channels == v + 1
    assert net.regression_head.f1d.out_channels == 3 * v


def test_net_with_learned_xy_is_left_unchanged(images: torch.Tensor) -> None:
    torch.manual_seed(1)
    net = MeshPoseNet(MeshPoseConfig.preset("xs_bp"))
    with torch.no_grad():
        for head in (net.vertex_head, net.regression_head):
            for p in head.parameters():
                p.add_(torch.randn_like(p) * 0.01)  # every row non-zero
    net.eval()
    ref = outputs(net, images)
    state = {k: t.clone() for k, t in net.state_dict().items()}
    assert drop_zero_rows(net) == []
    v = net.cfg.num_vertices
    assert net.vertex_head.out.out_channels == v + 1
    assert net.regression_head.f1d.out_channels == 3 * v
    assert net.state_dict().keys() == state.keys()
    for k, t in net.state_dict().items():
        assert torch.equal(t, state[k]), k
    got = outputs(net, images)
    for key, t in ref.items():
        assert torch.equal(got[key], t), key


def test_only_the_zero_head_is_dropped() -> None:
    """xs_bp straight after init: the score rows start at zero (the prior), the regression
    XY paths do not: only the VertexPose head shrinks."""
    torch.manual_seed(2)
    net = MeshPoseNet(MeshPoseConfig.preset("xs_bp")).eval()
    assert drop_zero_rows(net) == ["vertex_head"]
    assert net.vertex_head.out.out_channels == 1
    assert net.regression_head.f1d.out_channels == 3 * net.cfg.num_vertices


def test_net_without_prior_is_never_dropped() -> None:
    """Zero score rows mean nothing without a prior to add them to: such a head keeps them."""
    cfg = MeshPoseConfig.preset("xs", input_size=(64, 64), num_vertices=6)
    net = MeshPoseNet(cfg).eval()
    with torch.no_grad():
        net.vertex_head.out.weight[:6].zero_()
        net.vertex_head.out.bias[:6].zero_()
    assert drop_zero_rows(net) == []
    assert net.vertex_head.out.out_channels == 7


def test_prepare_for_inference_drops_zero_rows(net: MeshPoseNet, images: torch.Tensor) -> None:
    ref = outputs(net, images)
    prepared = prepare_for_inference(copy.deepcopy(net))
    assert prepared.vertex_head.out.out_channels == 1
    assert prepared.regression_head.f1d.out_channels == net.cfg.num_vertices
    got = outputs(prepared, images.contiguous(memory_format=torch.channels_last))
    # BatchNorm folding adds its own float rounding (sharpened by the softmax beta of 16);
    # anchor scores are quadratic in the keypoints' offsets, up to ~200 at the far corner,
    # so the keypoints' rounding (~0.01 px on a random image's flat heatmaps) reaches ~0.02
    anchor = net.cfg.vertex_head.prior_kind == "anchor"
    assert_same_outputs(got, ref, atol=3e-2 if anchor else 1e-3, vertex_rtol=1e-4)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # legacy TorchScript exporter
# BlazePose's input checks and crop size are traced as constants (the export is for one size)
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_onnx_export_of_frozen_xy_net_matches_torch(
    net: MeshPoseNet, images: torch.Tensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    ref = outputs(net, images)
    path = export_onnx(copy.deepcopy(net), tmp_path / "frozen.onnx")
    # the export dropped the zero rows: no initializer of the full-width layers is left
    v = net.cfg.num_vertices
    full_psi = net.regression_head.psi.out_features
    dims = [tuple(t.dims) for t in onnx.load(str(path)).graph.initializer]
    assert any(full_psi // 3 in d for d in dims)
    assert not any(full_psi in d for d in dims)
    assert not any(d[:1] in ((v + 1,), (3 * v,)) for d in dims)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["vertices", "visibility", "foreground"]
    vertices, visibility, _ = session.run(None, {"crops": pixels(images)})
    torch.testing.assert_close(torch.from_numpy(visibility), ref["visibility"], atol=1e-5, rtol=0)
    # onnxruntime's float rounding through the BlazePose backbone, sharpened by the softmax
    # beta of 16, moves vertices by up to ~0.03 px with or without dropping
    torch.testing.assert_close(torch.from_numpy(vertices), ref["vertices"], atol=5e-2, rtol=0)
    # the dropped graph computes what the full one does
    monkeypatch.setattr("meshpose_core.export.drop_zero_rows", lambda model: [])
    full_path = export_onnx(copy.deepcopy(net), tmp_path / "full.onnx")
    full_dims = [tuple(t.dims) for t in onnx.load(str(full_path)).graph.initializer]
    assert any(d[:1] == (v + 1,) for d in full_dims)
    full = ort.InferenceSession(str(full_path), providers=["CPUExecutionProvider"])
    full_vertices, full_visibility, _ = full.run(None, {"crops": pixels(images)})
    torch.testing.assert_close(
        torch.from_numpy(vertices), torch.from_numpy(full_vertices), atol=1e-3, rtol=1e-5
    )
    torch.testing.assert_close(
        torch.from_numpy(visibility), torch.from_numpy(full_visibility), atol=1e-5, rtol=0
    )
