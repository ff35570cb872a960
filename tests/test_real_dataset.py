"""Training samples from real images (``data.real.dataset``): crops keep keypoints and masks on
the person, the shared folder is required and held-out images are refused. Runs without
../shared (fixtures in tests/fixtures/real)."""
# ruff: noqa: F811  (fixtures imported from real_helpers)

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from real_helpers import FIXTURES, PEOPLE, fixture_row, label_file  # noqa: F401

from meshpose_core.data.real.crop import CropParams
from meshpose_core.data.real.dataset import (
    Person,
    RandomCrop,
    RealDataset,
    RealDatasetConfig,
    collate,
    crop_person,
)
from meshpose_core.data.real.labels import save_labels, stack_labels
from meshpose_core.data.real.paths import SharedDataMissingError
from meshpose_core.train.loop import loss_targets


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
