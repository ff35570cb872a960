"""Priors that keep a body fit plausible where the image says little: pose and shape.

The pose prior is a Gaussian over the pose library's 28k mocap poses (CMU, mirrored too) in
the fitter's parametrisation (axis-angle of the library bones, anny axes): occluded limbs fall
back to how people actually hold them instead of any angle the joints allow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from meshpose_core.body.poses import PoseLibrary, mirror_poses


@dataclass(frozen=True, eq=False)
class PosePrior:
    """mean (K, 3) and precision (3K, 3K) of library poses (K library bones)."""

    mean: torch.Tensor
    precision: torch.Tensor

    @classmethod
    def from_library(cls, library: PoseLibrary | None = None, ridge: float = 1e-3) -> PosePrior:
        """Fit to the library and its mirror image; ``ridge`` (rad^2) regularises rarely
        moved axes so their precision stays finite."""
        lib = library or PoseLibrary.load()
        poses = np.concatenate([lib.poses, mirror_poses(lib.poses, lib.mirror_index)])
        flat = poses.reshape(len(poses), -1).astype(np.float64)
        mean = flat.mean(0)
        cov = np.cov(flat, rowvar=False) + ridge * np.eye(flat.shape[1])
        return cls(
            torch.as_tensor(mean.reshape(-1, 3), dtype=torch.float32),
            torch.as_tensor(np.linalg.inv(cov), dtype=torch.float32),
        )

    def energy(self, pose: torch.Tensor) -> torch.Tensor:
        """(B, K, 3) -> (B,) squared Mahalanobis distance per degree of freedom."""
        d = (pose - self.mean).flatten(1)
        return torch.einsum("bi,ij,bj->b", d, self.precision, d) / d.shape[1]


def shape_energy(shape_z: torch.Tensor) -> torch.Tensor:
    """(B, S) shape coefficients in units of their std -> (B,) mean squared norm."""
    return (shape_z**2).mean(1)
