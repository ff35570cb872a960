"""The keypoint lifter: BlazePose's decoded heatmap keypoints -> every vertex in 3D.

The anchor prior places each vertex at an *affine* mix of the keypoints, so it cannot bend
with the pose (a knee's surface moves differently when the leg folds) and knows nothing of
depth beyond what a linear map gives. A small MLP on the same keypoints, trained on the real
people's body fits (``tools/fit_vertex_prior.py --lifter``: augmented crops of the training
fits, the fit's vertices in crop pixels and their depth), places the held-out fits' vertices
20 % closer and follows their depth far better (median per-person correlation 0.70 against
0.33 for the affine map and 0.10 for the regression branch; docs/training.md). It costs a
few hundred thousand multiply-adds a person.

Keypoints are normalised per person (centred on their mean, divided by their RMS radius), so
the lifter sees the pose and not where the person stands in the crop or how big they are;
its output is mapped back the same way: x, y crop pixels and z in pixels relative to the
hips, the network's depth convention.

The mesh's own keypoints must stay where BlazePose's heatmaps put them (that is what keeps
keypoint accuracy; unconstrained, held-out LSP PCK fell 62.5 -> 59.6 %), so the lifted
vertices are *snapped*: the keypoints' residuals (heatmaps' minus mesh's) are spread back
over the vertices through the anchor prior's affine mix ``W``, v += W (k - L v). Since the
anchor fit makes the mesh's keypoints of its own mix the heatmaps' (L W ~ I), this puts the
mesh's keypoints on the heatmaps (held-out: 3.9 px off -> 0.12 px, the anchor prior's own
0.26) and leaves the vertex error as it was.

An MLP also extrapolates badly where the keypoints are unlike any fit's (a half-hidden
person in a crowd, heatmaps that have lost a limb): on a crowded street clip it doubled the
meshes the pipeline's guard withholds as broken. So each snapped vertex may move at most
about ``MAX_DEVIATION`` keypoint radii from where the anchor prior's affine mix puts it
(a soft limit, ``limit * tanh(d / limit)``): the held-out fits' vertices deviate a median
0.05 radii, a tenth of them more than 0.13, and a few by up to 2.
"""

from __future__ import annotations

import torch
from torch import nn

from ..topology import KEYPOINT_NAMES, Topology
from .vertex_prior import prior_keypoints

MAX_DEVIATION = 0.3  # keypoint radii a vertex may move from the anchor prior's position
# the hips' keypoints of the low mesh: the depth origin (as in the fits' labels)
_HIPS = [KEYPOINT_NAMES.index(n) for n in ("left_hip", "right_hip")]


class KeypointLifter(nn.Module):
    """(B, 2K) keypoints as fractions of the crop -> (B, V, 3) vertices, crop px."""

    def __init__(self, num_keypoints: int, num_vertices: int, width: int) -> None:
        super().__init__()
        self.num_vertices = num_vertices
        self.mlp = nn.Sequential(
            nn.Linear(2 * num_keypoints, width),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(width, 3 * num_vertices),
        )
        low = Topology.load("low")
        hips = low.landmark_matrix[_HIPS].mean(0)
        self.register_buffer("hips", torch.as_tensor(hips, dtype=torch.float32), persistent=False)
        # the mesh's keypoints that BlazePose's heatmaps also give, and their channels
        kp_index, channels = prior_keypoints()
        landmarks = torch.as_tensor(low.landmark_matrix[kp_index], dtype=torch.float32)
        self.register_buffer("landmarks", landmarks, persistent=False)  # (C, V)
        # (C, K) one-hot rows picking those channels: a product, not a gather, which an
        # exported graph (XNNPACK) runs inside the network's partition
        select = torch.zeros(len(channels), num_keypoints)
        select[torch.arange(len(channels)), torch.as_tensor(channels)] = 1.0
        self.register_buffer("select", select, persistent=False)

    @staticmethod
    def normalise(keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, K, 2) -> (normalised (B, K, 2), centre (B, 1, 2), radius (B, 1, 1))."""
        centre = keypoints.mean(dim=1, keepdim=True)
        radius = (keypoints - centre).pow(2).sum(-1).mean(1).clamp_min(1e-8).sqrt()[:, None, None]
        return (keypoints - centre) / radius, centre, radius

    def forward(
        self, keypoints: torch.Tensor, size: tuple[int, int], mix: torch.Tensor | None = None
    ) -> torch.Tensor:
        """keypoints (B, 2K) fractions of the crop (the backbone's decoded heatmaps), size
        (H, W) px, mix (V, K): the anchor prior's weights, to snap the mesh's keypoints to
        the heatmaps' (None: unsnapped) -> (B, V, 3) x, y crop px (the vertices'
        convention), z px relative to the hips."""
        b = keypoints.shape[0]
        h, w = size
        px = keypoints.reshape(b, -1, 2) * keypoints.new_tensor([w, h])
        normalised, centre, radius = self.normalise(px)
        out = self.mlp(normalised.reshape(b, -1)).reshape(b, self.num_vertices, 3)
        xy = out[..., :2] * radius + centre
        if mix is not None:
            residual = self.select @ px - self.landmarks @ xy  # (B, C, 2)
            xy = xy + (mix @ self.select.T) @ residual
            anchor = mix @ px  # (B, V, 2) the anchor prior's vertices
            deviation = xy - anchor
            limit = MAX_DEVIATION * radius
            length = deviation.norm(dim=-1, keepdim=True).clamp_min(1e-6)
            xy = anchor + deviation * (limit * torch.tanh(length / limit) / length)
        z = out[..., 2] * radius[..., 0]
        z = z - (z @ self.hips)[:, None]
        return torch.cat((xy, z.unsqueeze(-1)), dim=-1)
