"""The mocap pose library, its sampling (mirroring, perturbations) and the BVH reader.

Needs neither anny nor ../shared: the library is in data/poses, BVH snippets are inline.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from meshpose_core.body import BodyModel
from meshpose_core.body.bvh import BvhError, euler_to_matrix, parse_bvh
from meshpose_core.body.poses import PoseLibrary, mirror_poses, perturb_scale, twist_angle

MIRROR_X = torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)


@pytest.fixture(scope="module")
def lib() -> PoseLibrary:
    return PoseLibrary.load()


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load(dtype=torch.float64)


def test_contents(lib: PoseLibrary) -> None:
    assert 20_000 <= len(lib) <= 40_000
    assert np.isfinite(lib.poses).all()
    assert {"upperleg01.L", "lowerarm01.R", "head", "root"} <= set(lib.bone_names)
    assert set(lib.clip_source) == {
        "cmu_walkcycles_max",
        "cmu_aclstm_daz",
        "cmu_iclone_ccbase",
        "makehuman_poses_cc0",
    }
    assert all(lic.startswith(("CMU", "CC0")) for lic in lib.clip_license)
    assert lib.clip_index.max() == len(lib.clip_file) - 1
    names = lib.bone_names
    assert [names[i] for i in lib.mirror_index[[names.index("wrist.L"), names.index("head")]]] == [
        "wrist.R",
        "head",
    ]


def test_knees_bend_forward(lib: PoseLibrary) -> None:
    """Retargeted knees flex about their hinge within the joint range (no twisted legs)."""
    for side in ("L", "R"):
        k = lib.bone_names.index("lowerleg01." + side)
        axis = np.broadcast_to(lib.hinge_axes[k], (len(lib), 3))
        bend = twist_angle(lib.poses[:, k].astype(np.float64), axis)
        lo, hi = lib.hinge_range[k]
        inside = (bend > lo - np.deg2rad(10)) & (bend < hi)
        assert inside.mean() > 0.98
        off_axis = np.sqrt(np.maximum(np.linalg.norm(lib.poses[:, k], axis=1) ** 2 - bend**2, 0))
        assert np.median(off_axis) < np.deg2rad(5)


def test_walk_alternates_legs(lib: PoseLibrary, model: BodyModel) -> None:
    """In a walking clip the feet pass each other and the hands hang below the chest."""
    walk = next(i for i, f in enumerate(lib.clip_file) if f.endswith("walkcycles_max/02_01.bvh"))
    poses = lib.poses[lib.clip_index == walk]
    out = model.pose_body(
        torch.zeros(len(poses), model.num_shape),
        torch.as_tensor(lib.to_model(poses, model.bone_names)),
    )
    j = out.joints
    lead = j[:, model.bone_index("foot.L"), 2] - j[:, model.bone_index("foot.R"), 2]
    assert lead.max() > 0.2 and lead.min() < -0.2
    for hand in ("wrist.L", "wrist.R"):
        assert (j[:, model.bone_index(hand), 1] < j[:, model.bone_index("spine02"), 1]).all()


def test_mirrored_pose_gives_mirrored_mesh(lib: PoseLibrary, model: BodyModel) -> None:
    """Swap .L/.R and (x, y, z) -> (x, -y, -z): the posed mesh is the mirror image."""
    rng = np.random.default_rng(0)
    poses = lib.sample(rng, 4, mirror_prob=0.0, perturb_deg=10.0)
    mirrored = mirror_poses(poses, lib.mirror_index)
    shape = torch.zeros(4, model.num_shape)
    v = model(shape, torch.as_tensor(lib.to_model(poses, model.bone_names)))
    vm = model(shape, torch.as_tensor(lib.to_model(mirrored, model.bone_names)))
    d = (vm - v[:, model.symmetry] * MIRROR_X).norm(dim=-1)
    assert d.max() < 4e-3  # anny's own asymmetry (~1 mm at rest) grows a little with pose
    assert d.mean() < 5e-4
    assert np.allclose(mirror_poses(mirrored, lib.mirror_index), poses)


def test_sample_mirrors_and_perturbs_within_bounds(lib: PoseLibrary) -> None:
    rng = np.random.default_rng(1)
    base = lib.sample(np.random.default_rng(2), 64, mirror_prob=0.0, perturb_deg=0.0)
    perturbed = lib.perturb(rng, base.astype(np.float64), 8.0)
    delta = (
        Rotation.from_rotvec(perturbed.reshape(-1, 3))
        * Rotation.from_rotvec(base.reshape(-1, 3).astype(np.float64)).inv()
    )
    angle = delta.magnitude().reshape(base.shape[:2])
    limit = np.deg2rad(8.0) * np.array([perturb_scale(n) for n in lib.bone_names])
    assert (angle <= limit + 1e-6).all()
    assert angle.mean() > 0.2 * limit.mean()
    hinge = np.linalg.norm(lib.hinge_axes, axis=1) > 0
    for k in np.nonzero(hinge)[0]:
        axis = np.broadcast_to(lib.hinge_axes[k], (len(base), 3))
        rv = delta.as_rotvec().reshape(*base.shape)[:, k]
        assert np.allclose(np.cross(rv, axis), 0, atol=1e-6)  # only about the hinge
        bend0 = twist_angle(base[:, k].astype(np.float64), axis)
        bend = twist_angle(perturbed[:, k], axis)
        lo, hi = lib.hinge_range[k]
        assert (bend >= np.minimum(bend0, lo) - 1e-6).all()
        assert (bend <= np.maximum(bend0, hi) + 1e-6).all()
    flipped = lib.sample(np.random.default_rng(3), 200, mirror_prob=1.0, perturb_deg=0.0)
    again = lib.sample(np.random.default_rng(3), 200, mirror_prob=0.0, perturb_deg=0.0)
    assert np.allclose(flipped, mirror_poses(again, lib.mirror_index), atol=1e-6)
    assert lib.sample(rng, 5).shape == (5, len(lib.bone_names), 3)


BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Arm
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 2 0 0
    }
  }
  JOINT Leg
  {
    OFFSET 0 -1 0
    CHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation
    End Site
    {
      OFFSET 0 -2 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 1 2 0 0 0 0 0 0 0 0 0 0 0 0
5 6 7 90 0 0 10 20 30 0 0 0 0 0 0
"""


def test_bvh_parse_and_kinematics() -> None:
    clip = parse_bvh(BVH)
    assert clip.names == ("Hips", "Arm", "Arm_end", "Leg", "Leg_end")
    assert clip.parents.tolist() == [-1, 0, 1, 0, 3]
    assert clip.num_frames == 2 and clip.frame_time == pytest.approx(0.04)
    assert np.allclose(clip.root_translation()[1], [5, 6, 7])
    assert np.allclose(clip.rest_positions()[2], [3, 0, 0])
    local = clip.local_rotations()
    ref = Rotation.from_euler("ZXY", [10, 20, 30], degrees=True).as_matrix()
    assert np.allclose(local[1, 1], ref)  # channel order = intrinsic composition order
    _, pos = clip.forward_kinematics(local)
    assert np.allclose(pos[1, 1], [0, 1, 0])  # hips turned 90 deg about Z: the arm points up
    assert np.allclose(euler_to_matrix(np.array([90.0, 0, 0]), "ZYX"), ref_z90())


def ref_z90() -> np.ndarray:
    return np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def test_bvh_rejects_garbage() -> None:
    with pytest.raises(BvhError):
        parse_bvh("not a bvh")
    with pytest.raises(BvhError):
        parse_bvh(BVH.replace("Frames: 2", "Frames: 3"))
