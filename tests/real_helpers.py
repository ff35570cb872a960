"""Fixtures shared by the real-data tests (test_real_*.py): the fixture photos' people
(tests/fixtures/real: two CC BY 2.0 photos with their COCO annotations) as label-store rows."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from meshpose_core.data.real.crop import box_roi, image_to_crop_points
from meshpose_core.data.real.labels import (
    SOURCE_GT,
    pack_mask,
    roi_to_array,
    save_labels,
    stack_labels,
)

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "real"
PEOPLE = json.loads((FIXTURES / "people.json").read_text())


def fixture_row(person: dict, with_mask: bool) -> dict:
    """A label-store row from a fixture person (ground-truth joints, mask from its polygon)."""
    kp = np.asarray(person["keypoints"], np.float64)
    box = np.asarray(person["bbox"], np.float64)
    roi = box_roi(box, 1.25)
    mask = np.zeros((128, 128), np.uint8)
    if with_mask:
        for poly in person["polygon"]:
            pts = np.asarray(poly, np.float64).reshape(-1, 2) - 0.5  # continuous -> centres
            crop = image_to_crop_points(roi, 128, pts)
            cv2.fillPoly(mask, [np.round(crop * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return {
        "image": person["image"],
        "frame": -1,
        "box": box,
        "keypoints": kp[:, :2],
        "keypoint_conf": (kp[:, 2] > 0).astype(np.float32),
        "keypoint_source": np.where(kp[:, 2] > 0, SOURCE_GT, 0),
        "pose_score": 1.0,
        "mask_roi": roi_to_array(roi),
        "mask": pack_mask(mask.astype(bool)),
        "has_mask": with_mask,
        "side_conflict": False,
    }


@pytest.fixture
def label_file(tmp_path: Path) -> Path:
    rows = [fixture_row(p, with_mask=i != 1) for i, p in enumerate(PEOPLE)]
    path = tmp_path / "fixture.npz"
    save_labels(path, stack_labels(rows), {"source": "fixture"})
    return path
