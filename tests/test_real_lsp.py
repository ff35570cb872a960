"""LSP loading and its train / held-out split (``data.real.lsp``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from meshpose_core.data.real.lsp import EVAL_RANGE, is_eval_image, load_lsp, lsp_to_coco
from meshpose_core.data.real.paths import SharedDataMissingError


def test_lsp_to_coco_values_and_missing_joints() -> None:
    joints = np.zeros((14, 3, 2))
    joints[:, 0, 0] = np.arange(14)  # x = LSP index
    joints[:, 1, 0] = 100 + np.arange(14)
    joints[:, 2, 0] = 1
    joints[:, :, 1] = [[-20.0, 0.0, 0.0]] * 14  # image 1: nothing labelled (LSPET style)
    joints[9, :, 1] = [50.0, 60.0, 1.0]  # ... but its left shoulder
    coco = lsp_to_coco(joints)
    assert coco.shape == (2, 17, 3)
    np.testing.assert_array_equal(coco[0, :5], 0)  # no face in LSP
    assert coco[0, 5].tolist() == [9, 109, 1]  # left shoulder <- LSP 9
    assert coco[0, 10].tolist() == [6, 106, 1]  # right wrist <- LSP 6
    assert coco[0, 16].tolist() == [0, 100, 1]  # right ankle <- LSP 0
    assert coco[1, 5].tolist() == [50, 60, 1]
    assert np.count_nonzero(coco[1]) == 3


def test_load_lsp_split_and_boxes(tmp_path: Path) -> None:
    from scipy.io import savemat

    lsp = tmp_path / "train" / "lsp_extended"
    (lsp / "images").mkdir(parents=True)
    n = 3000
    rng = np.random.default_rng(0)
    joints = np.zeros((14, 3, 10000))
    joints[:, :2] = rng.uniform(10, 100, (14, 2, 10000))
    joints[:, 2] = 1
    joints[0, :, 5] = [-3.0, 0.0, 0.0]  # image 6: right ankle unlabelled
    savemat(lsp / "joints.mat", {"joints": joints})
    for i in range(n):
        (lsp / "images" / f"im{i + 1:05d}.jpg").touch()
    train, held_out = load_lsp(tmp_path, "train"), load_lsp(tmp_path, "eval")
    assert len(train) == 2500 and len(held_out) == 500
    assert held_out.index.min() == EVAL_RANGE[0] and held_out.index.max() == EVAL_RANGE[1] - 1
    assert train.images[0].endswith("im00001.jpg") and held_out.images[0].endswith("im02501.jpg")
    assert not set(train.images) & set(held_out.images)
    assert all(is_eval_image(p) for p in held_out.images)
    assert not any(is_eval_image(p) for p in train.images)
    assert train.keypoints[5, 16, 2] == 0 and train.keypoints[5, 14, 2] == 1
    visible = joints[:, :2, 5][joints[:, 2, 5] > 0]
    np.testing.assert_allclose(train.box[5], [*visible.min(0), *visible.max(0)])


def test_load_lsp_without_shared_root(tmp_path: Path) -> None:
    with pytest.raises(SharedDataMissingError, match="shared"):
        load_lsp(tmp_path / "missing")
