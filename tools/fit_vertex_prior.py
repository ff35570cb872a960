"""Fit the BlazePose-heatmap VertexPose priors (see meshpose_core/model/vertex_prior.py).

    python tools/fit_vertex_prior.py [--bodies 400] [--seed 0]      # convex "mix" prior
    python tools/fit_vertex_prior.py --from-fits [--repeats 2]     # affine "anchor" prior

The mix prior: poses random template bodies (pose library, random shapes) and fits each
low-poly vertex as a non-negative, sum-to-one mix of the landmarker keypoints BlazePose also
predicts. The anchor prior: on augmented crops of the fitted real training people
(data/real/fits), fits each vertex of the person's body fit as an affine mix of the
keypoints BlazePose's heatmaps decode to in that crop (what the network sees), starting from
the mix prior. Both print the fit error on held-out people and are deterministic.
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
from meshpose_core.data.real.dataset import (  # noqa: E402
    RandomCrop,
    RealDataset,
    RealDatasetConfig,
)
from meshpose_core.data.real.paths import LABEL_DIR  # noqa: E402
from meshpose_core.fitting.supervision import FitSupervision  # noqa: E402
from meshpose_core.model.backbones.blazepose import (  # noqa: E402
    BlazePoseBackbone,
    BlazePoseBackboneConfig,
)
from meshpose_core.model.meshpose import IMAGE_MEAN, IMAGE_STD  # noqa: E402
from meshpose_core.model.vertex_prior import (  # noqa: E402
    DEFAULT_ANCHOR_PATH,
    DEFAULT_PRIOR_PATH,
    fit_anchor_weights,
    fit_vertex_weights,
    heatmap_prior,
    keypoint_radius,
    load_prior,
    mix_error,
    prior_keypoints,
    save_prior,
)
from meshpose_core.topology import Topology  # noqa: E402

TRAIN_SOURCES = ("videos", "images", "upper_body", "lsp_train", "train_videos", "train_photos")
HELD_OUT_SOURCE = "heldout_videos"


def posed_bodies(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n random posed bodies -> low-poly vertices (n, 518, 3), keypoints (n, K, 3)."""
    body, poses = BodyModel.load(), PoseLibrary.load()
    rng = np.random.default_rng(seed)
    shapes = body.random_shapes(torch.Generator().manual_seed(seed), n) * 0.8
    pose = torch.from_numpy(poses.to_model(poses.sample(rng, n), body.bone_names)).float()
    with torch.no_grad():
        low = body.to_level(body(shapes, pose), "low").double().numpy()
    return low, Topology.load("low").keypoints(low)


