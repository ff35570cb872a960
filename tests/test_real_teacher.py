"""The BlazePose teacher (``data.real.teacher``): heatmap refinement, and the teacher end to end
(BlazePose-full from assets stands in for heavy) with the label rows it makes
(``data.real.labelling``) on a fixture photo."""

from __future__ import annotations

import numpy as np
from real_helpers import FIXTURES, PEOPLE, REPO, fixture_row

from meshpose_core.data.real.crop import box_roi, joints_roi, resample_crop_mask
from meshpose_core.data.real.labels import unpack_mask
from meshpose_core.data.real.quality import teacher_agreement
from meshpose_core.data.real.teacher import refine_with_heatmap


def test_heatmap_refinement_moves_to_the_peak() -> None:
    heat = np.full((64, 64, 2), -20.0)
    heat[30, 10, 0] = 10.0  # one confident cell, at 4 px per cell
    heat[30, 11, 0] = 10.0
    xy = np.array([[42.0, 121.0], [200.0, 200.0]])
    out = refine_with_heatmap(xy, heat, kernel=7, min_confidence=0.5)
    np.testing.assert_allclose(out[0], [42.0, 120.0], atol=1e-6)  # cells 10, 11 -> x 40, 44
    np.testing.assert_array_equal(out[1], xy[1])  # no confident cell: unchanged


def test_teacher_joints_and_mask_match_the_annotation() -> None:
    from meshpose_core.data.real.labelling import LabelConfig, ground_truth_row, teacher_row
    from meshpose_core.data.real.media import read_rgb
    from meshpose_core.data.real.teacher import BlazePoseLandmarker, TeacherConfig
    from meshpose_core.eval.silhouette import silhouette_iou
    from meshpose_core.pck import pck

    model = REPO / "assets" / "blazepose" / "pose_landmark_full.tflite"
    teacher = BlazePoseLandmarker(TeacherConfig(model_path=model))
    skier = PEOPLE[0]
    image = read_rgb(FIXTURES / skier["image"])
    gt = np.asarray(skier["keypoints"], np.float64)
    out = teacher(image, joints_roi(gt, gt[:, 2] > 0))
    coco = out.coco()
    size = np.array([max(np.ptp(gt[:, 0]), np.ptp(gt[:, 1]))])
    result = pck(coco[None, :, :2], gt[None, :, :2], gt[None, :, 2] > 0, size, alpha=0.1)
    assert result.pck >= 0.8  # a left/right or index mix-up would fail here
    assert not teacher_agreement(coco[:, :2], gt[:, :2], gt[:, 2] > 0, float(size[0]))[1]
    # its mask against the annotated polygon, both in the teacher's crop
    row = fixture_row(skier, with_mask=True)
    annotated = resample_crop_mask(
        unpack_mask(row["mask"]), box_roi(np.asarray(skier["bbox"]), 1.25), out.roi, 256
    )
    assert silhouette_iou(out.mask > 0.5, annotated) > 0.7
    cfg = LabelConfig()
    labelled, why = teacher_row(skier["image"], -1, out, cfg)
    assert labelled is not None and why == "kept" and labelled["has_mask"]
    gt_row, why = ground_truth_row(
        image, skier["image"], gt, np.asarray(skier["bbox"]), teacher, cfg
    )
    assert why == "teacher mask" and gt_row["has_mask"] and not gt_row["side_conflict"]
    np.testing.assert_array_equal(gt_row["keypoints"], gt[:, :2])  # ground truth kept as is
