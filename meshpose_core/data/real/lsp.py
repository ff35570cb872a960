"""Leeds Sports Pose Extended (LSPET): joints.mat -> COCO-17 keypoints, and the fixed split.

``../shared/train/lsp_extended`` holds ``joints.mat`` for all 10,000 images (array 'joints',
14 x 3 x 10000: x, y, flag with 1 = visible; a joint with flag 0 has no position, its x, y are
0 or negative) and the first 3000 images, ``images/im00001.jpg`` .. ``im03000.jpg``: image
``im{i + 1:05d}.jpg`` is column i of the array.

Left/right: "right" is the person's right, as in COCO, so the map is direct. Checked on images
with the joints drawn and against the BlazePose teacher (197 of 250 training images fit it
directly, 8 better with sides swapped). The crowd-sourced labels are noisy: some 3-7 % of people
have swapped (observer-centric) sides; the labelling tool flags them (``side_conflict``) and
``tools/eval_pck.py`` counts them ("L/R swaps"); nothing here corrects them. Coordinates are
used as stored (0-based pixel centres; no sign of MATLAB's 1-based shift against BlazePose).

Split (fixed by index, documented in data/real/README.md): images im02501 .. im03000 (0-based
columns 2500 .. 2999, the last 500 of the 3000 present) are the evaluation split, never used
for training or teacher labels; every other image present (im00001 .. im02500) is training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .joints import LSP_TO_COCO, map_to_coco
from .paths import require_shared_root

LSP_DIR = "train/lsp_extended"
EVAL_RANGE = (2500, 3000)  # 0-based joints.mat columns [start, stop) of the evaluation split
NUM_LSP_JOINTS = 14
Split = Literal["train", "eval", "all"]


@dataclass(frozen=True, eq=False)
class LspSet:
    """images (N,) paths relative to the shared root; index (N,) 0-based column in joints.mat;
    keypoints (N, 17, 3) COCO order: x, y (pixel centres), 1 = labelled and visible;
    box (N, 4) x0, y0, x1, y1 of all visible LSP joints, neck and head top included."""

    images: tuple[str, ...]
    index: np.ndarray
    keypoints: np.ndarray
    box: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def image_name(index: int) -> str:
    """0-based joints.mat column -> image file name."""
    return f"im{index + 1:05d}.jpg"


def image_index(name: str) -> int:
    """'im00042.jpg' -> 41."""
    return int(Path(name).stem[2:]) - 1


def lsp_to_coco(joints: np.ndarray) -> np.ndarray:
    """LSP joints (14, 3, N) as stored (x, y, flag) -> (N, 17, 3) COCO (x, y, visible); joints
    without a position (flag 0), and COCO's face points, are all zeros."""
    per_image = np.transpose(np.asarray(joints, dtype=np.float64), (2, 0, 1))  # (N, 14, 3)
    visible = per_image[..., 2:] > 0.5
    per_image = np.where(visible, per_image, 0.0)
    return map_to_coco(per_image, LSP_TO_COCO)[0]


def joints_box(joints: np.ndarray) -> np.ndarray:
    """LSP joints (14, 3, N) -> (N, 4) box of the visible joints (zeros if none)."""
    per_image = np.transpose(np.asarray(joints, dtype=np.float64), (2, 0, 1))
    visible = per_image[..., 2] > 0.5
    big = np.finfo(np.float64).max
    lo = np.where(visible[..., None], per_image[..., :2], big).min(axis=1)
    hi = np.where(visible[..., None], per_image[..., :2], -big).max(axis=1)
    return np.where(visible.any(axis=1)[:, None], np.concatenate([lo, hi], axis=1), 0.0)


def is_eval_index(index: np.ndarray | int) -> np.ndarray:
    """0-based index(es), any shape -> bool of that shape, True where in the evaluation
    split."""
    index = np.asarray(index)
    return (index >= EVAL_RANGE[0]) & (index < EVAL_RANGE[1])


def is_eval_image(path: str) -> bool:
    """Path relative to the shared root -> True for an LSP evaluation image."""
    return path.startswith(f"{LSP_DIR}/images/") and bool(is_eval_index(image_index(path)))


def split_indices(available: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Available 0-based indices (N,) -> (train, eval) int64 index arrays, each sorted."""
    ordered = np.sort(np.asarray(available, dtype=np.int64))
    held_out = is_eval_index(ordered)
    return ordered[~held_out], ordered[held_out]


def available_indices(lsp_root: Path) -> np.ndarray:
    """(N,) int64 0-based indices of the images present under ``lsp_root/images``."""
    names = sorted(p.name for p in (lsp_root / "images").glob("im*.jpg"))
    return np.array([image_index(n) for n in names], dtype=np.int64)


def read_joints(path: Path) -> np.ndarray:
    """joints.mat -> (14, 3, N) float64 array."""
    from scipy.io import loadmat

    joints = loadmat(str(path))["joints"]
    if joints.ndim != 3 or joints.shape[:2] != (NUM_LSP_JOINTS, 3):
        raise ValueError(f"{path}: expected joints of shape (14, 3, N), got {joints.shape}")
    return joints


def load_lsp(shared_root: Path | str, split: Split = "train") -> LspSet:
    """The LSPET images present on disk with their COCO keypoints, for one split."""
    lsp_root = require_shared_root(shared_root) / LSP_DIR
    joints = read_joints(lsp_root / "joints.mat")
    available = available_indices(lsp_root)
    available = available[available < joints.shape[2]]
    train, held_out = split_indices(available)
    chosen = {"train": train, "eval": held_out, "all": np.sort(available)}[split]
    images = tuple(f"{LSP_DIR}/images/{image_name(int(i))}" for i in chosen)
    selected = joints[:, :, chosen]
    return LspSet(images, chosen, lsp_to_coco(selected), joints_box(selected))