def fitted_crops(held_out: bool, repeats: int, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Crops of the fitted real people -> BlazePose heatmap keypoints (N, 39, 2) and the fits'
    low-poly vertices (N, 518, 2), crop pixels. Training people: ``repeats`` augmented crops
    each (rotation, scale, shift, flip: the prior must hold for every crop the network
    sees); held-out people: the plain crop."""
    names = (HELD_OUT_SOURCE,) if held_out else TRAIN_SOURCES
    cfg = RealDatasetConfig(
        label_files=tuple(LABEL_DIR / f"{s}.npz" for s in names),
        for_evaluation=held_out,
    )
    data = RealDataset(  # the fits of data/real/fits
        cfg, augment=None if held_out else RandomCrop(), supervision=FitSupervision()
    )
    fitted = [i for i in range(len(data)) if data.file_keys[i] in data.fits]
    backbone = BlazePoseBackbone(BlazePoseBackboneConfig()).eval()
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    jobs = [(r, i) for r in range(1 if held_out else repeats) for i in fitted]
    keypoints, vertices = [], []
    size = cfg.crop_size
    for start in range(0, len(jobs), batch):
        samples = [
            data[i] if held_out else data.sample(i, data.augment(np.random.default_rng([r, i])))
            for r, i in jobs[start : start + batch]
        ]
        images = torch.from_numpy(np.stack([s["image"] for s in samples])).permute(0, 3, 1, 2)
        with torch.no_grad():
            _, kp = backbone((images.float() / 255 - mean) / std)
        keypoints.append(kp.reshape(len(samples), -1, 2).double().numpy() * size)
        vertices.append(np.stack([s["vertices"][:, :2] for s in samples]).astype(np.float64))
        print(f"  {min(start + batch, len(jobs))}/{len(jobs)} crops", flush=True)
    return np.concatenate(keypoints), np.concatenate(vertices)


def fit_mix(args: argparse.Namespace) -> None:
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
    save_prior(args.out or DEFAULT_PRIOR_PATH, heatmap_prior(weights, channels))
    print(f"wrote {args.out or DEFAULT_PRIOR_PATH}")


def relative_error(weights: np.ndarray, keypoints: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """(V, K) weights, (N, K, 2) keypoints, (N, V, 2) vertices -> (N,) mean vertex error of
    the mix over the keypoints' RMS radius (scale-free, so crops of any size compare)."""
    return mix_error(weights, keypoints, vertices).mean(axis=1) / keypoint_radius(keypoints)


def collected_crops(cache: Path | None, repeats: int) -> dict[str, np.ndarray]:
    """The held-out and training (keypoints, vertices) pairs, read from / written to cache."""
    if cache is not None and cache.is_file():
        print(f"reading the collected crops from {cache}")
        with np.load(cache) as data:
            return dict(data)
    print("held-out people:")
    test_kp, test_v = fitted_crops(True, 1)
    print("training people:")
    train_kp, train_v = fitted_crops(False, repeats)
    crops = {"test_kp": test_kp, "test_v": test_v, "train_kp": train_kp, "train_v": train_v}
    if cache is not None:
        np.savez_compressed(cache, **crops)
    return crops


def fit_anchor(args: argparse.Namespace) -> None:
    kp_index, channels = prior_keypoints()
    start = load_prior(DEFAULT_PRIOR_PATH)[:, channels].astype(np.float64)
    landmarks = Topology.load("low").landmark_matrix[kp_index].astype(np.float64)
    crops = collected_crops(args.cache, args.repeats)
    train_kp, train_v = crops["train_kp"][:, channels], crops["train_v"]
    # where BlazePose's heatmaps and the fit disagree (heatmaps on the wrong person or side,
    # a failed fit) no mix of keypoints can be right: leave those crops out
    keep = relative_error(start, train_kp, train_v) < args.max_error
    print(f"fitting on {keep.sum()} of {len(keep)} training crops (error < {args.max_error})")
    weights = fit_anchor_weights(
        train_v[keep], train_kp[keep], start, args.ridge, landmarks, args.consistency
    )
    test_kp, test_v = crops["test_kp"][:, channels], crops["test_v"]
    agree = relative_error(start, test_kp, test_v) < args.max_error
    for name, w in (("mix prior", start), ("anchor prior", weights)):
        err = mix_error(w, test_kp, test_v)
        drift = np.linalg.norm(landmarks @ w @ test_kp - test_kp, axis=-1)
        print(
            f"{name}: held-out vertex error (192 px crops) mean {err.mean():.2f} px over "
            f"{len(err)} people, {err[agree].mean():.2f} px over the {agree.sum()} where "
            f"heatmaps and fit agree; the mesh's keypoints off the heatmaps' by "
            f"{drift.mean():.2f} px"
        )
    out = args.out or DEFAULT_ANCHOR_PATH
    save_prior(out, heatmap_prior(weights, channels))
    print(f"wrote {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bodies", type=int, default=400, help="mix prior: template bodies")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-fits", action="store_true", help="fit the anchor prior")
    ap.add_argument("--repeats", type=int, default=2, help="anchor: crops per training person")
    ap.add_argument("--ridge", type=float, default=1e-3, help="anchor: pull to the mix prior")
    ap.add_argument(
        "--consistency", type=float, default=100.0, help="anchor: mesh keypoints = landmarks"
    )
    ap.add_argument("--max-error", type=float, default=0.25, help="anchor: crops kept")
    ap.add_argument("--cache", type=Path, default=None, help="anchor: collected crops (.npz)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    (fit_anchor if args.from_fits else fit_mix)(args)


if __name__ == "__main__":
    main()
