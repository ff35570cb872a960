"""The body model posed at the network's mesh levels only, for fast batched fitting.

Fitting needs the 518 low-poly vertices (joints, labels) and the 1,723 mid-level vertices
(silhouette), not anny's 13,348. Every level vertex sits on a face of the full mesh
(``Topology.anchor_face`` / ``anchor_bary``), and skinning is linear per vertex, so posing only
the full-mesh vertices those faces use and interpolating gives the levels exactly as
``BodyModel.to_level`` of the full posed mesh does, at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from meshpose_core.body import BodyModel, RestShape
from meshpose_core.body.poses import PoseLibrary
from meshpose_core.body.rotations import axis_angle_to_matrix
from meshpose_core.topology import Topology


@dataclass(frozen=True, eq=False)
class LevelBodies:
    """Posed vertices per level (``bodies["low"]`` (B, 518, 3), ``["mid"]`` (B, 1723, 3),
    ``["high"]`` (B, 6890, 3): the levels the body was built with), canonical frame, metres;
    joints (B, J, 3) the posed bone heads."""

    vertices: dict[str, torch.Tensor]
    joints: torch.Tensor

    def __getitem__(self, level: str) -> torch.Tensor:
        return self.vertices[level]

    @property
    def low(self) -> torch.Tensor:
        """(B, 518, 3) low-poly vertices, metres."""
        return self.vertices["low"]


class SubsetBody:
    """``BodyModel`` restricted to the full-mesh vertices under the given levels (fitting:
    "low", 3x cheaper than with "mid"; labels: "low" and "high").

    Pose parameters are the pose library's bones (``library_bones``, anny axis-angle, the
    same parametrisation as the synthetic data), the other bones stay at anny's reference.
    """

    def __init__(
        self,
        body: BodyModel | None = None,
        library: PoseLibrary | None = None,
        levels: tuple[str, ...] = ("low", "mid"),
    ):
        self.full = body or BodyModel.load()
        self.levels = tuple(levels)
        lib = library or PoseLibrary.load()
        self.library_bones = lib.bone_names
        self.bone_slots = torch.as_tensor(
            [self.full.bone_names.index(n) for n in self.library_bones]
        )
        faces = self.full.faces
        used: list[np.ndarray] = []
        self._anchors: dict[str, torch.Tensor] = {}
        for level in levels:
            topo = Topology.load(level)  # type: ignore[arg-type]
            used.append(faces[torch.as_tensor(topo.anchor_face)].reshape(-1).numpy())
        keep = np.unique(np.concatenate(used))
        remap = np.full(self.full.num_vertices, -1, np.int64)
        remap[keep] = np.arange(len(keep))
        for level in levels:
            topo = Topology.load(level)  # type: ignore[arg-type]
            corners = remap[faces[torch.as_tensor(topo.anchor_face)].numpy()]
            rows = np.repeat(np.arange(len(corners)), 3)
            # (V_level, V_subset) interpolation as a sparse product: gathering corners instead
            # made the backward pass (index scatter) the fitter's largest cost.
            self._anchors[level] = torch.sparse_coo_tensor(
                np.stack([rows, corners.reshape(-1)]),
                topo.anchor_bary.reshape(-1).astype(np.float32),
                (len(corners), len(keep)),
                check_invariants=False,
            ).coalesce()
        k = torch.as_tensor(keep)
        self.model = replace(
            self.full,
            mean_vertices=self.full.mean_vertices[k],
            basis_vertices=self.full.basis_vertices[:, k],
            skin_weights=self.full.skin_weights[k],
        )
        self._build_chain()

    def _build_chain(self) -> None:
        """Index tables for kinematics over the posed bones only.

        Bones outside the library keep anny's reference rotation (D = I), so each moves
        rigidly with its nearest posed ancestor a(c): Omega_c = Omega_a(c) and
        w_c = w_a(c) + Omega_a(c) K_c, with K_c the sum of the chain's rest offsets from a(c)
        to c (shape dependent, pose free). Only the 25 posed bones need a sequential chain.
        """
        parents = self.full.parents.tolist()
        posed = sorted({0, *self.bone_slots.tolist()})  # parents before children
        is_posed = np.zeros(len(parents), bool)
        is_posed[posed] = True
        anc = np.zeros(len(parents), np.int64)
        path = np.zeros((len(parents), len(parents)), np.float32)
        for c in range(1, len(parents)):
            x = c
            path[c, x] = 1.0
            while not is_posed[parents[x]]:
                x = parents[x]
                path[c, x] = 1.0
            anc[c] = parents[x]
        slot = {b: i for i, b in enumerate(posed)}  # bone -> row among the posed bones
        self._posed = torch.as_tensor(posed)
        self._anc_slot = torch.as_tensor([slot[int(a)] for a in anc])  # (J,) into posed rows
        self._own_slot = torch.as_tensor([slot.get(c, -1) for c in range(len(parents))])
        self._path = torch.as_tensor(path)
        depth = {0: 0}
        for b in posed[1:]:
            depth[b] = depth[int(anc[b])] + 1
        self._chain_levels = [
            torch.as_tensor([slot[b] for b in posed if depth[b] == d])
            for d in range(1, max(depth.values()) + 1)
        ]

    def _transforms(
        self, shape: torch.Tensor, pose: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> rest vertices (B, V, 3), skinning rotations (B, J, 3, 3) and translations
        (B, J, 3), posed bone heads (B, J, 3); equal to ``body.kinematics`` for this rig."""
        m = self.model
        # Rest orientations are the nearest rotations of a shape-linear matrix (an SVD whose
        # gradient is infinite at repeated singular values, e.g. the mean shape). They change
        # little with shape, so the fit takes shape gradients through vertices and heads only.
        with torch.no_grad():
            rotations = m.rest(shape).rotations
        verts = m.mean_vertices + torch.einsum("bs,svd->bvd", shape, m.basis_vertices)
        heads = m.mean_heads + torch.einsum("bs,sjd->bjd", shape, m.basis_heads)
        rest = RestShape(verts, heads, rotations)
        b = shape.shape[0]
        a = m.reference_rotations @ rest.rotations.transpose(-1, -2)  # (B, J, 3, 3)
        eye = torch.eye(3, dtype=a.dtype).expand(b, 1, 3, 3)
        a_off = torch.cat([eye, a[:, 1:]], 1)
        par = m.parents
        offsets = (a_off[:, par] * (rest.heads - rest.heads[:, par])[:, :, None, :]).sum(-1)
        offsets = offsets.index_fill(1, torch.zeros(1, dtype=torch.long), 0.0)
        k_off = torch.einsum("cx,bxd->bcd", self._path, offsets)  # (B, J, 3)
        deltas = m.pose_matrices(self.full_pose(pose), b)[:, self._posed]  # (B, P, 3, 3)
        anc, own = self._anc_slot, self._own_slot
        posed_bones = self._posed
        omega = [deltas[:, 0]] + [None] * (len(posed_bones) - 1)
        w = [torch.zeros_like(rest.heads[:, 0])] + [None] * (len(posed_bones) - 1)
        for level in self._chain_levels:
            for r in level.tolist():
                bone = int(posed_bones[r])
                pa = int(anc[bone])
                omega[r] = omega[pa] @ deltas[:, r]
                w[r] = w[pa] + (omega[pa] @ k_off[:, bone, :, None])[..., 0]
        omega_p = torch.stack(omega, 1)  # (B, P, 3, 3)
        w_p = torch.stack(w, 1)
        own_or_anc = torch.where(own >= 0, own, anc)
        omega_all = omega_p[:, own_or_anc]
        w_all = torch.where(
            (own >= 0)[None, :, None],
            w_p[:, own.clamp(min=0)],
            w_p[:, anc] + (omega_p[:, anc] * k_off[:, :, None, :]).sum(-1),
        )
        rot = omega_all @ a
        trans = w_all - (rot * rest.heads[:, :, None, :]).sum(-1)
        joints = (rot * rest.heads[:, :, None, :]).sum(-1) + trans
        return rest.vertices, rot, trans, joints

    @property
    def num_shape(self) -> int:
        return self.full.num_shape

    def full_pose(self, pose: torch.Tensor) -> torch.Tensor:
        """(B, K, 3) library-bone axis-angles -> (B, J, 3) over every bone (others zero)."""
        out = pose.new_zeros(pose.shape[0], self.full.num_bones, 3)
        return out.index_copy(1, self.bone_slots, pose)

    def __call__(
        self, shape: torch.Tensor, pose: torch.Tensor, global_rotation: torch.Tensor
    ) -> LevelBodies:
        """shape (B, S') leading shape coefficients (S' <= S), pose (B, K, 3), global_rotation
        (B, 3) canonical axis-angle -> posed levels."""
        pad = shape.new_zeros(shape.shape[0], self.num_shape - shape.shape[1])
        rest, rot, trans, joints = self._transforms(torch.cat([shape, pad], 1), pose)
        b, j = rot.shape[:2]
        blend = torch.einsum(
            "vj,bjk->bvk", self.model.skin_weights, torch.cat([rot.reshape(b, j, 9), trans], -1)
        )
        verts = (blend[..., :9].reshape(b, -1, 3, 3) * rest[:, :, None, :]).sum(-1)
        verts = verts + blend[..., 9:]
        g = axis_angle_to_matrix(global_rotation)  # (B, 3, 3)
        verts = verts @ g.transpose(-1, -2)
        joints = joints @ g.transpose(-1, -2)
        v = verts.shape[1]
        flat = verts.permute(1, 0, 2).reshape(v, b * 3)
        out = {
            level: torch.sparse.mm(interp, flat).reshape(-1, b, 3).permute(1, 0, 2)
            for level, interp in self._anchors.items()
        }
        return LevelBodies(out, joints)
