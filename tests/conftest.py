"""Fixtures shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.model.checkpoint import save_checkpoint
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.pipeline import engine
from meshpose_core.pipeline.tracker import Tracker


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init MeshPose-XS at 64x64: pipeline mechanics without trained weights."""
    torch.manual_seed(0)
    net = MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64)))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(net, path, {"training_data": "none (random init, tests)"})
    return path


def draw_every_mesh(monkeypatch: pytest.MonkeyPatch) -> None:
    """Random-init meshes are no one's: the mesh guard and the tracker's mesh checks would
    withhold them all. Tests of the mechanics with ``tiny_model`` draw every mesh (the guard
    and the checks are tested in test_pipeline_follow.py). In this process only: a CLI run
    in a child process keeps the guard."""
    real_refine = Tracker.refine

    def refine(self: Tracker, track_id: int, box: np.ndarray, confidence: float) -> bool:
        real_refine(self, track_id, box, confidence)
        return True

    def accept_all(vertices: np.ndarray, boxes: np.ndarray, config: object) -> tuple:
        return np.zeros(len(vertices), bool), np.zeros(len(vertices), bool)

    monkeypatch.setattr(Tracker, "refine", refine)
    monkeypatch.setattr(engine, "accepted_meshes", accept_all)


@pytest.fixture
def every_mesh_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """``draw_every_mesh`` for one test."""
    draw_every_mesh(monkeypatch)
