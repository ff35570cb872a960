"""The mocap pose library: realistic anny poses for synthetic training bodies.

``data/poses/pose_library.npz`` (built by ``tools/build_pose_library.py`` from CMU mocap and
MakeHuman CC0 poses, see ``data/poses/README.md``) holds per pose the anny 'local-ref'
axis-angle rotations (anny's world axes, radians) of the bones the retargeting drives; every
other bone (fingers, toes, twist bones) stays at its reference orientation. ``sample`` draws
poses, mirrors half of them left/right and adds small perturbations that respect hinge joints.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from meshpose_core.npz_io import read_npz, require

from .body_model import mirror_bone_index

FORMAT_VERSION = 1
LIBRARY_PATH = Path(__file__).resolve().parents[2] / "data" / "poses" / "pose_library.npz"
REBUILD_HINT = "rebuild it with tools/build_pose_library.py"

# Reflection across the sagittal plane x = 0 (the same plane in anny's and our axes): a
# rotation R becomes S R S, i.e. axis-angle (x, y, z) -> (x, -y, -z) on the swapped bone.
MIRROR_AXIS_ANGLE = np.array([1.0, -1.0, -1.0], np.float32)

# Perturbation size per bone (by name prefix), as a fraction of ``perturb_deg``: the torso
# and neck chains have several bones that add up, the shoulders and hips move freely.
PERTURB_SCALE: tuple[tuple[str, float], ...] = (
    ("root", 0.5),
    ("spine", 0.4),
    ("neck", 0.5),
    ("head", 1.0),
    ("clavicle", 0.5),
    ("upperarm", 1.5),
    ("lowerarm", 1.0),
    ("wrist", 1.5),
    ("upperleg", 1.0),
    ("lowerleg", 1.0),
    ("foot", 1.0),
)


def perturb_scale(name: str) -> float:
    return next((s for prefix, s in PERTURB_SCALE if name.startswith(prefix)), 1.0)


def mirror_poses(poses: np.ndarray, mirror_index: np.ndarray) -> np.ndarray:
    """(..., K, 3) axis-angle -> the left/right mirrored poses (bones swapped, reflected)."""
    return poses[..., mirror_index, :] * MIRROR_AXIS_ANGLE


def twist_angle(rotvec: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(N, 3) axis-angle, (N, 3) unit axes -> (N,) signed rotation angle about each axis
    (swing-twist decomposition; the same for either composition order)."""
    q = Rotation.from_rotvec(rotvec).as_quat()  # (x, y, z, w)
    return 2 * np.arctan2((q[:, :3] * axis).sum(1), q[:, 3])


@dataclass(frozen=True, eq=False)
class PoseLibrary:
    """N poses over K library bones.

    poses (N, K, 3) float32 axis-angle, anny axes; bone_names (K,); clip_index (N,) into the
    clip_* arrays (C,): file, source (archive folder = skeleton convention), license;
    hinge_axes (K, 3): flexion axis of knee / elbow bones (anny axes), zeros elsewhere;
    hinge_range (K, 2): allowed flexion about it (radians, relative to anny's reference pose);
    mirror_index (K,): each bone's left/right partner within the library.
    """

    poses: np.ndarray
    bone_names: tuple[str, ...]
    clip_index: np.ndarray
    clip_file: tuple[str, ...]
    clip_source: tuple[str, ...]
    clip_license: tuple[str, ...]
    hinge_axes: np.ndarray
    hinge_range: np.ndarray
    mirror_index: np.ndarray

    @classmethod
    def load(cls, path: Path | None = None) -> PoseLibrary:
        return _load_cached(str(path or LIBRARY_PATH))

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    def sample(
        self,
        rng: np.random.Generator,
        batch: int,
        mirror_prob: float = 0.5,
        perturb_deg: float = 5.0,
    ) -> np.ndarray:
        """(B, K, 3) float32 random library poses, mirrored with ``mirror_prob``, each bone
        turned by at most ``perturb_deg`` * its PERTURB_SCALE (knees and elbows only about
        their hinge, kept within ``hinge_range``)."""
        poses = self.poses[rng.integers(0, len(self), batch)]
        flip = rng.random(batch) < mirror_prob
        poses[flip] = mirror_poses(poses[flip], self.mirror_index)
        if perturb_deg > 0:
            poses = self.perturb(rng, poses, perturb_deg)
        return poses.astype(np.float32)

    def perturb(self, rng: np.random.Generator, poses: np.ndarray, max_deg: float) -> np.ndarray:
        """(B, K, 3) -> (B, K, 3) with small random rotations composed on (left) each bone."""
        b, k = poses.shape[:2]
        limit = np.deg2rad(max_deg) * np.array([perturb_scale(n) for n in self.bone_names])
        angle = rng.uniform(0, 1, (b, k)) * limit
        axis = rng.normal(size=(b, k, 3))
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        hinge = np.linalg.norm(self.hinge_axes, axis=1) > 0
        if hinge.any():
            # hinges: a signed turn about the flexion axis, clamped to the joint's range
            h_axis = np.broadcast_to(self.hinge_axes[hinge], (b, hinge.sum(), 3))
            bend = twist_angle(poses[:, hinge].reshape(-1, 3), h_axis.reshape(-1, 3))
            bend = bend.reshape(b, -1)
            turn = rng.uniform(-1, 1, bend.shape) * limit[hinge]
            lo, hi = self.hinge_range[hinge, 0], self.hinge_range[hinge, 1]
            target = np.clip(bend + turn, np.minimum(bend, lo), np.maximum(bend, hi))
            angle[:, hinge] = target - bend
            axis[:, hinge] = h_axis
        delta = Rotation.from_rotvec((axis * angle[..., None]).reshape(-1, 3))
        out = delta * Rotation.from_rotvec(poses.reshape(-1, 3))
        return out.as_rotvec().reshape(b, k, 3)

    def to_model(self, poses: np.ndarray, model_bones: Sequence[str]) -> np.ndarray:
        """(B, K, 3) library poses -> (B, J, 3) over a body model's bones (others zero)."""
        out = np.zeros((poses.shape[0], len(model_bones), 3), np.float32)
        out[:, [list(model_bones).index(n) for n in self.bone_names]] = poses
        return out


@functools.lru_cache(maxsize=2)
def _load_cached(path_str: str) -> PoseLibrary:
    path = Path(path_str)
    d = read_npz(path, FORMAT_VERSION, REBUILD_HINT)
    poses, names, clip_index, files, sources, licenses, hinges, ranges = require(
        d,
        path,
        "poses",
        "bone_names",
        "clip_index",
        "clip_file",
        "clip_source",
        "clip_license",
        "hinge_axes",
        "hinge_range",
    )
    names_t = tuple(str(n) for n in names)
    return PoseLibrary(
        poses=poses.astype(np.float32),
        bone_names=names_t,
        clip_index=clip_index.astype(np.int64),
        clip_file=tuple(str(s) for s in files),
        clip_source=tuple(str(s) for s in sources),
        clip_license=tuple(str(s) for s in licenses),
        hinge_axes=hinges.astype(np.float64),
        hinge_range=ranges.astype(np.float64),
        mirror_index=mirror_bone_index(list(names_t)),
    )
