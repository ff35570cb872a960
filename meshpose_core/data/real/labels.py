"""The label store: one compressed .npz per source in ``data/real/``, one row per person.

Images are not copied: each row names its image by a path relative to the shared root (and a
frame index for videos). Arrays (N persons):

  image (N,) str, frame (N,) int32 (-1: still image), box (N, 4) float32 x0, y0, x1, y1,
  keypoints (N, 17, 2) float32, keypoint_conf (N, 17) float16 in [0, 1] (ground truth: 1 or
  0; teacher: min(visibility, presence)), keypoint_source (N, 17) uint8 (0 none, 1 ground
  truth, 2 teacher), pose_score (N,) float16 (teacher's person flag; 1 without teacher),
  mask_roi (N, 4) float32 (centre x, y, side, rotation: a RotatedRoi), mask (N, S*S/8) uint8
  bit-packed S x S person mask aligned with the crop of mask_roi, has_mask (N,) bool,
  side_conflict (N,) bool (ground truth fits the teacher better with left/right swapped),
  meta: a JSON string (source, teacher, settings, counts).

Points and boxes are image pixels with pixel centres at integers; mask_roi is continuous.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_core.detection import RotatedRoi
from meshpose_core.npz_io import read_npz
from meshpose_core.topology import NUM_COCO

FORMAT_VERSION = 1
MASK_SIZE = 128
SOURCE_NONE, SOURCE_GT, SOURCE_TEACHER = 0, 1, 2


def pack_mask(mask: np.ndarray) -> np.ndarray:
    """(S, S) bool -> (S*S/8,) uint8."""
    return np.packbits(mask.astype(bool).reshape(-1))


def unpack_mask(packed: np.ndarray, size: int = MASK_SIZE) -> np.ndarray:
    """(S*S/8,) uint8 -> (S, S) bool."""
    return np.unpackbits(packed, count=size * size).reshape(size, size).astype(bool)


def roi_to_array(roi: RotatedRoi) -> np.ndarray:
    """(4,) float32: centre x, y, side (image px), rotation (radians), the ``mask_roi`` row."""
    return np.array([*roi.center, roi.size, roi.rotation], dtype=np.float32)


def roi_from_array(row: np.ndarray) -> RotatedRoi:
    """Inverse of ``roi_to_array``: a (4,) row -> the RotatedRoi."""
    return RotatedRoi(
        center=(float(row[0]), float(row[1])), size=float(row[2]), rotation=float(row[3])
    )


@dataclass(eq=False)
class PersonLabels:
    """Column arrays of one label file (see the module docstring)."""

    image: np.ndarray
    frame: np.ndarray
    box: np.ndarray
    keypoints: np.ndarray
    keypoint_conf: np.ndarray
    keypoint_source: np.ndarray
    pose_score: np.ndarray
    mask_roi: np.ndarray
    mask: np.ndarray
    has_mask: np.ndarray
    side_conflict: np.ndarray

    def __len__(self) -> int:
        return len(self.image)

    def select(self, keep: np.ndarray) -> PersonLabels:
        """Rows where ``keep`` (bool (N,) or indices)."""
        return PersonLabels(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})


def empty_labels(mask_size: int = MASK_SIZE) -> PersonLabels:
    return PersonLabels(
        image=np.zeros(0, dtype=str),
        frame=np.zeros(0, np.int32),
        box=np.zeros((0, 4), np.float32),
        keypoints=np.zeros((0, NUM_COCO, 2), np.float32),
        keypoint_conf=np.zeros((0, NUM_COCO), np.float16),
        keypoint_source=np.zeros((0, NUM_COCO), np.uint8),
        pose_score=np.zeros(0, np.float16),
        mask_roi=np.zeros((0, 4), np.float32),
        mask=np.zeros((0, mask_size * mask_size // 8), np.uint8),
        has_mask=np.zeros(0, bool),
        side_conflict=np.zeros(0, bool),
    )


def stack_labels(rows: list[dict[str, Any]], mask_size: int = MASK_SIZE) -> PersonLabels:
    """Per-person dicts (keys = PersonLabels fields, unstacked values) -> PersonLabels."""
    if not rows:
        return empty_labels(mask_size)
    template = empty_labels(mask_size)
    return PersonLabels(
        **{
            f.name: np.stack([np.asarray(r[f.name]) for r in rows]).astype(
                getattr(template, f.name).dtype if f.name != "image" else str
            )
            for f in fields(PersonLabels)
        }
    )


def save_labels(path: Path | str, labels: PersonLabels, meta: dict[str, Any]) -> None:
    """Write a compressed label file (format_version and meta included)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(labels, f.name) for f in fields(labels)}
    np.savez_compressed(
        path,
        format_version=np.int32(FORMAT_VERSION),
        meta=np.array(json.dumps(meta, sort_keys=True)),
        **arrays,
    )


class LabelFileError(RuntimeError):
    """A label file is missing, corrupt or of another format version."""


def load_labels(path: Path | str) -> tuple[PersonLabels, dict[str, Any]]:
    """-> (labels, meta)."""
    data = read_npz(
        Path(path), FORMAT_VERSION, "make it with tools/label_real_frames.py", LabelFileError
    )
    data.pop("format_version")
    meta = json.loads(str(data.pop("meta")))
    try:
        return PersonLabels(**data), meta
    except TypeError as exc:
        raise LabelFileError(f"{path}: unexpected arrays {sorted(data)}") from exc
