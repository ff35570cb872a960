"""The shipped learned upsampler: loads safely, is an affine combination, beats the fixed one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.model.upsampler import CheckpointError, LearnedUpsampler, model_card
from meshpose_core.topology import Upsampling

FIXTURES = Path(__file__).parent / "fixtures" / "posed_bodies.npz"


@pytest.fixture(scope="module")
def model() -> LearnedUpsampler:
    return LearnedUpsampler.from_pretrained()


def test_rows_are_affine_combinations(model: LearnedUpsampler) -> None:
    for stage in (model.low_to_mid, model.mid_to_high):
        np.testing.assert_allclose(stage.weight.sum(1).detach().numpy(), 1.0, atol=1e-5)


def test_equivariant_to_similarity_transforms(model: LearnedUpsampler) -> None:
    low = torch.from_numpy(np.load(FIXTURES)["low"][:1])
    rot = torch.tensor([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with torch.no_grad():
        _, high = model(low)
        _, high_t = model(3.0 * low @ rot.T + torch.tensor([100.0, -20.0, 5.0]))
    expected = 3.0 * high @ rot.T + torch.tensor([100.0, -20.0, 5.0])
    torch.testing.assert_close(high_t, expected, atol=1e-3, rtol=1e-4)


def test_learned_beats_fixed_on_held_out_fixtures(model: LearnedUpsampler) -> None:
    fx = np.load(FIXTURES)
    with torch.no_grad():
        _, high = model(torch.from_numpy(fx["low"]))
    learned = np.linalg.norm(high.numpy() - fx["high"], axis=-1).mean()
    fixed = np.linalg.norm(Upsampling.load().low_to_high(fx["low"]) - fx["high"], axis=-1).mean()
    assert learned < 0.8 * fixed, (learned, fixed)
    card = model_card()
    assert card["metrics"]["learned_high"]["mean_mm"] < card["metrics"]["fixed_high"]["mean_mm"]


def test_bad_checkpoints_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        LearnedUpsampler.from_pretrained(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupt"):
        LearnedUpsampler.from_pretrained(bad)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(other), {"architecture": "something-else"})
    with pytest.raises(CheckpointError, match="not an upsampler"):
        LearnedUpsampler.from_pretrained(other)
    old = tmp_path / "old.safetensors"
    save_file(
        {"x": torch.zeros(2)},
        str(old),
        {"architecture": "meshpose-upsampler-knn", "topology_version": "0", "support": "16"},
    )
    with pytest.raises(CheckpointError, match="topology version 0"):
        LearnedUpsampler.from_pretrained(old)
