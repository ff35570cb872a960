"""Run keypoint models on a benchmark's people and score them with PCK."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_core.data.real.crop import crop_to_image_points, warp_crop
from meshpose_core.data.real.media import read_rgb
from meshpose_core.data.real.quality import teacher_agreement
from meshpose_core.detection import BlazePoseDetector

from .benchmarks import Benchmark, EvalPerson
from .crops import DEFAULT_MARGIN, CropMode, person_rois
from .models import KeypointModel
from .pck import DEFAULT_ALPHA, PckResult, box_size, pck


@dataclass(frozen=True)
class ModelScore:
    """PCK of one model on one benchmark; side_swaps: people whose labels fit the model at
    least twice better with left/right swapped (a convention or labelling check)."""

    result: PckResult
    side_swaps: int


@dataclass(frozen=True)
class BenchmarkScore:
    name: str
    people: int
    cropped: int
    scores: dict[str, ModelScore]


def predict_people(
    image: np.ndarray,
    people: Sequence[EvalPerson],
    models: Sequence[KeypointModel],
    mode: CropMode,
    detector: BlazePoseDetector | None,
    margin: float,
) -> tuple[dict[str, np.ndarray], int]:
    """-> ({model name: (N, 17, 3) image px, NaN where a person got no crop}, crops made)."""
    detections = detector.detect(image) if mode == "detector" and detector is not None else []
    rois = person_rois(people, mode, detections, margin)
    out = {m.name: np.full((len(people), 17, 3), np.nan) for m in models}
    idx = [i for i, r in enumerate(rois) if r is not None]
    for m in models:
        if not idx:
            break
        crops = np.stack([warp_crop(image, rois[i], m.input_size) for i in idx])
        pred = m.predict(crops)
        for k, i in enumerate(idx):
            out[m.name][i, :, :2] = crop_to_image_points(rois[i], m.input_size, pred[k, :, :2])
            out[m.name][i, :, 2] = pred[k, :, 2]
    return out, len(idx)


def evaluate(
    benchmark: Benchmark,
    models: Sequence[KeypointModel],
    shared_root: Path,
    mode: CropMode = "gt",
    detector: BlazePoseDetector | None = None,
    margin: float = DEFAULT_MARGIN,
    alpha: float = DEFAULT_ALPHA,
    min_visibility: int = 2,
) -> BenchmarkScore:
    """PCK@alpha of every model on the benchmark's joints with visibility >= min_visibility."""
    by_image: dict[str, list[int]] = {}
    for i, p in enumerate(benchmark.people):
        by_image.setdefault(p.image, []).append(i)
    n = len(benchmark.people)
    preds = {m.name: np.full((n, 17, 3), np.nan) for m in models}
    cropped = 0
    for image, index in by_image.items():
        people = [benchmark.people[i] for i in index]
        out, made = predict_people(
            read_rgb(shared_root / image), people, models, mode, detector, margin
        )
        cropped += made
        for name, value in out.items():
            preds[name][index] = value
    gt = np.stack([p.keypoints for p in benchmark.people]) if n else np.zeros((0, 17, 3))
    sizes = box_size(np.stack([p.box for p in benchmark.people])) if n else np.zeros(0)
    valid = gt[..., 2] >= min_visibility
    scores = {}
    for name, pred in preds.items():
        swaps = sum(
            teacher_agreement(pred[i, :, :2], gt[i, :, :2], valid[i], float(sizes[i]))[1]
            for i in range(n)
            if np.isfinite(pred[i]).all()
        )
        scores[name] = ModelScore(pck(pred, gt, valid, sizes, alpha), int(swaps))
    return BenchmarkScore(benchmark.name, n, cropped, scores)
