"""Pseudo-ground-truth body fits (meshpose_core.fitting) on people made from known bodies."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from meshpose_core.data.real.crop import crop_to_image_points
from meshpose_core.data.real.labels import (
    PersonLabels,
    empty_labels,
    pack_mask,
    roi_to_array,
    save_labels,
)
from meshpose_core.detection import RotatedRoi
from meshpose_core.fitting.evidence import FIT_SIZE, make_evidence, stack_evidence
from meshpose_core.fitting.fitter import BodyFitter, FitConfig, project
from meshpose_core.fitting.run import fit_label_file, temporal_links
from meshpose_core.fitting.store import FitStoreError, load_fits
from meshpose_core.fitting.subset_body import SubsetBody
from meshpose_core.render.raster import rasterize
from meshpose_core.topology import NUM_COCO, Topology

FAST = FitConfig(placement_steps=20, fit_steps=60)
QUICK = FitConfig(placement_steps=5, fit_steps=10)  # store mechanics only, not fit quality


@pytest.fixture(scope="module")
def fitter() -> BodyFitter:
    torch.manual_seed(0)
    return BodyFitter(FAST)


def known_people(fitter: BodyFitter, n: int, seed: int = 0):
    """n bodies (library poses, random shapes, turned up to 40 degrees) in the fit frame ->
    (keypoints (n, 17, 2), masks (n, F, F), true low vertices (n, 518, 3))."""
    rng = np.random.default_rng(seed)
    from meshpose_core.body.poses import PoseLibrary

    lib = PoseLibrary.load()
    pose = torch.as_tensor(lib.poses[rng.integers(0, len(lib), n)])
    shape = torch.as_tensor(rng.normal(size=(n, 10)), dtype=torch.float32)
    shape = shape * fitter.body.full.shape_std[:10] * 0.7
    rot = torch.zeros(n, 3)
    rot[:, 1] = torch.as_tensor(rng.uniform(-0.7, 0.7, n), dtype=torch.float32)
    with torch.no_grad():
        levels = fitter.body(shape, pose, rot)
        s = torch.full((n,), 0.55 * FIT_SIZE / 1.7)
        t = torch.tensor([[FIT_SIZE / 2, FIT_SIZE / 2 + 4.0]]).expand(n, 2)
        low, mid = project(levels.low, s, t), project(levels["mid"], s, t)
    kp = torch.einsum("kv,bvd->bkd", fitter.landmarks, low[..., :2]).numpy()
    faces = Topology.load("mid").faces
    masks = []
    for m in mid.numpy():
        v = m.astype(np.float32).copy()
        v[:, :2] += 0.5
        masks.append(rasterize([(v, faces)], FIT_SIZE, FIT_SIZE).mask)
    return kp, np.stack(masks), low.numpy()


def test_subset_body_equals_full_model():
    body = SubsetBody()
    g = torch.Generator().manual_seed(1)
    shape = torch.randn(3, 10, generator=g) * body.full.shape_std[:10]
    pose = torch.randn(3, len(body.library_bones), 3, generator=g) * 0.3
    rot = torch.randn(3, 3, generator=g) * 0.5
    out = body(shape, pose, rot)
    coeffs = torch.zeros(3, body.num_shape)
    coeffs[:, :10] = shape
    ref = body.full.pose_body(coeffs, body.full_pose(pose), rot)
    for level in ("low", "mid"):
        want = body.full.to_level(ref.vertices, level)
        assert torch.allclose(out[level], want, atol=1e-5)
    assert torch.allclose(out.joints, ref.joints, atol=1e-5)


def test_fit_recovers_known_bodies(fitter):
    kp, masks, true_low = known_people(fitter, 4)
    rng = np.random.default_rng(0)
    valid = np.ones((FIT_SIZE, FIT_SIZE), bool)
    ev = stack_evidence(
        [make_evidence(kp[i], np.ones(NUM_COCO), masks[i], valid, rng) for i in range(4)]
    )
    fits = fitter.fit(ev)
    assert fits.kept.all(), (fits.joint_error, fits.mask_iou)
    assert (fits.joint_error < 0.03).all()
    assert (fits.mask_iou > 0.75).all()
    low, _ = fitter.posed(fits)
    # the surface, not only the joints: mean vertex error a few % of the body's size
    err = np.linalg.norm(low[..., :2] - true_low[..., :2], axis=-1).mean(1)
    assert (err / ev.size < 0.06).all(), err / ev.size


def test_fit_rejects_mask_that_is_not_the_person(fitter):
    kp, masks, _ = known_people(fitter, 2, seed=3)
    rng = np.random.default_rng(0)
    valid = np.ones((FIT_SIZE, FIT_SIZE), bool)
    wrong = np.zeros_like(masks[0])
    wrong[:, :30] = True  # a wall at the left edge, nowhere near the joints
    ev = stack_evidence(
        [
            make_evidence(kp[0], np.ones(NUM_COCO), masks[0], valid, rng),
            make_evidence(kp[1], np.ones(NUM_COCO), wrong, valid, rng),
        ]
    )
    fits = fitter.fit(ev)
    assert fits.kept[0] and not fits.kept[1]
    assert fits.mask_iou[1] < FAST.min_mask_iou


def _label_file(tmp: Path, fitter: BodyFitter, n: int) -> tuple[Path, Path]:
    """A label file of n known people, as consecutive frames of one 'video' whose only
    shared-root file is a still image of the right size (sizes are read, pixels are not)."""
    kp, masks, _ = known_people(fitter, n, seed=5)
    root = tmp / "shared"
    (root / "media").mkdir(parents=True)
    cv2.imwrite(str(root / "media/frame.png"), np.zeros((240, 320, 3), np.uint8))
    roi = RotatedRoi(center=(160.0, 120.0), size=200.0, rotation=0.0)
    image_kp = crop_to_image_points(roi, FIT_SIZE, kp)
    base = empty_labels()
    labels = PersonLabels(
        image=np.array(["media/frame.png"] * n),
        frame=np.full(n, -1, np.int32),
        box=np.tile(np.array([60.0, 20.0, 260.0, 220.0], np.float32), (n, 1)),
        keypoints=image_kp.astype(np.float32),
        keypoint_conf=np.ones((n, NUM_COCO), np.float16),
        keypoint_source=np.ones((n, NUM_COCO), np.uint8),
        pose_score=np.ones(n, np.float16),
        mask_roi=np.tile(roi_to_array(roi), (n, 1)).astype(np.float32),
        mask=np.stack(
            [pack_mask(cv2.resize(mk.astype(np.uint8), (128, 128)) > 0) for mk in masks]
        ).astype(base.mask.dtype),
        has_mask=np.ones(n, bool),
        side_conflict=np.zeros(n, bool),
    )
    path = tmp / "people.npz"
    save_labels(path, labels, {"source": "people"})
    return path, root


@pytest.fixture(scope="module")
def quick() -> BodyFitter:
    return BodyFitter(QUICK)


def test_fit_store_resumes_exactly(tmp_path, quick):
    fitter = quick
    labels, root = _label_file(tmp_path, fitter, 4)
    whole = tmp_path / "whole.npz"
    fit_label_file(labels, whole, root, fitter, batch=2, log=lambda m: None)

    class StopError(Exception):
        pass

    def stop_after_first(message: str) -> None:
        raise StopError  # interrupted right after the first batch was saved

    part = tmp_path / "part.npz"
    with pytest.raises(StopError):
        fit_label_file(labels, part, root, fitter, batch=2, log=stop_after_first)
    assert len(load_fits(part)[0]) == 2
    fit_label_file(labels, part, root, fitter, batch=2, log=lambda m: None)
    rows_a, a, meta = load_fits(whole, labels)
    rows_b, b, _ = load_fits(part, labels)
    assert np.array_equal(rows_a, rows_b) and len(rows_a) == 4
    np.testing.assert_array_equal(a.pose, b.pose)
    np.testing.assert_array_equal(a.mask_iou, b.mask_iou)
    assert meta["summary"]["fitted"] == 4


def test_fit_store_refuses_changed_labels_and_settings(tmp_path, quick):
    fitter = quick
    labels, root = _label_file(tmp_path, fitter, 2)
    store = tmp_path / "fits.npz"
    fit_label_file(labels, store, root, fitter, batch=2, log=lambda m: None)
    other = BodyFitter(replace(QUICK, fit_steps=11))
    with pytest.raises(RuntimeError, match="other settings"):
        fit_label_file(labels, store, root, other, batch=2, log=lambda m: None)
    labels.write_bytes(labels.read_bytes() + b"\0")
    with pytest.raises(FitStoreError, match="another version"):
        load_fits(store, labels)


def test_temporal_links_follow_the_person():
    labels = empty_labels()
    boxes = np.array([[0, 0, 10, 10], [50, 0, 60, 10], [1, 0, 11, 10], [51, 0, 61, 10]])
    labels = PersonLabels(
        **{
            **{f: getattr(labels, f) for f in labels.__dataclass_fields__},
            "image": np.array(["v.mp4"] * 4),
            "frame": np.array([0, 0, 3, 3], np.int32),
            "box": boxes.astype(np.float32),
        }
    )
    links = temporal_links(labels, np.arange(4))
    assert sorted(map(tuple, links.tolist())) == [(0, 2), (1, 3)]


def test_dataset_finds_fits_by_label_file_row(tmp_path, quick):
    """Fit stores are keyed by the label file's rows; the dataset drops side-conflict people,
    so its own indices differ and must not be used to look fits up."""
    from meshpose_core.data.real import RealDataset, RealDatasetConfig
    from meshpose_core.data.real.labels import load_labels
    from meshpose_core.fitting.supervision import FitLabelConfig, FitSupervision

    labels_path, root = _label_file(tmp_path, quick, 3)
    labels, meta = load_labels(labels_path)
    conflict = np.array([True, False, False])
    save_labels(labels_path, replace(labels, side_conflict=conflict), meta)
    fit_label_file(labels_path, tmp_path / "fits" / "people.npz", root, quick, log=lambda m: None)
    ds = RealDataset(
        RealDatasetConfig(label_files=(labels_path,), shared_root=root),
        supervision=FitSupervision(FitLabelConfig(fit_dir=tmp_path / "fits")),
    )
    assert len(ds) == 2
    assert ds.file_keys == [("people", 1), ("people", 2)]
    rows, fits, _ = load_fits(tmp_path / "fits" / "people.npz")
    kept = {("people", int(r)) for r in rows[fits.kept]}
    assert set(ds.fits) == kept
