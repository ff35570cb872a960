"""Training samples from real images: person crops with the supervision the labels carry.

Each sample is one labelled person (``data/real/*.npz``), cropped square around its box with a
margin, under caller-chosen augmentation (``CropParams``; ``RandomCrop`` draws them), at the
network's crop size. Keys (numpy; default collate stacks them):

  image (S, S, 3) uint8 RGB
  keypoints (17, 3) float32: x, y in crop pixels (top-left pixel centre = 0), confidence
  keypoints_mask (17,) bool: confidence >= keypoint_threshold
  silhouette (S, S) bool (all False when the person has no mask), silhouette_mask () bool
  index () int64 (``dataset.person(index)`` tells its source and image)

People with more supervision than the labels (their body fits: mesh, visibility and dense
labels, ``meshpose_core.fitting.supervision.FitSupervision``) get it from the ``supervision``
the caller hands over; ``data`` does not know how it is made.

Every sample has every key (default collate needs that): a person without a mask gets an empty
silhouette with silhouette_mask False. ``MeshPoseLoss`` compares keypoints[..., :dims] with the
joints regressed from the mesh (built with the topology's first 17 landmarks, COCO order), so
pass ``meshpose_core.train.loop.loss_targets(batch)``: x, y only (a third column would be
compared with depth) and the two masks, without which unlabelled joints (stored at 0, 0) and
empty silhouettes would be supervised. The images live in the shared folder, not the repo;
the dataset refuses to start without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset

from meshpose_core.detection import RotatedRoi

from .crop import (
    CropParams,
    box_roi,
    flip_crop,
    image_to_crop_points,
    resample_crop_mask,
    warp_crop,
)
from .labels import PersonLabels, load_labels, roi_from_array, unpack_mask
from .lsp import is_eval_image
from .media import DEFAULT_FRAME_CACHE, MediaReader
from .paths import DEFAULT_SHARED_ROOT, LABEL_DIR, is_held_out, require_shared_root

DEFAULT_SOURCES = ("videos", "images", "upper_body", "lsp_train")


@dataclass(frozen=True)
class RealDatasetConfig:
    """label_files: label store files (default: every source in data/real); margin: crop side
    / the person box's longest side at scale 1; drop_side_conflicts: skip people whose ground
    truth fits the teacher better with left/right swapped (likely mislabelled sides)."""

    label_files: tuple[Path, ...] = tuple(LABEL_DIR / f"{s}.npz" for s in DEFAULT_SOURCES)
    shared_root: Path = DEFAULT_SHARED_ROOT
    frame_cache: Path = DEFAULT_FRAME_CACHE
    crop_size: int = 192
    margin: float = 1.25
    keypoint_threshold: float = 0.5
    drop_side_conflicts: bool = True
    seed: int = 0
    # evaluation on held-out labels (bench surface); training never sets it
    for_evaluation: bool = False


class PersonSupervision(Protocol):
    """Supervision that some people have beyond their labels (body fits: ``FitSupervision`` of
    ``meshpose_core.fitting.supervision``). Pickled into each data-loader worker."""

    def load(self, label_files: Mapping[str, Path]) -> Mapping[tuple[str, int], Any]:
        """{source: label file} -> {(source, label file row): that person's data}, for the
        people it supervises."""
        ...

    def __call__(
        self,
        person: Any,
        crop_roi: RotatedRoi,
        size: int,
        flip: bool,
        silhouette: np.ndarray | None,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """One person's (data from ``load``) sample keys in a size^2 crop of ``crop_roi``,
        mirrored when ``flip``; ``silhouette`` (size, size) bool: their mask there, if known."""
        ...


@dataclass(frozen=True)
class RandomCrop:
    """Draws CropParams: scale and rotation uniform in their ranges, shift uniform in
    [-shift, shift] per axis, flip with probability flip_prob."""

    scale: tuple[float, float] = (0.85, 1.25)
    rotation_deg: tuple[float, float] = (-30.0, 30.0)
    shift: float = 0.08
    flip_prob: float = 0.5

    def __call__(self, rng: np.random.Generator) -> CropParams:
        return CropParams(
            scale=float(rng.uniform(*self.scale)),
            rotation_deg=float(rng.uniform(*self.rotation_deg)),
            shift=(
                float(rng.uniform(-self.shift, self.shift)),
                float(rng.uniform(-self.shift, self.shift)),
            ),
            flip=bool(rng.random() < self.flip_prob),
        )


@dataclass(frozen=True, eq=False)
class Person:
    """What one sample needs besides the image: box (4,), keypoints (17, 2) and conf (17,)
    in image pixels; the teacher mask (M, M) bool and its ROI row (4,), or None."""

    box: np.ndarray
    keypoints: np.ndarray
    conf: np.ndarray
    mask: np.ndarray | None = None
    mask_roi: np.ndarray | None = None


def crop_person(
    image: np.ndarray,
    person: Person,
    params: CropParams,
    size: int,
    margin: float,
    keypoint_threshold: float,
) -> dict[str, Any]:
    """The pure core of a sample: (H, W, 3) image + person labels -> the sample dict (without
    index). The same ROI maps image, keypoints and mask, then flip mirrors all three."""
    roi = box_roi(person.box, margin, params)
    crop = warp_crop(image, roi, size)
    xy = image_to_crop_points(roi, size, person.keypoints.astype(np.float64))
    keypoints = np.concatenate([xy, person.conf[:, None]], axis=1).astype(np.float32)
    silhouette = None
    if person.mask is not None and person.mask_roi is not None:
        silhouette = resample_crop_mask(person.mask, roi_from_array(person.mask_roi), roi, size)
    if params.flip:
        crop, keypoints, silhouette = flip_crop(crop, keypoints, silhouette)
    return {
        "image": crop,
        "keypoints": keypoints,
        "keypoints_mask": keypoints[:, 2] >= keypoint_threshold,
        "silhouette": np.zeros((size, size), bool) if silhouette is None else silhouette,
        "silhouette_mask": np.array(silhouette is not None),
    }


def check_not_held_out(labels: PersonLabels, path: Path) -> None:
    """Refuse label files that touch evaluation images (a leak would inflate every result)."""
    bad = [p for p in set(labels.image.tolist()) if is_held_out(p) or is_eval_image(p)]
    if bad:
        raise ValueError(f"{path} labels held-out evaluation images, e.g. {sorted(bad)[:3]}")


class RealDataset(Dataset):
    """Person crops from the label store; ``augment(rng) -> CropParams`` (None: plain crops);
    ``supervision``: extra labels of some people (body fits), None for none.

    ``sample(i, params)`` gives explicit control; ``dataset[i]`` draws params from a generator
    seeded by (config.seed, torch.initial_seed(), i), so data-loader workers and epochs differ.
    """

    def __init__(
        self,
        config: RealDatasetConfig | None = None,
        augment: Callable[[np.random.Generator], CropParams] | None = None,
        supervision: PersonSupervision | None = None,
    ) -> None:
        self.config = cfg = config or RealDatasetConfig()
        self.augment = augment
        self.supervision = supervision
        root = require_shared_root(cfg.shared_root)
        parts: list[tuple[str, PersonLabels]] = []
        file_rows: list[np.ndarray] = []  # each kept person's row in its label file
        for path in cfg.label_files:
            labels, meta = load_labels(path)
            if not cfg.for_evaluation:
                check_not_held_out(labels, path)
            keep = np.ones(len(labels), bool)
            if cfg.drop_side_conflicts:
                keep = ~labels.side_conflict
                labels = labels.select(keep)
            parts.append((str(meta.get("source", Path(path).stem)), labels))
            file_rows.append(np.flatnonzero(keep))
        self.rows = [(name, labels, i) for name, labels in parts for i in range(len(labels))]
        # (source, row in the label file) of each sample: what fit stores are keyed by
        self.file_keys = [
            (name, int(r)) for (name, _), rows in zip(parts, file_rows, strict=True) for r in rows
        ]
        frames: dict[str, set[int]] = {}
        for _, labels in parts:
            for image, frame in zip(labels.image.tolist(), labels.frame.tolist(), strict=True):
                if frame >= 0:
                    frames.setdefault(image, set()).add(frame)
        self.read = MediaReader(root, cfg.frame_cache, frames)
        # file_keys entry -> what ``supervision`` needs of that person (e.g. its posed fit)
        self.fits: Mapping[tuple[str, int], Any] = {}
        if supervision is not None:
            names = [name for name, _ in parts]
            self.fits = supervision.load(dict(zip(names, cfg.label_files, strict=True)))

    def __len__(self) -> int:
        return len(self.rows)

    def person(self, index: int) -> tuple[str, str, int, Person]:
        """-> (source, image path, frame, Person) of one row."""
        source, labels, i = self.rows[index]
        mask = (
            unpack_mask(labels.mask[i], math.isqrt(labels.mask.shape[1] * 8))
            if labels.has_mask[i]
            else None
        )
        person = Person(
            box=labels.box[i],
            keypoints=labels.keypoints[i],
            conf=labels.keypoint_conf[i].astype(np.float32),
            mask=mask,
            mask_roi=labels.mask_roi[i] if mask is not None else None,
        )
        return source, str(labels.image[i]), int(labels.frame[i]), person

    def sample(self, index: int, params: CropParams) -> dict[str, Any]:
        _, image, frame, person = self.person(index)
        cfg = self.config
        out = crop_person(
            self.read(image, frame),
            person,
            params,
            cfg.crop_size,
            cfg.margin,
            cfg.keypoint_threshold,
        )
        fit = self.fits.get(self.file_keys[index])
        if fit is not None and self.supervision is not None:
            out.update(
                self.supervision(
                    fit,
                    box_roi(person.box, cfg.margin, params),
                    cfg.crop_size,
                    params.flip,
                    out["silhouette"] if out["silhouette_mask"] else None,
                    np.random.default_rng([cfg.seed, index, 7]),
                )
            )
        return {**out, "index": np.int64(index)}

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.augment is None:
            return self.sample(index, CropParams())
        rng = np.random.default_rng([self.config.seed, torch.initial_seed() % 2**63, index])
        return self.sample(index, self.augment(rng))


def collate(samples: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Stack samples into numpy arrays, each (B, ...) (torch's default collate works too,
    giving tensors)."""
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}
