"""Eval sets: held-out real images with human-made 2D keypoints, read into one form: COCO-17
per person. (Speed is measured by ``meshpose_core.bench``; "benchmark" there means timing.)

All come from ``../shared`` and are never used for training: ``media/annotated/*`` (a few
images per format from mmpose's test data, and tiny_coco_person) and the LSPET evaluation
split. Each format's joints are mapped onto COCO-17 where it defines them
(``meshpose_core.data.real.joints``). Visibility is normalised to 2 = visible, 1 = labelled
but occluded, 0 = not labelled; formats that do not record occlusion (MPII as converted by
mmpose, PoseTrack18, LSP) mark every labelled joint 2. The PCK reference box is the annotated
person box where there is one, else the extent of the person's labelled joints. COCO-format
sets that outline people (COCO, tiny-COCO) also keep each person's ``segmentation`` polygons
for silhouette IoU; RLE masks (in these sets only on crowd regions, which are left out) are
not decoded (no pycocotools), so such a person has no outline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from meshpose_core.data.real.crop import box_of_points
from meshpose_core.data.real.joints import (
    AIC_TO_COCO,
    COCO_TO_COCO,
    MPII_TO_COCO,
    POSETRACK_TO_COCO,
    map_to_coco,
)
from meshpose_core.data.real.lsp import load_lsp

ANNOTATED = "media/annotated"


@dataclass(frozen=True, eq=False)
class EvalPerson:
    """image: path relative to the shared root; keypoints (17, 3): x, y (pixel centres),
    visibility (2 visible, 1 occluded, 0 none); box (4,) x0, y0, x1, y1 for PCK and GT crops;
    box_source: 'annotated' or 'joints'; polygons: the person's outline, each (P >= 3, 2)
    image px (pixel centres, as keypoints), union = the person; () where the set has none."""

    image: str
    keypoints: np.ndarray
    box: np.ndarray
    box_source: str
    polygons: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class EvalSet:
    """A named set of held-out people (``EVAL_SETS``); note: what the reader left out."""

    name: str
    people: tuple[EvalPerson, ...]
    note: str = ""


def coco_box(bbox: list[float]) -> np.ndarray:
    """COCO [x, y, w, h] -> (4,) x0, y0, x1, y1."""
    x, y, w, h = (float(v) for v in bbox)
    return np.array([x, y, x + w, y + h])


def coco_polygons(segmentation: object) -> tuple[np.ndarray, ...]:
    """COCO ``segmentation`` -> its polygons as (P, 2) arrays; () for RLE (a dict), a missing
    one, or polygons of fewer than 3 points (nothing to fill)."""
    if not isinstance(segmentation, list):
        return ()
    polys = (np.asarray(s, np.float64).reshape(-1, 2) for s in segmentation if len(s) >= 6)
    return tuple(p for p in polys if np.isfinite(p).all())


def person_from_joints(
    image: str,
    joints: np.ndarray,
    mapping: tuple[int, ...],
    box: np.ndarray | None,
    polygons: tuple[np.ndarray, ...] = (),
) -> EvalPerson | None:
    """Source joints (K, 3) x, y, v -> EvalPerson (box from the source's own labelled joints,
    head top etc. included, when none is annotated); None without labelled COCO joints."""
    coco, _ = map_to_coco(joints.astype(np.float64), mapping)
    if not (coco[:, 2] > 0).any():
        return None
    if box is None:
        box = box_of_points(joints[:, :2], joints[:, 2] > 0)
        source = "joints"
    else:
        source = "annotated"
    return EvalPerson(image, coco, box, source, polygons)


def read_coco_format(
    root: Path,
    json_path: str,
    image_dir: str,
    mapping: tuple[int, ...] = COCO_TO_COCO,
    visibility: Callable[[np.ndarray], np.ndarray] | None = None,
    rename: Callable[[str], str] | None = None,
) -> tuple[list[EvalPerson], int]:
    """A COCO-style keypoint json -> (people whose image exists, number skipped as missing).

    Crowd annotations and people without keypoints are left out; ``visibility`` maps the
    format's flags (K,) to ours (K,) (default: COCO's, already ours); ``rename`` fixes file
    names. Polygon ``segmentation`` outlines are kept (``coco_polygons``).
    """
    data = json.loads((root / json_path).read_text())
    files = {im["id"]: (rename or str)(im["file_name"]) for im in data["images"]}
    people, missing = [], 0
    for ann in data["annotations"]:
        if ann.get("iscrowd") or not ann.get("num_keypoints", 1):
            continue
        image = f"{image_dir}/{files[ann['image_id']]}"
        if not (root / image).is_file():
            missing += 1
            continue
        joints = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)
        if visibility is not None:
            joints[:, 2] = visibility(joints[:, 2])
        person = person_from_joints(
            image, joints, mapping, coco_box(ann["bbox"]), coco_polygons(ann.get("segmentation"))
        )
        if person is not None:
            people.append(person)
    return people, missing


def labelled_as_visible(v: np.ndarray) -> np.ndarray:
    """Formats without an occlusion flag: flags (K,) labelled (v > 0) -> 2, else 0."""
    return np.where(v > 0, 2.0, 0.0)


def read_mpii(root: Path) -> list[EvalPerson]:
    """mmpose's MPII json (joints 1-based as in MPII's MATLAB files: shifted by -1)."""
    folder = f"{ANNOTATED}/mpii"
    people = []
    for ann in json.loads((root / folder / "test_mpii.json").read_text()):
        joints = np.concatenate(
            [
                np.asarray(ann["joints"], np.float64) - 1.0,
                2.0 * np.asarray(ann["joints_vis"])[:, None],
            ],
            axis=1,
        )
        person = person_from_joints(f"{folder}/{ann['image']}", joints, MPII_TO_COCO, None)
        if person is not None:
            people.append(person)
    return people


def read_lsp_eval(root: Path) -> list[EvalPerson]:
    """LSPET evaluation split; PCK box = extent of all 14 visible LSP joints."""
    lsp = load_lsp(root, "eval")
    keypoints = lsp.keypoints.copy()
    keypoints[..., 2] *= 2.0
    return [
        EvalPerson(lsp.images[i], keypoints[i], lsp.box[i], "joints")
        for i in range(len(lsp))
        if keypoints[i, :, 2].any()
    ]


def _coco_set(name: str, json_path: str, image_dir: str, **kw) -> Callable[[Path], EvalSet]:
    def load(root: Path) -> EvalSet:
        people, missing = read_coco_format(root, json_path, image_dir, **kw)
        note = f"{missing} annotated people skipped: image not in ../shared" if missing else ""
        return EvalSet(name, tuple(people), note)

    return load


def _strip_humanart(file_name: str) -> str:
    return file_name.removeprefix("HumanArt/images/")


EVAL_SETS: dict[str, Callable[[Path], EvalSet]] = {
    "lsp_eval": lambda root: EvalSet("lsp_eval", tuple(read_lsp_eval(root))),
    "coco": _coco_set("coco", f"{ANNOTATED}/coco/test_coco.json", f"{ANNOTATED}/coco"),
    "tiny_coco_val": _coco_set(
        "tiny_coco_val",
        f"{ANNOTATED}/tiny_coco_person/annotations/person_keypoints_val2017_persononly.json",
        f"{ANNOTATED}/tiny_coco_person/val2017",
    ),
    "tiny_coco_train": _coco_set(
        "tiny_coco_train",
        f"{ANNOTATED}/tiny_coco_person/annotations/person_keypoints_train2017_persononly.json",
        f"{ANNOTATED}/tiny_coco_person/train2017",
    ),
    "mpii": lambda root: EvalSet("mpii", tuple(read_mpii(root))),
    "aic": _coco_set(
        "aic", f"{ANNOTATED}/aic/test_aic.json", f"{ANNOTATED}/aic", mapping=AIC_TO_COCO
    ),
    "posetrack18": _coco_set(
        "posetrack18",
        f"{ANNOTATED}/posetrack18/annotations/test_posetrack18_val.json",
        f"{ANNOTATED}/posetrack18",
        mapping=POSETRACK_TO_COCO,
        visibility=labelled_as_visible,
    ),
    "humanart": _coco_set(
        "humanart",
        f"{ANNOTATED}/humanart/test_humanart.json",
        f"{ANNOTATED}/humanart",
        rename=_strip_humanart,
    ),
}
