"""Fit the BlazePose-heatmap VertexPose prior (weights/blazepose_vertex_prior.npz).

    python tools/fit_vertex_prior.py [--bodies 400] [--seed 0]

Poses random template bodies (pose library, random shapes), fits each low-poly vertex as a
non-negative, sum-to-one mix of the landmarker keypoints BlazePose also predicts, and prints
the fit error on held-out bodies. Deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.body import BodyModel  # noqa: E402
from meshpose_core.body.poses import PoseLibrary  # noqa: E402
from meshpose_core.model.vertex_prior import (  # noqa: E402
    DEFAULT_PRIOR_PATH,
    fit_vertex_weights,
    heatmap_prior,
    prior_keypoints,
    save_prior,
)
from meshpose_core.topology import Topology  # noqa: E402


def posed_bodies(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n random posed bodies -> low-poly vertices (n, 518, 3), keypoints (n, K, 3)."""
    body, poses = BodyModel.load(), PoseLibrary.load()
    rng = np.random.default_rng(seed)
    shapes = body.random_shapes(torch.Generator().manual_seed(seed), n) * 0.8
    pose = torch.from_numpy(poses.to_model(poses.sample(rng, n), body.bone_names)).float()
    with torch.no_grad():
        low = body.to_level(body(shapes, pose), "low").double().numpy()
    return low, Topology.load("low").keypoints(low)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bodies", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_PRIOR_PATH)
    args = ap.parse_args()
    kp_index, channels = prior_keypoints()
    verts, kps = posed_bodies(args.bodies + 100, args.seed)
    kps = kps[:, kp_index]
    weights = fit_vertex_weights(verts[: args.bodies], kps[: args.bodies])
    err = np.linalg.norm(
        np.einsum("vk,nkd->nvd", weights, kps[args.bodies :]) - verts[args.bodies :], axis=-1
    )
    print(
        f"held-out fit error over {err.shape[0]} bodies: mean {1000 * err.mean():.1f} mm, "
        f"p95 {1000 * np.percentile(err, 95):.1f} mm; "
        f"keypoints per vertex (weight > 0.05): {(weights > 0.05).sum(1).mean():.2f}"
    )
    save_prior(args.out, heatmap_prior(weights, channels))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
