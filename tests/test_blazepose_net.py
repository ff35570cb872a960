"""Tests of the PyTorch port of the BlazePose landmark network against the TFLite original."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from meshpose_core.model.blazepose_net import (
    DEFAULT_WEIGHTS,
    STRIDE4,
    BlazePoseNet,
    BlazePoseNetError,
    same_padding,
)

REPO = Path(__file__).resolve().parents[1]
TFLITE_FULL = REPO / "assets" / "blazepose" / "pose_landmark_full.tflite"
TEST_IMAGE = REPO / "assets" / "test_images" / "coco_000000000785_skier.jpg"
# TFLite output shapes (batch dropped) -> our output names
TFLITE_OUTPUTS = {
    (195,): "landmarks",
    (1,): "pose_flag",
    (256, 256, 1): "segmentation",
    (64, 64, 39): "heatmap",
    (117,): "world_landmarks",
}


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """(256, 256, 3) float32 RGB in [0, 1]: a square crop around the skier."""
    rgb = cv2.cvtColor(cv2.imread(str(TEST_IMAGE)), cv2.COLOR_BGR2RGB)
    square = rgb[:, 130 : 130 + rgb.shape[0]]
    return cv2.resize(square, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


@pytest.fixture(scope="module")
def net() -> BlazePoseNet:
    return BlazePoseNet.from_files().eval()


def tflite_outputs(image: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(TFLITE_FULL), num_threads=2)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], image[None])
    interpreter.invoke()
    return {
        TFLITE_OUTPUTS[tuple(d["shape"][1:])]: interpreter.get_tensor(d["index"])[0]
        for d in interpreter.get_output_details()
    }


def torch_outputs(net: BlazePoseNet, image: np.ndarray) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        result = net(torch.from_numpy(image).permute(2, 0, 1)[None])
    return {k: (v[0].permute(1, 2, 0) if v.ndim == 4 else v[0]).numpy() for k, v in result.items()}


def test_parity_with_tflite(net: BlazePoseNet, crop: np.ndarray) -> None:
    ref, ours = tflite_outputs(crop), torch_outputs(net, crop)
    assert ref["pose_flag"][0] > 0.9  # a person is in the crop: the comparison is meaningful
    landmarks_ref, landmarks = ref["landmarks"].reshape(39, 5), ours["landmarks"].reshape(39, 5)
    assert np.abs(landmarks[:, :2] - landmarks_ref[:, :2]).max() < 1e-2  # px of 256
    assert np.abs(landmarks - landmarks_ref).max() < 1e-2
    assert np.abs(ours["world_landmarks"] - ref["world_landmarks"]).max() < 1e-4
    assert np.abs(ours["pose_flag"] - ref["pose_flag"]).max() < 1e-4
    assert np.abs(ours["heatmap"] - ref["heatmap"]).max() < 1e-2
    mask, mask_ref = (
        torch.sigmoid(torch.from_numpy(x)) for x in (ours["segmentation"], ref["segmentation"])
    )
    assert (mask - mask_ref).abs().max() < 1e-3


def test_stride4_backbone(net: BlazePoseNet, crop: np.ndarray) -> None:
    backbone = BlazePoseNet.from_files(outputs=(STRIDE4,)).eval()
    assert backbone.channels == {STRIDE4: 48}
    n_backbone = sum(p.numel() for p in backbone.parameters())
    assert n_backbone < 0.6 * sum(p.numel() for p in net.parameters())  # heads dropped
    assert not any("reshape" in k for k in backbone.state_dict())
    image = torch.from_numpy(crop).permute(2, 0, 1)[None]
    with torch.inference_mode():
        features = backbone(image)[STRIDE4]
        assert torch.equal(features, net(image)[STRIDE4])
        assert features.shape == (1, 48, 64, 64)
        small = backbone(torch.rand(2, 3, 192, 192))[STRIDE4]
    assert small.shape == (2, 48, 48, 48)


def test_backbone_trains(crop: np.ndarray) -> None:
    backbone = BlazePoseNet.from_files(outputs=(STRIDE4,))
    image = torch.from_numpy(crop).permute(2, 0, 1)[None]
    backbone(image)[STRIDE4].square().mean().backward()
    grads = [p.grad for p in backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_same_padding_matches_tensorflow() -> None:
    assert same_padding(8, 3, 2) == (0, 1)  # extra pixel after, unlike torch's symmetric pad
    assert same_padding(8, 5, 2) == (1, 2)
    assert same_padding(7, 3, 2) == (1, 1)
    assert same_padding(64, 3, 1) == (1, 1)
    assert same_padding(4, 2, 2) == (0, 0)


def test_bad_input_is_rejected(net: BlazePoseNet) -> None:
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.zeros(1, 3, 250, 256))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.zeros(3, 256, 256))
    with pytest.raises(BlazePoseNetError, match="unknown outputs"):
        BlazePoseNet.from_files(outputs=("nope",))


def test_missing_or_mismatched_files(tmp_path: Path) -> None:
    with pytest.raises(BlazePoseNetError, match="not found"):
        BlazePoseNet.from_files(tmp_path / "missing.safetensors")
    weights = tmp_path / "net.safetensors"
    shutil.copy(DEFAULT_WEIGHTS, weights)
    graph = json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    graph["source_sha256"] = "0" * 64
    weights.with_suffix(".json").write_text(json.dumps(graph))
    with pytest.raises(BlazePoseNetError, match="different models"):
        BlazePoseNet.from_files(weights)
    weights.write_bytes(b"corrupt" * 100)
    with pytest.raises(BlazePoseNetError, match="cannot read"):
        BlazePoseNet.from_files(weights)


def test_stored_weights_match_a_fresh_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    """The committed JSON + safetensors are what the converter makes of the vendored model."""
    pytest.importorskip("tflite", reason="build-time converter dependency")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "convert_blazepose", REPO / "tools" / "convert_blazepose.py"
    )
    converter = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, converter)  # dataclasses look the module up
    spec.loader.exec_module(converter)
    graph, weights = converter.convert(TFLITE_FULL.read_bytes(), TFLITE_FULL.name)
    assert graph == json.loads(DEFAULT_WEIGHTS.with_suffix(".json").read_text())
    from safetensors.torch import load_file

    stored = load_file(str(DEFAULT_WEIGHTS))
    assert stored.keys() == weights.keys()
    assert all(torch.equal(stored[k], weights[k]) for k in weights)
