"""Silhouette IoU on real images: ground-truth polygons and predicted meshes filled in one
crop frame by one rule (pixel centre inside), the COCO reader keeping outlines, and the
runner scoring a mask-giving model (constructed cases; no ../shared needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from meshpose_core.data.real.crop import box_roi, image_to_crop_points
from meshpose_core.detection import Detection, RotatedRoi
from meshpose_core.eval.eval_sets import EvalPerson, EvalSet, coco_polygons, read_coco_format
from meshpose_core.eval.models import SilhouetteModel
from meshpose_core.eval.runner import evaluate, person_ious, predict_people
from meshpose_core.eval.silhouette import mesh_silhouette, polygon_crop_mask

# image px, pixel centres at integers: the square [2, 6]^2, i.e. continuous [2.5, 6.5]^2
SQUARE = np.array([[2.0, 2.0], [6.0, 2.0], [6.0, 6.0], [2.0, 6.0]])


def test_polygon_fills_pixel_centres_inside_in_the_crop() -> None:
    # the crop of this ROI maps image continuous px to 2x (origin kept): continuous
    # [5, 13]^2 in a 40 px crop, whose pixel centres 5.5 .. 12.5 are inside: rows/cols 5..12
    roi = RotatedRoi(center=(10.0, 10.0), size=20.0, rotation=0.0)
    mask = polygon_crop_mask([SQUARE], roi, 40)
    expected = np.zeros((40, 40), bool)
    expected[5:13, 5:13] = True
    np.testing.assert_array_equal(mask, expected)
    # a quarter turn moves it but keeps its area; the outline follows the keypoint transform
    turned = RotatedRoi(center=(10.0, 10.0), size=20.0, rotation=math.pi / 2)
    mask = polygon_crop_mask([SQUARE], turned, 40)
    assert mask.sum() == 64
    rows, cols = np.nonzero(mask)
    centre = image_to_crop_points(turned, 40, SQUARE.mean(0))
    np.testing.assert_allclose([cols.mean(), rows.mean()], centre)


def test_polygons_are_a_union_and_clipped_to_the_crop() -> None:
    roi = RotatedRoi(center=(10.0, 10.0), size=20.0, rotation=0.0)
    one = polygon_crop_mask([SQUARE], roi, 40)
    assert (polygon_crop_mask([SQUARE, SQUARE + 1.0], roi, 40) >= one).all()  # no even-odd hole
    assert polygon_crop_mask([SQUARE + 100.0], roi, 40).sum() == 0  # outside the crop
    assert polygon_crop_mask([], roi, 40).sum() == 0


def test_mesh_silhouette_of_a_two_triangle_square() -> None:
    # crop px, pixel centres at integers: x, y in [1.5, 5.5] covers the centres of pixels 2..5
    v = np.array([[1.5, 1.5, 0.0], [5.5, 1.5, 1.0], [5.5, 5.5, 0.0], [1.5, 5.5, -1.0]])
    faces = np.array([[0, 2, 1], [0, 3, 2]])  # clockwise on the image: a body's outside
    mask = mesh_silhouette(v, faces, 8)
    expected = np.zeros((8, 8), bool)
    expected[2:6, 2:6] = True
    np.testing.assert_array_equal(mask, expected)
    assert not mesh_silhouette(v + 100.0, faces, 8).any()
    assert not mesh_silhouette(v, faces[:, ::-1], 8).any()  # its inside: culled, as drawn


def test_coco_reader_keeps_polygons_and_skips_rle(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.jpg").touch()
    kp = [10.0, 10.0, 2] * 17
    poly = [0.0, 0.0, 8.0, 0.0, 8.0, 8.0]
    anns = [
        {"image_id": 1, "bbox": [0, 0, 8, 8], "keypoints": kp, "segmentation": [poly, [1, 2]]},
        {"image_id": 1, "bbox": [0, 0, 8, 8], "keypoints": kp, "segmentation": {"counts": "x"}},
        {"image_id": 1, "bbox": [0, 0, 8, 8], "keypoints": kp},
    ]
    data = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": anns}
    (tmp_path / "c" / "t.json").write_text(json.dumps(data))
    people, _ = read_coco_format(tmp_path, "c/t.json", "c")
    assert len(people) == 3  # PCK still sees everyone
    (outline,) = people[0].polygons  # the 1-point "polygon" is dropped
    np.testing.assert_array_equal(outline, [[0, 0], [8, 0], [8, 8]])
    assert people[1].polygons == () and people[2].polygons == ()
    assert coco_polygons(None) == ()


class SquareMaskModel:
    """Keypoints at the crop centre; mask = the middle half of the crop."""

    name = "square"
    input_size = 32

    def predict(self, crops: np.ndarray) -> np.ndarray:
        return self.predict_with_masks(crops)[0]

    def predict_with_masks(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kp = np.full((len(crops), 17, 3), (self.input_size - 1) / 2)
        masks = np.zeros((len(crops), self.input_size, self.input_size), bool)
        masks[:, 8:24, 8:24] = True
        return kp, masks


def test_runner_scores_outlined_people_only() -> None:
    model = SquareMaskModel()
    assert isinstance(model, SilhouetteModel)
    # box [0, 63]: gt crop of margin 1 = continuous [0.5, 63.5] (~2 image px per crop px);
    # this outline, continuous [16, 48], lands on crop [7.9, 24.1]: pixels 8..23, the mask
    box = np.array([0.0, 0.0, 63.0, 63.0])
    mid = np.array([[15.5, 15.5], [47.5, 15.5], [47.5, 47.5], [15.5, 47.5]])
    outlined = EvalPerson("x.jpg", np.zeros((17, 3)), box, "annotated", (mid,))
    plain = EvalPerson("x.jpg", np.zeros((17, 3)), box, "annotated")
    image = np.zeros((64, 64, 3), np.uint8)
    people = [outlined, plain]
    _, made, ious = predict_people(image, people, [model], "gt", None, 1.0, silhouette=True)
    assert made == 2
    assert ious["square"][0] == pytest.approx(1.0) and np.isnan(ious["square"][1])
    _, _, off = predict_people(image, people, [model], "gt", None, 1.0)
    assert np.isnan(off["square"]).all()  # not asked for: nothing scored
    # an outlined person without a crop (unmatched detection) is a miss, as in PCK
    roi = box_roi(box, 1.0)
    masks = {0: np.zeros((32, 32), bool)}
    np.testing.assert_array_equal(person_ious([outlined, outlined], [roi, None], masks, 32), 0.0)


class OneBoxDetector:
    """Finds only the person whose box (pixel centres) it was given, as a box detector does
    (its ``box`` continuous px, half a pixel on: the crop is then the gt mode's)."""

    def __init__(self, box: np.ndarray) -> None:
        self.box = box

    def detect(self, image: np.ndarray) -> list[Detection]:
        return [Detection(self.box + 0.5, 0.9, person_box=self.box.copy())]


def test_found_people_iou_leaves_out_the_people_not_found(tmp_path: Path) -> None:
    """Detector mode: a person the detector misses counts 0 in ``silhouette_iou`` (as PCK
    counts their joints as misses) and is left out of ``found_silhouette_iou``."""
    import cv2

    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((64, 128, 3), np.uint8))
    box = np.array([0.0, 0.0, 63.0, 63.0])
    mid = np.array([[15.5, 15.5], [47.5, 15.5], [47.5, 47.5], [15.5, 47.5]])
    found = EvalPerson("x.png", np.zeros((17, 3)), box, "annotated", (mid,))
    shift = np.array([64.0, 0.0])
    missed = EvalPerson(
        "x.png", np.zeros((17, 3)), box + np.tile(shift, 2), "annotated", (mid + shift,)
    )
    eval_set = EvalSet("two", (found, missed))
    detector = OneBoxDetector(box)
    score = evaluate(
        eval_set, [SquareMaskModel()], tmp_path, "detector", detector, 1.0, silhouette=True
    ).scores["square"]
    assert score.silhouette_people == 2 and score.found_people == 1
    assert score.found_silhouette_iou == pytest.approx(1.0)
    assert score.silhouette_iou == pytest.approx(0.5)
