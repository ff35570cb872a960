"""Reliability of training checkpoints (issue 20): the weights and the optimizer state are
one consistent set (a manifest written last names them); a set broken by a crash between
the renames is an error naming the files, never a silent mix of two steps."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
from test_train import TINY

from meshpose_core.model.checkpoint import CheckpointError
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.train.__main__ import main as train_main
from meshpose_core.train.config import load_config
from meshpose_core.train.loop import MANIFEST, STATE, WEIGHTS, load_state, save_state


def _save(run: Path, net: MeshPoseNet, step: int) -> None:
    cfg = dataclasses.replace(load_config(TINY), out_dir=str(run))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [10])
    with torch.no_grad():
        next(net.parameters()).add_(step)  # each step's weights differ
    save_state(run, net, opt, sched, step, cfg, {})


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run saved at step 5 (copies kept in ``old/``) and then at step 10."""
    torch.manual_seed(0)
    net = MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64)))
    run = tmp_path / "run"
    run.mkdir()
    _save(run, net, 5)
    shutil.copytree(run, tmp_path / "old")
    _save(run, net, 10)
    return run


def test_consistent_set_resumes(run: Path) -> None:
    assert load_state(run)["step"] == 10
    assert load_state(run.parent / "empty") is None


@pytest.mark.parametrize("stale", [STATE, WEIGHTS])
def test_crash_between_renames_is_an_error_naming_the_files(run: Path, stale: str) -> None:
    shutil.copy(run.parent / "old" / stale, run / stale)  # one file still of step 5
    with pytest.raises(CheckpointError, match="do not belong together") as err:
        load_state(run)
    assert str(run / WEIGHTS) in str(err.value) and str(run / STATE) in str(err.value)
    rc = train_main(["--config", str(TINY), "--out-dir", str(run), "--max-steps", "1"])
    assert rc == 1


def test_run_without_manifest_checks_the_steps(run: Path) -> None:
    (run / MANIFEST).unlink()  # saved before manifests existed
    assert load_state(run)["step"] == 10
    shutil.copy(run.parent / "old" / STATE, run / STATE)
    with pytest.raises(CheckpointError, match=r"of different steps \(10 and 5\)"):
        load_state(run)
