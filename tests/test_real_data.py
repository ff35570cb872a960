"""Real-data pipeline: joint conventions, LSP loading and split, label store, teacher filters,
crops that keep keypoints and masks on the image content. Runs without ../shared (fixtures in
tests/fixtures/real: two CC BY 2.0 photos with their COCO annotations)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from meshpose_core.data.real.crop import (
    CropParams,
    box_roi,
    crop_to_image_points,
    flip_crop,
    image_to_crop_points,
    joints_roi,
    resample_crop_mask,
)
from meshpose_core.data.real.dataset import (
    Person,
    RandomCrop,
    RealDataset,
    RealDatasetConfig,
    collate,
    crop_person,
)
from meshpose_core.data.real.joints import (
    AIC_TO_COCO,
    BLAZEPOSE_TO_COCO,
    COCO_FLIP,
    COCO_NAMES,
    LSP_TO_COCO,
    MPII_TO_COCO,
    flip_joint_order,
    map_to_coco,
)
from meshpose_core.data.real.labels import (
    SOURCE_GT,
    load_labels,
    pack_mask,
    roi_to_array,
    save_labels,
    stack_labels,
    unpack_mask,
)
from meshpose_core.data.real.lsp import EVAL_RANGE, is_eval_image, load_lsp, lsp_to_coco
from meshpose_core.data.real.media import MediaReader
from meshpose_core.data.real.paths import SharedDataMissingError
from meshpose_core.data.real.quality import (
    duplicates,
    keep_components_at_points,
    nearest_person_only,
    teacher_agreement,
)
from meshpose_core.data.real.teacher import refine_with_heatmap
from meshpose_core.train.loop import loss_targets

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "real"
PEOPLE = json.loads((FIXTURES / "people.json").read_text())

LSP_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)  # fmt: skip
MPII_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip
AIC_NAMES = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "head_top", "neck",
)  # fmt: skip
# MediaPipe Pose landmark names, in model output order (MediaPipe docs: pose landmarker).
BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip


# --- joint conventions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "names"),
    [
        (LSP_TO_COCO, LSP_NAMES),
        (MPII_TO_COCO, MPII_NAMES),
        (AIC_TO_COCO, AIC_NAMES),
        (BLAZEPOSE_TO_COCO, BLAZEPOSE_NAMES),
    ],
)
def test_mappings_pick_the_same_named_joint(
    mapping: tuple[int, ...], names: tuple[str, ...]
) -> None:
    for coco, src in enumerate(mapping):
        if src >= 0:
            assert names[src] == COCO_NAMES[coco]
    defined = {COCO_NAMES[c] for c, s in enumerate(mapping) if s >= 0}
    assert defined == set(names) & set(COCO_NAMES)  # nothing mappable is left out


def test_blazepose_indices_as_documented() -> None:
    assert BLAZEPOSE_TO_COCO == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def test_lsp_to_coco_values_and_missing_joints() -> None:
    joints = np.zeros((14, 3, 2))
    joints[:, 0, 0] = np.arange(14)  # x = LSP index
    joints[:, 1, 0] = 100 + np.arange(14)
    joints[:, 2, 0] = 1
    joints[:, :, 1] = [[-20.0, 0.0, 0.0]] * 14  # image 1: nothing labelled (LSPET style)
    joints[9, :, 1] = [50.0, 60.0, 1.0]  # ... but its left shoulder
    coco = lsp_to_coco(joints)
    assert coco.shape == (2, 17, 3)
    np.testing.assert_array_equal(coco[0, :5], 0)  # no face in LSP
    assert coco[0, 5].tolist() == [9, 109, 1]  # left shoulder <- LSP 9
    assert coco[0, 10].tolist() == [6, 106, 1]  # right wrist <- LSP 6
    assert coco[0, 16].tolist() == [0, 100, 1]  # right ankle <- LSP 0
    assert coco[1, 5].tolist() == [50, 60, 1]
    assert np.count_nonzero(coco[1]) == 3


def test_flip_order_swaps_sides_and_is_an_involution() -> None:
    assert COCO_FLIP[0] == 0
    for i, j in enumerate(COCO_FLIP):
        assert COCO_FLIP[j] == i
        if COCO_NAMES[i].startswith("left_"):
            assert COCO_NAMES[j] == "right_" + COCO_NAMES[i][5:]
    values = np.arange(17.0)[:, None]
    assert flip_joint_order(values)[5, 0] == 6 and flip_joint_order(values)[16, 0] == 15


def test_flip_crop_mirrors_pixels_and_swaps_labels() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    image[2, 1] = 255
    keypoints = np.zeros((17, 3))
    keypoints[9] = [1.0, 2.0, 1.0]  # left wrist on the bright pixel
    mask = np.zeros((8, 8), bool)
    mask[2, 1] = True
    out, kp, m = flip_crop(image, keypoints, mask)
    assert out[2, 6].all() and m[2, 6]
    assert kp[10].tolist() == [6.0, 2.0, 1.0]  # now the right wrist, at x = 8 - 1 - 1
    assert kp[9].tolist() == [7.0, 0.0, 0.0]  # the (empty) right wrist moved to the left slot


def test_map_to_coco_fill() -> None:
    values, defined = map_to_coco(np.ones((2, 14, 3)), LSP_TO_COCO, fill=-1.0)
    assert values.shape == (2, 17, 3) and defined.sum() == 12
    assert (values[:, :5] == -1).all() and (values[:, 5:] == 1).all()


# --- LSP loading and split -----------------------------------------------------------------


def test_load_lsp_split_and_boxes(tmp_path: Path) -> None:
    from scipy.io import savemat

    lsp = tmp_path / "train" / "lsp_extended"
    (lsp / "images").mkdir(parents=True)
    n = 3000
    rng = np.random.default_rng(0)
    joints = np.zeros((14, 3, 10000))
    joints[:, :2] = rng.uniform(10, 100, (14, 2, 10000))
    joints[:, 2] = 1
    joints[0, :, 5] = [-3.0, 0.0, 0.0]  # image 6: right ankle unlabelled
    savemat(lsp / "joints.mat", {"joints": joints})
    for i in range(n):
        (lsp / "images" / f"im{i + 1:05d}.jpg").touch()
    train, held_out = load_lsp(tmp_path, "train"), load_lsp(tmp_path, "eval")
    assert len(train) == 2500 and len(held_out) == 500
    assert held_out.index.min() == EVAL_RANGE[0] and held_out.index.max() == EVAL_RANGE[1] - 1
    assert train.images[0].endswith("im00001.jpg") and held_out.images[0].endswith("im02501.jpg")
    assert not set(train.images) & set(held_out.images)
    assert all(is_eval_image(p) for p in held_out.images)
    assert not any(is_eval_image(p) for p in train.images)
    assert train.keypoints[5, 16, 2] == 0 and train.keypoints[5, 14, 2] == 1
    visible = joints[:, :2, 5][joints[:, 2, 5] > 0]
    np.testing.assert_allclose(train.box[5], [*visible.min(0), *visible.max(0)])


def test_load_lsp_without_shared_root(tmp_path: Path) -> None:
    with pytest.raises(SharedDataMissingError, match="shared"):
        load_lsp(tmp_path / "missing")


# --- crops keep image and labels together --------------------------------------------------


def blob_image(h: int, w: int, xy: tuple[float, float], sigma: float = 1.5) -> np.ndarray:
    """A grey Gaussian dot centred at pixel-centre coordinates xy."""
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - xy[0]) ** 2 + (yy - xy[1]) ** 2) / (2 * sigma**2))
    return np.repeat((g * 255).astype(np.uint8)[..., None], 3, axis=2)


def blob_centre(image: np.ndarray) -> np.ndarray:
    w = image[..., 0].astype(np.float64)
    w = np.where(w > 0.3 * w.max(), w, 0.0)
    yy, xx = np.mgrid[0 : w.shape[0], 0 : w.shape[1]]
    return np.array([(xx * w).sum(), (yy * w).sum()]) / w.sum()


@pytest.mark.parametrize(
    "params",
    [
        CropParams(),
        CropParams(scale=0.8, rotation_deg=35.0, shift=(0.1, -0.05)),
        CropParams(scale=1.3, rotation_deg=-70.0, flip=True),
    ],
)
def test_crop_puts_keypoint_on_its_dot(params: CropParams) -> None:
    dot = (83.3, 41.7)
    image = blob_image(120, 160, dot)
    keypoints = np.zeros((17, 2))
    keypoints[9] = dot  # left wrist
    person = Person(
        box=np.array([40.0, 20.0, 110.0, 100.0]), keypoints=keypoints, conf=np.eye(17)[9]
    )
    out = crop_person(image, person, params, 96, 1.25, 0.5)
    slot = 10 if params.flip else 9  # a mirrored left wrist is labelled the right wrist
    assert out["keypoints_mask"].tolist() == [i == slot for i in range(17)]
    assert out["keypoints"][slot, 2] == 1.0
    np.testing.assert_allclose(blob_centre(out["image"]), out["keypoints"][slot, :2], atol=0.15)


def test_points_round_trip_and_roi_geometry() -> None:
    roi = box_roi(np.array([10.0, 20.0, 50.0, 100.0]), 1.25, CropParams(rotation_deg=20.0))
    assert roi.size == pytest.approx(100.0)
    assert roi.center == pytest.approx((30.5, 60.5))
    pts = np.array([[12.0, 30.0], [47.5, 90.25]])
    back = crop_to_image_points(roi, 64, image_to_crop_points(roi, 64, pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    # the box centre (pixel centres) lands on the crop centre ((S - 1) / 2)
    np.testing.assert_allclose(image_to_crop_points(roi, 64, np.array([30.0, 60.0])), [31.5, 31.5])


def test_joints_roi_is_upright_on_hips() -> None:
    kp = np.zeros((17, 3))
    kp[[5, 6, 11, 12]] = [[90, 10, 1], [90, 30, 1], [50, 10, 1], [50, 30, 1]]  # lying, head right
    roi = joints_roi(kp, kp[:, 2] > 0)
    assert roi.center == pytest.approx((50.5, 20.5))
    up = roi.crop_to_image(1)[:, :2] @ np.array([0.0, -1.0])  # crop "up" in the image
    np.testing.assert_allclose(up / np.linalg.norm(up), [1.0, 0.0], atol=1e-9)
    assert joints_roi(kp, np.eye(17, dtype=bool)[0]) is None


def test_mask_resampling_follows_the_crop() -> None:
    mask_roi = box_roi(np.array([-0.5, -0.5, 63.5, 63.5]), 1.0)  # exactly the 64 x 64 pixels
    mask = np.zeros((64, 64), bool)
    mask[10:30, 40:50] = True
    same = resample_crop_mask(mask, mask_roi, mask_roi, 64)
    np.testing.assert_array_equal(same, mask)
    # a crop of the right half at twice the resolution
    half = box_roi(np.array([31.5, -0.5, 63.5, 31.5]), 1.0)
    out = resample_crop_mask(mask, mask_roi, half, 64)
    assert out[20:60, 16:36].all() and out.sum() == 40 * 20


# --- label store, media reader -------------------------------------------------------------


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


def test_label_store_round_trip(label_file: Path) -> None:
    labels, meta = load_labels(label_file)
    assert meta == {"source": "fixture"} and len(labels) == len(PEOPLE) == 4
    assert labels.keypoints.shape == (4, 17, 2) and labels.mask.shape == (4, 2048)
    assert labels.has_mask.tolist() == [True, False, True, True]
    m = unpack_mask(labels.mask[0])
    assert m.shape == (128, 128) and 0.05 < m.mean() < 0.5
    np.testing.assert_array_equal(unpack_mask(pack_mask(m)), m)


def test_dataset_samples_align_with_labels(label_file: Path) -> None:
    cfg = RealDatasetConfig(label_files=(label_file,), shared_root=FIXTURES, crop_size=128)
    ds = RealDataset(cfg, augment=RandomCrop())
    assert len(ds) == 4
    s = ds.sample(0, CropParams())  # the skier, upright, full body
    assert s["image"].shape == (128, 128, 3) and s["image"].dtype == np.uint8
    assert s["keypoints"].shape == (17, 3) and s["keypoints_mask"].all()
    assert s["silhouette"].shape == (128, 128) and bool(s["silhouette_mask"])
    # visible joints fall on the person's annotated mask
    ij = np.round(s["keypoints"][:, :2]).astype(int)
    grown = cv2.dilate(s["silhouette"].astype(np.uint8), np.ones((5, 5), np.uint8))
    assert grown[ij[:, 1], ij[:, 0]].mean() >= 0.9
    # flipping mirrors the silhouette and moves the left wrist into the right-wrist slot
    f = ds.sample(0, CropParams(flip=True))
    np.testing.assert_array_equal(f["silhouette"], s["silhouette"][:, ::-1])
    np.testing.assert_allclose(
        f["keypoints"][10, :2], [127 - s["keypoints"][9, 0], s["keypoints"][9, 1]], atol=1e-4
    )
    no_mask = ds.sample(1, CropParams())
    assert not no_mask["silhouette_mask"] and not no_mask["silhouette"].any()
    batch = collate([ds[i] for i in range(4)])
    targets = loss_targets({k: torch.as_tensor(v) for k, v in batch.items()})
    assert targets["keypoints"].shape == (4, 17, 2)
    assert targets["silhouette"].shape == (4, 128, 128)
    assert targets["silhouette_mask"].tolist() == [1.0, 0.0, 1.0, 1.0]


def test_dataset_needs_the_shared_folder(label_file: Path, tmp_path: Path) -> None:
    cfg = RealDatasetConfig(label_files=(label_file,), shared_root=tmp_path / "no_shared")
    with pytest.raises(SharedDataMissingError, match=r"\.\./shared"):
        RealDataset(cfg)


def test_dataset_refuses_held_out_images(tmp_path: Path) -> None:
    for image in ("media/annotated/coco/000000000785.jpg", "train/lsp_extended/images/im02600.jpg"):
        row = fixture_row(PEOPLE[0], with_mask=False) | {"image": image}
        path = tmp_path / "leak.npz"
        save_labels(path, stack_labels([row]), {"source": "leak"})
        with pytest.raises(ValueError, match="held-out"):
            RealDataset(RealDatasetConfig(label_files=(path,), shared_root=FIXTURES))


def test_video_frames_are_cached_in_decoding_order(tmp_path: Path) -> None:
    writer = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
    for i in range(6):
        writer.write(np.full((32, 32, 3), 40 * i, np.uint8))
    writer.release()
    read = MediaReader(tmp_path, tmp_path / "cache", {"v.mp4": {1, 4}})
    assert abs(int(read("v.mp4", 4).mean()) - 160) <= 3
    assert len(list((tmp_path / "cache").rglob("*.jpg"))) == 2  # both wanted frames, at once
    assert abs(int(read("v.mp4", 1).mean()) - 40) <= 3


# --- teacher post-processing and filters ---------------------------------------------------


def test_heatmap_refinement_moves_to_the_peak() -> None:
    heat = np.full((64, 64, 2), -20.0)
    heat[30, 10, 0] = 10.0  # one confident cell, at 4 px per cell
    heat[30, 11, 0] = 10.0
    xy = np.array([[42.0, 121.0], [200.0, 200.0]])
    out = refine_with_heatmap(xy, heat, kernel=7, min_confidence=0.5)
    np.testing.assert_allclose(out[0], [42.0, 120.0], atol=1e-6)  # cells 10, 11 -> x 40, 44
    np.testing.assert_array_equal(out[1], xy[1])  # no confident cell: unchanged


def test_mask_cleaning_keeps_the_persons_components() -> None:
    mask = np.zeros((32, 32), bool)
    mask[2:10, 2:10] = True
    mask[20:30, 20:30] = True
    kept = keep_components_at_points(mask, np.array([[5.0, 5.0]]))
    assert kept[2:10, 2:10].all() and not kept[20:30, 20:30].any()


def test_mask_pixels_go_to_the_nearest_skeleton() -> None:
    own = np.tile([[8.0, 0.0]], (17, 1)) + np.linspace(0, 1, 17)[:, None] * [0.0, 31.0]
    rival = own + np.array([16.0, 0.0])
    mask = np.ones((32, 32), bool)
    out = nearest_person_only(mask, own, [rival])
    assert out[:, :16].all() and not out[:, 17:].any()


def test_duplicates_and_side_conflicts() -> None:
    base = np.random.default_rng(1).uniform(0, 100, (17, 2))
    people = np.stack([base, base + 2.0, base + 60.0])
    valid = np.ones((3, 17), bool)
    assert duplicates(people, valid, np.array([0.9, 0.8, 0.7]), 0.1).tolist() == [
        False,
        True,
        False,
    ]
    agree, conflict = teacher_agreement(base, base, valid[0], 100.0)
    assert agree == 1.0 and not conflict
    swapped = flip_joint_order(base)
    agree, conflict = teacher_agreement(swapped, base, valid[0], 100.0)
    assert conflict


# --- the teacher end to end (BlazePose-full from assets stands in for heavy) ---------------


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
