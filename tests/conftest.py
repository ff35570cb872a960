"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from meshpose_core.model.checkpoint import save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init MeshPose-XS at 64x64: pipeline mechanics without trained weights."""
    torch.manual_seed(0)
    net = MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64)))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(net, path, {"training_data": "none (random init, tests)"})
    return path
