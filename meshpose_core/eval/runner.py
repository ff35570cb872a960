"""Run keypoint models on an eval set's people and score them with PCK and, on request,
silhouette IoU against the outlined people (those with ground-truth polygons)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_core.data.real.crop import crop_to_image_points, warp_crop
from meshpose_core.data.real.media import read_rgb
from meshpose_core.data.real.quality import teacher_agreement
from meshpose_core.detection import PersonDetector, RotatedRoi
from meshpose_core.pck import DEFAULT_ALPHA, PckResult, box_size, pck

from .crops import DEFAULT_MARGIN, CropMode, person_rois
from .eval_sets import EvalPerson, EvalSet
from .models import KeypointModel, SilhouetteModel
from .silhouette import polygon_crop_mask, silhouette_iou


@dataclass(frozen=True)
class ModelScore:
    """PCK of one model on one eval set; side_swaps: people whose labels fit the model at
    least twice better with left/right swapped (a convention or labelling check);
    silhouette_iou: mean over the silhouette_people scored (NaN: none, or not asked for), an
    outlined person without a crop counting 0; found_silhouette_iou: the mean over the
    found_people among them that got a crop (in detector mode: the people the detector found,
    which is what a user sees drawn)."""

    result: PckResult
    side_swaps: int
    silhouette_iou: float = float("nan")
    silhouette_people: int = 0
    found_silhouette_iou: float = float("nan")
    found_people: int = 0


@dataclass(frozen=True)
class EvalSetScore:
    name: str
    people: int
    cropped: int
    scores: dict[str, ModelScore]


def person_ious(
    people: Sequence[EvalPerson],
    rois: Sequence[RotatedRoi | None],
    masks: dict[int, np.ndarray],
    size: int,
) -> np.ndarray:
    """Predicted crop masks {person index: (size, size)} -> (N,) IoU with each outlined
    person's polygons filled in the same crop. An outlined person without a crop (detector
    mode, unmatched) scores 0, as PCK counts its joints as misses; NaN: not scored (no
    outline, or none of it inside the crop)."""
    out = np.full(len(people), np.nan)
    for i, (p, roi) in enumerate(zip(people, rois, strict=True)):
        if not p.polygons:
            continue
        if roi is None:
            out[i] = 0.0
            continue
        target = polygon_crop_mask(p.polygons, roi, size)
        if target.any():
            out[i] = silhouette_iou(masks[i], target)
    return out


def predict_people(
    image: np.ndarray,
    people: Sequence[EvalPerson],
    models: Sequence[KeypointModel],
    mode: CropMode,
    detector: PersonDetector | None,
    margin: float,
    silhouette: bool = False,
) -> tuple[dict[str, np.ndarray], int, dict[str, np.ndarray]]:
    """-> ({model name: (N, 17, 3) image px, NaN where a person got no crop}, crops made,
    {model name: (N,) silhouette IoU, ``person_ious``; all NaN unless ``silhouette`` and the
    model is a ``SilhouetteModel``})."""
    detections = detector.detect(image) if mode == "detector" and detector is not None else []
    rois = person_rois(people, mode, detections, margin)
    out = {m.name: np.full((len(people), 17, 3), np.nan) for m in models}
    ious = {m.name: np.full(len(people), np.nan) for m in models}
    idx = [i for i, r in enumerate(rois) if r is not None]
    for m in models:
        with_masks = silhouette and isinstance(m, SilhouetteModel)
        masks: dict[int, np.ndarray] = {}
        if idx:
            crops = np.stack([warp_crop(image, rois[i], m.input_size) for i in idx])
            if with_masks:
                pred, crop_masks = m.predict_with_masks(crops)
                masks = dict(zip(idx, crop_masks, strict=True))
            else:
                pred = m.predict(crops)
            for k, i in enumerate(idx):
                out[m.name][i, :, :2] = crop_to_image_points(rois[i], m.input_size, pred[k, :, :2])
                out[m.name][i, :, 2] = pred[k, :, 2]
        if with_masks:
            ious[m.name] = person_ious(people, rois, masks, m.input_size)
    return out, len(idx), ious


def evaluate(
    eval_set: EvalSet,
    models: Sequence[KeypointModel],
    shared_root: Path,
    mode: CropMode = "gt",
    detector: PersonDetector | None = None,
    margin: float = DEFAULT_MARGIN,
    alpha: float = DEFAULT_ALPHA,
    min_visibility: int = 2,
    silhouette: bool = False,
) -> EvalSetScore:
    """PCK@alpha of every model on the eval set's joints with visibility >= min_visibility;
    with ``silhouette``, also the mean silhouette IoU of each mask-giving model over the
    outlined people (``person_ious``)."""
    by_image: dict[str, list[int]] = {}
    for i, p in enumerate(eval_set.people):
        by_image.setdefault(p.image, []).append(i)
    n = len(eval_set.people)
    preds = {m.name: np.full((n, 17, 3), np.nan) for m in models}
    ious = {m.name: np.full(n, np.nan) for m in models}
    has_crop = np.zeros(n, bool)
    cropped = 0
    for image, index in by_image.items():
        people = [eval_set.people[i] for i in index]
        out, made, image_ious = predict_people(
            read_rgb(shared_root / image), people, models, mode, detector, margin, silhouette
        )
        cropped += made
        # the models share the crops: a person has one when any model predicted them
        has_crop[index] = np.isfinite(np.stack([v[:, 0, 0] for v in out.values()])).any(0)
        for name, value in out.items():
            preds[name][index] = value
            ious[name][index] = image_ious[name]
    gt = np.stack([p.keypoints for p in eval_set.people]) if n else np.zeros((0, 17, 3))
    sizes = box_size(np.stack([p.box for p in eval_set.people])) if n else np.zeros(0)
    valid = gt[..., 2] >= min_visibility
    scores = {}
    for name, pred in preds.items():
        swaps = sum(
            teacher_agreement(pred[i, :, :2], gt[i, :, :2], valid[i], float(sizes[i]))[1]
            for i in range(n)
            if np.isfinite(pred[i]).all()
        )
        scored = ious[name][np.isfinite(ious[name])]
        found = ious[name][np.isfinite(ious[name]) & has_crop]
        scores[name] = ModelScore(
            pck(pred, gt, valid, sizes, alpha),
            int(swaps),
            float(scored.mean()) if scored.size else float("nan"),
            int(scored.size),
            float(found.mean()) if found.size else float("nan"),
            int(found.size),
        )
    return EvalSetScore(eval_set.name, n, cropped, scores)
