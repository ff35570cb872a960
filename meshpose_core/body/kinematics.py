"""Forward kinematics of the anny rig in anny's default 'local-ref' pose parameterization.

A pure-torch re-derivation of ``anny.utils.kinematics.forward_kinematic`` so that training can
pose bodies without anny. For bone c with parent p (anny's notation):

- rest pose P_c = [R_c | h_c] (bind pose of the skinning weights), shape dependent;
- reference orientation U_c (fixed; U_root = I): zero pose puts every bone at U_c;
- A_c = U_c R_c^T rotates a bone from its rest to its reference orientation (A_root := I
  for the head offsets, as in anny);
- delta D_c: the pose parameter, a rotation in world-aligned axes about the bone's head.

Posed bone poses W_c = [Omega_c U_c | w_c] follow the chain
  Omega_c = Omega_p D_c,   w_c = w_p + Omega_p A_p (h_c - h_p),   Omega_root = D_root, w_root = 0,
and the skinning transforms are T_c = W_c P_c^-1 = [Omega_c A_c | w_c - Omega_c A_c h_c].
"""

from __future__ import annotations

import torch


def depth_levels(parents: list[int]) -> list[torch.Tensor]:
    """Bone indices grouped by depth in the tree (root first), each (J_k,) int64; parents
    must precede children."""
    depth = [0] * len(parents)
    for c in range(1, len(parents)):
        if not 0 <= parents[c] < c:
            raise ValueError("bones must be ordered parent before child, with the root at 0")
        depth[c] = depth[parents[c]] + 1
    return [
        torch.tensor([c for c, d in enumerate(depth) if d == k], dtype=torch.long)
        for k in range(max(depth) + 1)
    ]


def skinning_transforms(
    deltas: torch.Tensor,
    heads: torch.Tensor,
    rest_rotations: torch.Tensor,
    reference_rotations: torch.Tensor,
    parents: torch.Tensor,
    levels: list[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bone rigid transforms mapping the rest (bind) pose to the posed one.

    Args:
        deltas: (B, J, 3, 3) local-ref rotations D_c.
        heads: (B, J, 3) rest bone heads h_c.
        rest_rotations: (B, J, 3, 3) rest bone orientations R_c.
        reference_rotations: (J, 3, 3) reference orientations U_c.
        parents: (J,) long, parents[0] = 0 (unused for the root).
        levels: output of ``depth_levels``.
    Returns:
        rotations (B, J, 3, 3) and translations (B, J, 3) of T_c, plus nothing else.
    """
    a = reference_rotations @ rest_rotations.transpose(-1, -2)  # (B, J, 3, 3)
    a_off = torch.cat(
        [torch.eye(3, dtype=a.dtype, device=a.device).expand_as(a[:, :1]), a[:, 1:]], 1
    )
    offsets = (a_off[:, parents] @ (heads - heads[:, parents])[..., None])[..., 0]  # (B, J, 3)
    omega = deltas
    w = torch.zeros_like(heads)
    for idx in levels[1:]:
        idx = idx.to(deltas.device)
        par = parents[idx]
        omega = omega.index_copy(1, idx, omega[:, par] @ deltas[:, idx])
        w = w.index_copy(1, idx, w[:, par] + (omega[:, par] @ offsets[:, idx, :, None])[..., 0])
    rot = omega @ a
    return rot, w - (rot @ heads[..., None])[..., 0]


def posed_heads(
    deltas: torch.Tensor,
    heads: torch.Tensor,
    rest_rotations: torch.Tensor,
    reference_rotations: torch.Tensor,
    parents: torch.Tensor,
    levels: list[torch.Tensor],
) -> torch.Tensor:
    """(B, J, 3) posed bone heads (the joint positions) for the same inputs."""
    rot, trans = skinning_transforms(
        deltas, heads, rest_rotations, reference_rotations, parents, levels
    )
    return (rot @ heads[..., None])[..., 0] + trans


def linear_blend_skinning(
    vertices: torch.Tensor,
    weights: torch.Tensor,
    rotations: torch.Tensor,
    translations: torch.Tensor,
) -> torch.Tensor:
    """LBS with dense weights.

    Args:
        vertices: (B, V, 3) rest vertices; weights: (V, J) rows summing to 1;
        rotations: (B, J, 3, 3); translations: (B, J, 3).
    Returns:
        (B, V, 3) posed vertices.
    """
    b, j = rotations.shape[:2]
    t = torch.cat([rotations.reshape(b, j, 9), translations], -1)  # (B, J, 12)
    blend = torch.einsum("vj,bjk->bvk", weights, t)  # (B, V, 12)
    rot = blend[..., :9].reshape(*blend.shape[:2], 3, 3)
    return (rot @ vertices[..., None])[..., 0] + blend[..., 9:]
