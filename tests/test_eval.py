"""Evaluation: PCK arithmetic, silhouette IoU, eval-set readers and joint maps, crop modes,
and the predict-and-map-back plumbing (fixtures only; no ../shared needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from real_helpers import FIXTURES, PEOPLE

from meshpose_core.data.real.crop import box_roi, crop_affine
from meshpose_core.data.real.joints import AIC_TO_COCO, POSETRACK_TO_COCO
from meshpose_core.detection import Detection
from meshpose_core.eval.crops import match_detections, person_rois
from meshpose_core.eval.eval_sets import (
    EvalPerson,
    EvalSet,
    labelled_as_visible,
    read_coco_format,
    read_mpii,
)
from meshpose_core.eval.runner import evaluate, predict_people
from meshpose_core.eval.silhouette import silhouette_iou
from meshpose_core.pck import box_size, pck, pck_hits
from meshpose_core.pipeline.crops import crop_transform

# --- PCK and IoU ---------------------------------------------------------------------------


def test_pck_exact_counts() -> None:
    gt = np.zeros((2, 3, 2))
    pred = np.zeros((2, 3, 2))
    pred[0, 0] = [3.0, 4.0]  # distance 5 = threshold (0.1 * 50): a hit
    pred[0, 1] = [0.0, 5.1]  # just outside
    pred[0, 2] = [np.nan, 0.0]  # no prediction: a miss
    pred[1, 0] = [1.0, 0.0]  # threshold 0.1 * 20 = 2: hit
    pred[1, 1] = [9.0, 9.0]  # not labelled: not counted
    pred[1, 2] = [0.0, 2.5]  # miss
    valid = np.array([[True, True, True], [True, False, True]])
    boxes = np.array([[0.0, 0.0, 50.0, 30.0], [10.0, 10.0, 20.0, 30.0]])
    sizes = box_size(boxes)
    np.testing.assert_array_equal(sizes, [50.0, 20.0])
    hits = pck_hits(pred, gt, valid, sizes)
    assert hits.tolist() == [[True, False, False], [True, False, False]]
    r = pck(pred, gt, valid, sizes)
    assert (r.n_joints, r.n_correct) == (5, 2) and r.pck == pytest.approx(0.4)
    assert r.per_joint_total.tolist() == [2, 1, 2] and r.per_joint_correct.tolist() == [2, 0, 0]
    assert pck(pred, gt, valid, sizes, alpha=0.2).n_correct == 4  # 5.1 < 10 and 2.5 < 4 now
    assert np.isnan(pck(pred, gt, np.zeros_like(valid), sizes).pck)


def test_silhouette_iou() -> None:
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[0:2, 0:2] = True  # 4 px
    b[1:3, 1:3] = True  # 4 px, 1 shared
    assert silhouette_iou(a, b) == pytest.approx(1 / 7)
    assert silhouette_iou(a, a) == 1.0
    assert silhouette_iou(a.astype(np.float32) * 0.9, a) == 1.0  # probabilities > 0.5
    assert silhouette_iou(np.zeros((2, 2)), np.zeros((2, 2), bool)) == 1.0
    with pytest.raises(ValueError):
        silhouette_iou(a, b[:3])


# --- readers and joint maps ----------------------------------------------------------------


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_coco_format_reader_maps_aic_joints(tmp_path: Path) -> None:
    (tmp_path / "aic").mkdir()
    (tmp_path / "aic" / "a.jpg").touch()
    kp = []
    for k in range(14):  # AIC joint k at x = k, y = 10 k
        kp += [float(k), 10.0 * k, 2 if k != 7 else 0]
    anns = [
        {"image_id": 1, "bbox": [5, 6, 10, 20], "keypoints": kp, "num_keypoints": 13},
        {"image_id": 2, "bbox": [0, 0, 1, 1], "keypoints": kp, "num_keypoints": 13},
        {"image_id": 1, "bbox": [0, 0, 1, 1], "keypoints": [0] * 42, "num_keypoints": 0},
    ]
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "missing.jpg"}]
    write_json(tmp_path / "aic" / "t.json", {"images": images, "annotations": anns})
    people, missing = read_coco_format(tmp_path, "aic/t.json", "aic", mapping=AIC_TO_COCO)
    assert missing == 1 and len(people) == 1
    p = people[0]
    assert p.image == "aic/a.jpg" and p.box_source == "annotated"
    np.testing.assert_allclose(p.box, [5, 6, 15, 26])
    assert p.keypoints[6].tolist() == [0.0, 0.0, 2.0]  # right shoulder <- AIC 0
    assert p.keypoints[5].tolist() == [3.0, 30.0, 2.0]  # left shoulder <- AIC 3
    assert p.keypoints[14, 2] == 0  # right knee <- AIC 7, unlabelled
    assert p.keypoints[16].tolist() == [8.0, 80.0, 2.0]  # right ankle <- AIC 8
    assert (p.keypoints[:5] == 0).all()


def test_posetrack_map_skips_head_bottom_and_top() -> None:
    assert POSETRACK_TO_COCO[:3] == (0, -1, -1) and POSETRACK_TO_COCO[3:] == tuple(range(3, 17))
    assert labelled_as_visible(np.array([0, 1, 2])).tolist() == [0, 2, 2]


def test_mpii_reader_is_zero_based_with_joint_box(tmp_path: Path) -> None:
    joints = [[float(k + 1), float(2 * k + 1)] for k in range(16)]
    vis = [1] * 16
    vis[9] = 0  # head top unlabelled
    write_json(
        tmp_path / "media/annotated/mpii/test_mpii.json",
        [{"image": "x.jpg", "joints": joints, "joints_vis": vis, "center": [0, 0], "scale": 1}],
    )
    (p,) = read_mpii(tmp_path)
    assert p.image == "media/annotated/mpii/x.jpg" and p.box_source == "joints"
    assert p.keypoints[16].tolist() == [0.0, 0.0, 2.0]  # right ankle = MPII 0, shifted by -1
    assert p.keypoints[9].tolist() == [15.0, 30.0, 2.0]  # left wrist = MPII 15
    np.testing.assert_allclose(p.box, [0.0, 0.0, 15.0, 30.0])  # head top (9) left out


# --- crops and matching --------------------------------------------------------------------


def person(box: list[float], hips: tuple[float, float] | None = None) -> EvalPerson:
    kp = np.zeros((17, 3))
    if hips is not None:
        kp[11] = [hips[0] - 5, hips[1], 2]
        kp[12] = [hips[0] + 5, hips[1], 2]
    return EvalPerson("x.jpg", kp, np.asarray(box, float), "annotated")


def detection_at(x: float, y: float) -> Detection:
    kps = np.array([[x, y], [x, y - 50], [x, y - 30], [x, y - 40]], np.float32)
    return Detection(box=np.zeros(4), score=0.9, keypoints=kps, head_box=np.zeros(4))


def test_detections_match_nearest_person_one_to_one() -> None:
    people = [person([0, 0, 100, 200], hips=(50, 100)), person([300, 0, 400, 200])]
    dets = [detection_at(352, 98), detection_at(54, 103), detection_at(900, 900)]
    matched = match_detections(people, dets)
    assert matched[0] is dets[1] and matched[1] is dets[0]
    assert match_detections(people[:1], [detection_at(200, 100)]) == [None]  # too far
    rois = person_rois(people, "detector", dets)
    assert rois[0] is not None and rois[0].center == pytest.approx(dets[1].roi().center)


def box_detection(box: list[float], score: float = 0.9) -> Detection:
    """A YOLOX-style detection: tight person box, tracking box its square."""
    b = np.asarray(box, float)
    centre, half = (b[:2] + b[2:]) / 2, (b[2:] - b[:2]).max() / 2
    return Detection(box=np.concatenate([centre - half, centre + half]), score=score, person_box=b)


def test_box_detections_match_by_iou_and_crop_as_the_pipeline() -> None:
    people = [person([0, 0, 100, 200], hips=(50, 100)), person([90, 0, 190, 200])]
    # the first detection's centre is nearer the first person, but it boxes the second
    dets = [box_detection([80, 0, 185, 205]), box_detection([2, 4, 98, 190])]
    dets.append(box_detection([500, 500, 560, 620]))  # nobody there
    matched = match_detections(people, dets)
    assert matched[0] is dets[1] and matched[1] is dets[0]
    assert match_detections(people[:1], [box_detection([60, 0, 160, 200])]) == [None]
    rois = person_rois(people, "detector", dets, margin=1.25)
    for roi, det in zip(rois, (dets[1], dets[0]), strict=True):
        assert roi is not None
        np.testing.assert_allclose(
            crop_affine(roi, (64, 64)), crop_transform(det.box, 1.25, (64, 64)), atol=1e-9
        )


def test_gt_crop_modes() -> None:
    p = person([10, 20, 50, 100], hips=(30, 60))
    (roi,) = person_rois([p], "gt")
    assert roi.size == pytest.approx(100.0) and roi.rotation == 0.0
    (upright,) = person_rois([p], "gt-roi")  # no shoulders: hips-centred, image-up
    assert upright.center == pytest.approx((30.5, 60.5)) and upright.rotation == pytest.approx(0.0)
    with pytest.raises(ValueError):
        person_rois([p], "nope")  # type: ignore[arg-type]


# --- predict and map back ------------------------------------------------------------------


class CentreModel:
    """Puts every joint at the crop centre ((S - 1) / 2, pixel centres)."""

    name = "centre"
    input_size = 64

    def predict(self, crops: np.ndarray) -> np.ndarray:
        out = np.full((len(crops), 17, 3), (self.input_size - 1) / 2)
        out[..., 2] = 1.0
        return out


def fixture_eval_set() -> EvalSet:
    people = tuple(
        EvalPerson(
            p["image"], np.asarray(p["keypoints"], float), np.asarray(p["bbox"]), "annotated"
        )
        for p in PEOPLE
    )
    return EvalSet("fixture", people)


def test_predictions_map_back_to_the_crop_centre() -> None:
    eval_set = fixture_eval_set()
    image = np.zeros((160, 240, 3), np.uint8)
    out, made, _ = predict_people(image, eval_set.people[:2], [CentreModel()], "gt", None, 1.25)
    assert made == 2
    for i, p in enumerate(eval_set.people[:2]):
        centre = (p.box[:2] + p.box[2:]) / 2  # box_roi centres the crop on the box
        np.testing.assert_allclose(out["centre"][i, :, :2], np.tile(centre, (17, 1)), atol=1e-9)


def test_evaluate_scores_each_visible_joint(tmp_path: Path) -> None:
    eval_set = fixture_eval_set()
    score = evaluate(eval_set, [CentreModel()], FIXTURES, "gt")
    gt = np.stack([p.keypoints for p in eval_set.people])
    assert score.people == score.cropped == 4
    result = score.scores["centre"].result
    assert result.n_joints == int((gt[..., 2] >= 2).sum())
    # a centre guess is near only the joints close to the box centre
    assert 0 < result.n_correct < result.n_joints
    occluded = evaluate(eval_set, [CentreModel()], FIXTURES, "gt", min_visibility=1)
    assert occluded.scores["centre"].result.n_joints == int((gt[..., 2] >= 1).sum())


def test_box_roi_matches_gt_crop_mode() -> None:
    p = fixture_eval_set().people[0]
    (roi,) = person_rois([p], "gt")
    expected = box_roi(p.box, 1.25)
    assert roi.center == pytest.approx(expected.center) and roi.size == pytest.approx(expected.size)
