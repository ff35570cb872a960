"""Deterministic synthetic sample stream: sample ``index`` is always the same image.

Each sample draws a body shape (anny's own phenotype samples or the PCA prior), a pose from
the CMU/MakeHuman library (mirrored half of the time, perturbed within joint limits),
sometimes other people and an occluder, a random camera and appearance, and webcam-like
image degradations. Determinism by index gives exact training resume and identical
held-out sets on every machine, with any number of data-loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from meshpose_core.body.body_model import BodyModel
from meshpose_core.body.poses import PoseLibrary
from meshpose_core.render import Rasterizer, create_rasterizer

from .appearance import random_appearance, random_color
from .dense_labels import HighToLow
from .sample import Body, FramingConfig, render_sample


@dataclass(frozen=True)
class SyntheticConfig:
    """What varies between samples; ``framing`` sets crop size and cameras."""

    framing: FramingConfig = field(default_factory=FramingConfig)
    seed: int = 0
    extra_people_prob: float = 0.3
    occluder_prob: float = 0.25
    empirical_shape_prob: float = 0.7
    perturb_deg: float = 6.0
    degrade_prob: float = 0.7
    renderer: str = "auto"  # rasterizer backend: auto | gl | cpu


def _degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour jitter, blur, sensor noise and JPEG: the look of webcams and phone video."""
    x = img.astype(np.float32)
    x = (x - x.mean()) * rng.uniform(0.7, 1.3) + x.mean() * rng.uniform(0.7, 1.3)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.6, 1.4)
    x = x * rng.uniform(0.9, 1.1, 3)
    if rng.random() < 0.3:
        k = int(rng.choice([3, 5]))
        x = cv2.GaussianBlur(x, (k, k), 0)
    x = x + rng.normal(0, rng.uniform(0, 8), x.shape)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(35, 95))])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def _occlude(sample: dict, rng: np.random.Generator) -> None:
    """Paint a random box over part of the person and drop the labels it hides (in place)."""
    h, w = sample["silhouette"].shape
    ys, xs = np.nonzero(sample["silhouette"])
    if len(ys) == 0:
        return
    cy, cx = ys[rng.integers(len(ys))], xs[rng.integers(len(xs))]
    bh, bw = (rng.uniform(0.15, 0.45, 2) * np.array([h, w])).astype(int)
    y0, x0 = max(0, cy - bh // 2), max(0, cx - bw // 2)
    y1, x1 = min(h, y0 + bh), min(w, x0 + bw)
    sample["image"][y0:y1, x0:x1] = random_color(rng).astype(np.uint8)
    sample["silhouette"][y0:y1, x0:x1] = False

    def inside(xy: np.ndarray) -> np.ndarray:
        return (
            (xy[:, 0] >= x0 - 0.5)
            & (xy[:, 0] < x1 - 0.5)
            & (xy[:, 1] >= y0 - 0.5)
            & (xy[:, 1] < y1 - 0.5)
        )

    sample["visibility"][inside(sample["vertices"])] = 0.0
    sample["dp_mask"] &= ~inside(sample["dp_points"])
    sample["keypoints"][inside(sample["keypoints"]), 2] = 0.0


class SyntheticGenerator:
    """``generator.sample(index) -> dict`` (see ``render_sample``); one per worker process
    (it owns a rasterizer, which must stay in the thread that created it)."""

    def __init__(self, cfg: SyntheticConfig | None = None) -> None:
        self.cfg = cfg or SyntheticConfig()
        self.body = BodyModel.load()
        self.poses = PoseLibrary.load()
        self.h2l = HighToLow.build()
        self._rast: Rasterizer | None = None

    @property
    def rasterizer(self) -> Rasterizer:
        if self._rast is None:
            self._rast = create_rasterizer(self.cfg.renderer)
        return self._rast

    def _bodies(self, rng: np.random.Generator, n: int) -> list[Body]:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
        empirical = rng.random() < self.cfg.empirical_shape_prob
        shapes = self.body.random_shapes(gen, n, empirical=empirical)
        if not empirical:
            shapes = shapes * 0.8
        poses = self.poses.sample(rng, n, mirror_prob=0.5, perturb_deg=self.cfg.perturb_deg)
        pose = torch.from_numpy(self.poses.to_model(poses, self.body.bone_names)).float()
        with torch.no_grad():
            full = self.body(shapes, pose)
            high = self.body.to_level(full, "high").double().numpy()
            low = self.body.to_level(full, "low").double().numpy()
        bodies = []
        for i in range(n):
            offset = np.zeros(3)
            if i:  # others beside, in front of or behind the target
                offset = np.array([rng.uniform(-1.0, 1.0), 0.0, rng.uniform(-2.0, 1.0)])
            bodies.append(Body(high[i] + offset, low[i] + offset))
        return bodies

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """Sample ``index`` (deterministic from the seed): ``render_sample``'s arrays, image
        (H, W, 3) uint8 and its supervision, with occluders and degradations."""
        rng = np.random.default_rng([self.cfg.seed, index])
        n = 1 + (int(rng.integers(1, 3)) if rng.random() < self.cfg.extra_people_prob else 0)
        bodies = self._bodies(rng, n)
        apps = [random_appearance(rng) for _ in bodies]
        s = render_sample(self.rasterizer, bodies, apps, self.h2l, rng, self.cfg.framing)
        if rng.random() < self.cfg.occluder_prob:
            _occlude(s, rng)
        if rng.random() < self.cfg.degrade_prob:
            s["image"] = _degrade(s["image"], rng)
        return s


class SyntheticDataset(torch.utils.data.Dataset):
    """Map-style view of the stream for DataLoader; indices past ``length`` wrap around."""

    def __init__(self, cfg: SyntheticConfig, length: int = 10**9) -> None:
        self.cfg = cfg
        self.length = length
        self._gen: SyntheticGenerator | None = None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if self._gen is None:  # created lazily inside each worker process
            self._gen = SyntheticGenerator(self.cfg)
        return self._gen.sample(index)
