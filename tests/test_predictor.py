"""Inference API: checkpoints load safely, torch and onnxruntime agree, bad files fail clearly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.export import export_onnx
from meshpose_core.export import main as export_main
from meshpose_core.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.predictor import (
    MeshPose,
    NetworkConfig,
    OnnxMeshPose,
    Prediction,
    Predictor,
    load_predictor,
)

SIZE = (64, 64)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    net = MeshPoseNet(MeshPoseConfig.preset("xs", input_size=SIZE))
    # non-trivial BatchNorm statistics so that folding is exercised
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(net, path, {"training_data": "none (test)"})
    return path


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(3, *SIZE, 3), dtype=np.uint8)


def test_checkpoint_round_trip(checkpoint: Path) -> None:
    net, card = load_checkpoint(checkpoint)
    assert card == {"training_data": "none (test)"}
    assert net.cfg.input_size == SIZE
    sidecar = json.loads(checkpoint.with_suffix(".json").read_text())
    assert sidecar["config"]["backbone"] == "mobilenet_v2"


def test_predict_shapes_and_ranges(checkpoint: Path, crops: np.ndarray) -> None:
    model = MeshPose.from_pretrained(checkpoint, device="cpu")
    pred = model.predict(crops, want_iuv=True)
    assert isinstance(pred, Prediction) and len(pred) == 3
    assert pred.vertices.shape == (3, 518, 3) and pred.vertices_high.shape == (3, 6890, 3)
    assert pred.keypoints.shape == (3, 17, 3)
    assert ((pred.visibility >= 0) & (pred.visibility <= 1)).all()
    # x within the regression range [-W, 2W] of the crop
    assert pred.vertices[..., 0].min() >= -SIZE[1] and pred.vertices[..., 0].max() <= 2 * SIZE[1]
    assert pred.iuv is not None and pred.iuv.shape == (3, 3, SIZE[0] // 4, SIZE[1] // 4)
    assert set(np.unique(pred.iuv[:, 0])) <= set(range(25))
    # batched prediction equals one-by-one prediction
    single = model.predict(crops[1:2])
    np.testing.assert_allclose(single.vertices[0], pred.vertices[1], atol=1e-3)


def test_torch_onnx_parity(checkpoint: Path, crops: np.ndarray, tmp_path: Path) -> None:
    net, _ = load_checkpoint(checkpoint)
    onnx_path = export_onnx(net, tmp_path / "tiny.onnx", want_iuv=True)
    ort_model = OnnxMeshPose(onnx_path)
    torch_model = MeshPose.from_pretrained(checkpoint, device="cpu")
    a = torch_model.predict(crops, want_iuv=True)
    b = ort_model.predict(crops, want_iuv=True)
    np.testing.assert_allclose(a.vertices, b.vertices, atol=2e-2)
    np.testing.assert_allclose(a.visibility, b.visibility, atol=1e-4)
    np.testing.assert_allclose(a.vertices_high, b.vertices_high, atol=2e-2)
    assert (a.iuv[:, 0] == b.iuv[:, 0]).mean() > 0.99
    # the foreground, which the outline is fitted to, comes out of both alike
    assert a.foreground.shape == b.foreground.shape == (len(crops), *a.iuv.shape[2:])
    np.testing.assert_allclose(a.foreground, b.foreground, atol=1e-4)
    with pytest.raises(ValueError, match="uint8"):
        ort_model.predict(crops.astype(np.float32))


def test_export_cli_and_bad_inputs(checkpoint: Path, tmp_path: Path, capsys) -> None:
    assert export_main(["--model", str(checkpoint), "--out", str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 1e5
    assert export_main(["--model", str(tmp_path / "nope.safetensors"), "--out", "x.onnx"]) == 2
    assert "weights not found" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        MeshPose.from_pretrained(bad)
    with pytest.raises(CheckpointError, match="ONNX model"):
        OnnxMeshPose(bad)
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(1)}, str(foreign), {"architecture": "resnet"})
    with pytest.raises(CheckpointError, match="not a MeshPose checkpoint"):
        MeshPose.from_pretrained(foreign)
    old = tmp_path / "old.safetensors"
    save_file(
        {"w": torch.zeros(1)}, str(old), {"architecture": "meshpose", "topology_version": "0"}
    )
    with pytest.raises(CheckpointError, match="topology version 0"):
        MeshPose.from_pretrained(old)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_onnx_from_before_the_foreground_output_still_runs(
    checkpoint: Path, crops: np.ndarray, tmp_path: Path
) -> None:
    """An export older than EXPORT_VERSION 6 has no foreground output: its meshes come out,
    widened by the fixed outline scales instead of fitted ones."""
    pytest.importorskip("onnxruntime")
    from meshpose_core.export import ExportWrapper
    from meshpose_core.topology import Topology
    from meshpose_core.topology.outline import OutlineWidening

    class MeshOnly(torch.nn.Module):
        def __init__(self, wrapper: ExportWrapper) -> None:
            super().__init__()
            self.wrapper = wrapper

        def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.wrapper(pixels)[:2]

    net, _ = load_checkpoint(checkpoint)
    old = tmp_path / "v5.onnx"
    h, w = net.cfg.input_size
    with torch.no_grad():
        torch.onnx.export(
            MeshOnly(ExportWrapper(net.eval(), want_iuv=False)),
            (torch.rand(1, h, w, 3) * 255,),
            str(old),
            input_names=["crops"],
            output_names=["vertices", "visibility"],
            dynamic_axes={"crops": {0: "batch"}},
            dynamo=False,
        )
    scales = (0.5,) * 8
    model = OnnxMeshPose(old, outline_scales=scales)
    raw = model.infer(crops)
    assert raw.foreground is None
    pred = model.finish(raw)
    widened = OutlineWidening(scales, Topology.load("low"))(raw.vertices)
    np.testing.assert_allclose(pred.vertices, widened, atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # legacy TorchScript exporter
def test_onnx_of_the_old_normalised_layout_is_refused(tmp_path: Path) -> None:
    """An export from before EXPORT_VERSION 3 took normalised (B, 3, H, W) images: one
    clear error naming the fix, not wrong meshes from pixels fed in the wrong layout."""
    pytest.importorskip("onnxruntime")
    old = tmp_path / "old.onnx"
    torch.onnx.export(
        torch.nn.Conv2d(3, 2, 1),
        (torch.zeros(1, 3, 8, 8),),
        str(old),
        input_names=["crops"],
        dynamic_axes={"crops": {0: "batch"}},
        dynamo=False,
    )
    with pytest.raises(CheckpointError, match="export it again"):
        OnnxMeshPose(old)


def test_defaults_point_at_the_shipped_weights(tmp_path) -> None:
    """from_pretrained() and the export CLI work out of the box (only xs_bp ships)."""
    import inspect

    from meshpose_core.model.checkpoint import DEFAULT_MODEL, resolve_weights

    assert resolve_weights(DEFAULT_MODEL).is_file()
    default = inspect.signature(MeshPose.from_pretrained).parameters["name_or_path"].default
    assert default == DEFAULT_MODEL
    model = MeshPose.from_pretrained(device="cpu")
    pred = model.predict(np.zeros((1, *model.input_size, 3), np.uint8))
    assert pred.vertices.shape == (1, 518, 3)
    assert export_main(["--out", str(tmp_path / "default.onnx")]) == 0
    assert (tmp_path / "default.onnx").stat().st_size > 1e6


def test_load_predictor_picks_the_backend_and_predict_is_infer_then_finish(
    checkpoint: Path, crops: np.ndarray, tmp_path: Path
) -> None:
    """One loader for every backend; ``predict`` is the protocol's own infer + finish."""
    for backend, kind in (("torch", MeshPose), ("onnx", OnnxMeshPose)):
        config = NetworkConfig(str(checkpoint), "cpu", backend, threads=1, cache_dir=str(tmp_path))
        model: Predictor = load_predictor(config)
        assert type(model) is kind and model.backend == backend
        assert model.device_name == "cpu" and model.input_size == SIZE
        whole = model.predict(crops)
        parts = model.finish(model.infer(crops))
        np.testing.assert_array_equal(whole.vertices_high, parts.vertices_high)
        np.testing.assert_array_equal(whole.keypoints, parts.keypoints)
