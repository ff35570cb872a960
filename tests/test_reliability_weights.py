"""Reliability of weights (issue 20): a checkpoint whose tensors do not fit its config, or
hold NaN, is one error line naming the tensor, never a traceback or NaN results."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reliability_helpers import (
    SKIER,
    error_lines,
    private_onnx_cache,  # noqa: F401 - autouse
    run_cli,
)
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from meshpose_core.model.checkpoint import CheckpointError, load_checkpoint


def _altered(source: Path, target: Path, change) -> tuple[Path, str]:
    """A copy of ``source`` (same metadata) with ``change`` applied to its first weight
    matrix; returns the path and that tensor's name."""
    with safe_open(str(source), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(source))
    name = next(k for k, v in state.items() if v.ndim == 4)
    state[name] = change(state[name])
    save_file(state, str(target), meta)
    return target, name


def test_wrong_tensor_shape_names_the_tensor(tiny_model, tmp_path, capsys) -> None:
    bad, name = _altered(tiny_model, tmp_path / "shapes.safetensors", lambda t: t[:1].clone())
    with pytest.raises(CheckpointError, match=f"tensor {name} has shape") as err:
        load_checkpoint(bad)
    assert "\n" not in str(err.value)
    _one_line_from_the_cli(bad, f"tensor {name} has shape", tmp_path, capsys)


def _one_line_from_the_cli(weights: Path, message: str, tmp_path: Path, capsys) -> None:
    args = ["--images", SKIER, "--out", tmp_path / "ann", "--headless", "--backend", "torch"]
    rc, _, err = run_cli([*args, "--model", weights], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert message in error_lines(err)[0]
    assert not (tmp_path / "ann").exists()


def test_nan_weights_are_refused(tiny_model, tmp_path, capsys) -> None:
    def poison(t: torch.Tensor) -> torch.Tensor:
        t = t.clone()
        t.view(-1)[3] = float("nan")
        return t

    bad, name = _altered(tiny_model, tmp_path / "nan.safetensors", poison)
    with pytest.raises(CheckpointError, match=f"tensor {name} holds NaN or infinite"):
        load_checkpoint(bad)
    _one_line_from_the_cli(bad, f"tensor {name} holds NaN", tmp_path, capsys)
