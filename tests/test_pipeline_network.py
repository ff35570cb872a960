"""Network stage: the predictor's sparse upsampling equals the learned upsampler, ONNX
export is cached, missing weights and impossible backends fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.model import checkpoint
from meshpose_core.model.checkpoint import save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.pipeline.network import (
    ModelUnavailable,
    Network,
    NetworkConfig,
    model_path,
    pick_backend,
)
from meshpose_core.predictor import Finisher


def test_sparse_upsampling_matches_the_learned_upsampler() -> None:
    finish = Finisher()
    low = np.random.default_rng(0).uniform(0, 200, (3, 518, 3)).astype("f4")
    with torch.inference_mode():
        _, high = finish.upsampler(torch.from_numpy(low))
    np.testing.assert_allclose(finish.upsample(low), high.numpy(), atol=1e-3)


def test_onnx_export_is_cached_and_backends_agree(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_checkpoint(MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64))), path, {})
    cfg = NetworkConfig(model=str(path), backend="onnx", threads=1, cache_dir=str(tmp_path / "c"))
    onnx = Network(cfg)
    exported = list((tmp_path / "c").glob("*.onnx"))
    assert len(exported) == 1 and onnx.backend == "onnx"
    mtime = exported[0].stat().st_mtime_ns
    Network(cfg)  # second load: no new export
    assert exported[0].stat().st_mtime_ns == mtime
    crops = np.random.default_rng(1).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    a, net_ms, up_ms = onnx.predict(crops)
    b, _, _ = Network(NetworkConfig(model=str(path), backend="torch", threads=1)).predict(crops)
    assert net_ms > 0 and up_ms > 0
    np.testing.assert_allclose(a.vertices_high, b.vertices_high, atol=2e-2)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=2e-2)


def test_outline_scales_travel_with_the_weights_to_every_backend(tmp_path: Path) -> None:
    """The scales are in the checkpoint's config; exported graphs do not carry them, so the
    loader hands them to every backend's finishing step (an untrained net predicts a point,
    so what widening does is tested on the Finisher itself)."""
    torch.manual_seed(0)
    path = tmp_path / "wide.safetensors"
    cfg = MeshPoseConfig.preset("xs", input_size=(64, 64), outline_scales=(0.5,) * 8)
    save_checkpoint(MeshPoseNet(cfg), path, {})
    crops = np.random.default_rng(1).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    common = {"model": str(path), "threads": 1, "cache_dir": str(tmp_path / "c")}
    preds = {}
    for backend in ("onnx", "torch"):
        for outline in (True, False):
            net = Network(NetworkConfig(backend=backend, outline=outline, **common))
            widening = net.model.finish.outline
            assert (widening is not None) == outline
            if outline:
                np.testing.assert_allclose(widening.scales, 0.5)
            preds[backend] = net.predict(crops)[0]
    np.testing.assert_allclose(preds["onnx"].vertices_high, preds["torch"].vertices_high, atol=2e-2)


def test_missing_weights_and_impossible_backends(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(checkpoint, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelUnavailable, match="no trained weights for MeshPose-XS"):
        model_path("xs")
    with pytest.raises(ModelUnavailable, match="model file not found"):
        model_path(str(tmp_path / "nope.safetensors"))
    with pytest.raises(ValueError, match="onnx backend runs on the CPU"):
        pick_backend("onnx", "cuda")
    with pytest.raises(ValueError, match="unknown backend"):
        pick_backend("tensorrt", "cpu")
    assert pick_backend("torch", "cpu") == "torch"
    if not torch.cuda.is_available():
        assert pick_backend("auto", "auto") == "onnx"
