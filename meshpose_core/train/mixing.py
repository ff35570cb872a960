"""One sample schema for every source, and the synthetic/real mixture the loop trains on.

Synthetic samples carry everything; real ones only 2D joints and (mostly) a silhouette. Every
sample gets every key, with a mask per supervision so the losses skip what a source lacks,
which lets any mixture collate into one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from meshpose_core.data.synthetic.generator import SyntheticConfig, SyntheticDataset
from meshpose_core.topology import LEVEL_SIZES, NUM_COCO

NUM_V = LEVEL_SIZES["low"]


def synthetic_masks(s: dict[str, Any]) -> dict[str, Any]:
    """A synthetic sample gains all-ones masks (its 2D joints are exact, occluded or not)."""
    return {
        **s,
        "keypoints_mask": np.ones(NUM_COCO, np.float32),
        "silhouette_mask": np.float32(1.0),
        "visibility_mask": np.float32(1.0),
        "vertices_mask": np.float32(1.0),
        "depth_mask": np.float32(1.0),
    }


FIT_KEYS = (
    "dp_points", "dp_face", "dp_bary", "dp_mask", "vertices", "vertices_mask", "depth_mask",
    "visibility", "visibility_mask", "vertices_world",
)  # fmt: skip


def real_as_full(s: dict[str, Any], dense_points: int) -> dict[str, Any]:
    """A real sample gains zero-filled, masked-off synthetic-only keys, unless a body fit
    supplied them (``data.real.fitted``)."""
    blank = {
        "image": s["image"],
        "keypoints": s["keypoints"].astype(np.float32),
        "keypoints_mask": s["keypoints_mask"].astype(np.float32),
        "silhouette": s["silhouette"].astype(bool),
        "silhouette_mask": np.float32(s["silhouette_mask"]),
        "dp_points": np.zeros((dense_points, 2), np.float32),
        "dp_face": np.zeros(dense_points, np.int64),
        "dp_bary": np.full((dense_points, 3), 1 / 3, np.float32),
        "dp_mask": np.zeros(dense_points, bool),
        "vertices": np.zeros((NUM_V, 3), np.float32),
        "vertices_mask": np.float32(0.0),
        "depth_mask": np.float32(0.0),
        "visibility": np.zeros(NUM_V, np.float32),
        "visibility_mask": np.float32(0.0),
        "vertices_world": np.zeros((NUM_V, 3), np.float32),
    }
    return blank | {k: s[k] for k in FIT_KEYS if k in s}


@dataclass(frozen=True)
class MixConfig:
    real_fraction: float = 0.0
    seed: int = 0


class MixedDataset(torch.utils.data.Dataset):
    """Sample ``index`` is real with probability ``real_fraction`` (decided by (seed, index),
    so the mixture is as deterministic as each source)."""

    def __init__(self, synthetic: SyntheticConfig, mix: MixConfig, real: Any = None) -> None:
        self.synthetic = SyntheticDataset(synthetic)
        self.dense_points = synthetic.framing.dense_points
        self.mix = mix
        self.real = real  # a RealDataset (built by the caller: it needs ../shared)
        if mix.real_fraction > 0 and real is None:
            raise ValueError("real_fraction > 0 needs a real dataset")

    def __len__(self) -> int:
        return len(self.synthetic)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = np.random.default_rng([self.mix.seed, index, 1])
        if self.real is not None and rng.random() < self.mix.real_fraction:
            j = int(rng.integers(len(self.real)))
            params = self.real.augment(rng) if self.real.augment else None
            sample = self.real.sample(j, params) if params is not None else self.real[j]
            return real_as_full(sample, self.dense_points)
        return synthetic_masks(self.synthetic[index])
