"""Training configuration (YAML files in configs/ map onto these dataclasses)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class DataConfig:
    """Sources and their mixing. The paper mixed ~40 % real (DensePose-COCO) with ~60 %
    synthetic-like data; our real frames only carry 2D joints and silhouettes, so real_fraction
    trades real-image appearance against full 3D/dense supervision."""

    synthetic_seed: int = 0
    real_fraction: float = 0.0
    real_root: str = "../shared"
    # body fits of the real people (tools/fit_real_frames.py): kept fits add mesh, visibility
    # and dense supervision to their real samples (data/real/fitted.py); None: joints only
    real_fits: str | None = None
    real_sources: tuple[str, ...] | None = None  # label files in data/real (None: defaults)
    renderer: str = "auto"
    workers: int = 2
    eval_samples: int = 64


@dataclass(frozen=True)
class TrainConfig:
    """Adam, lr divided by 10 halfway (paper: 200 epochs at batch 96, lr 1e-3)."""

    model: str = "xs"  # a MeshPoseConfig preset
    model_overrides: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 16
    steps: int = 20000
    lr: float = 1e-3
    weight_decay: float = 0.0
    pretrained_lr_scale: float = 1.0  # lr factor for a pretrained backbone (BlazePose)
    output_lr_scale: float = 1.0  # lr factor for the heads' output layers (loop.param_groups)
    train_xy: bool = True  # False: vertex XY stays the prior's (MeshPoseNet.freeze_xy_residuals)
    amp: bool = True  # only on CUDA
    seed: int = 0
    out_dir: str = "runs/xs"
    log_every: int = 20
    checkpoint_every: int = 200
    eval_every: int = 1000
    init_from: str | None = None  # a MeshPose checkpoint to start from (weights only)
    # parameter-name prefixes that learn (loop.train_only); empty: all that may
    train_only: tuple[str, ...] = ()
    data: DataConfig = field(default_factory=DataConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_dir)


def load_config(path: str | Path, **overrides: Any) -> TrainConfig:
    """YAML -> TrainConfig; ``overrides`` (e.g. from the command line) win."""
    raw = yaml.safe_load(Path(path).read_text()) or {}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    data = DataConfig(**raw.pop("data", {}))
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown training options {sorted(unknown)}")
    return TrainConfig(**raw, data=data)
