"""Fit the BlazePose-heatmap VertexPose priors (see meshpose_core/model/vertex_prior.py).

    python tools/fit_vertex_prior.py [--bodies 400] [--seed 0]      # convex "mix" prior
    python tools/fit_vertex_prior.py --from-fits [--repeats 2]     # affine "anchor" prior
    python tools/fit_vertex_prior.py --lifter weights/meshpose_xs_bp.safetensors  # the lifter

The mix prior: poses random template bodies (pose library, random shapes) and fits each
low-poly vertex as a non-negative, sum-to-one mix of the landmarker keypoints BlazePose also
predicts. The anchor prior: on augmented crops of the fitted real training people
(data/real/fits), fits each vertex of the person's body fit as an affine mix of the
keypoints BlazePose's heatmaps decode to in that crop (what the network sees), starting from
the mix prior. The keypoint lifter (``model/lifter.py``): an MLP from the same keypoints to
the fit's vertices in 3D, on the same crops, written into the given checkpoint
(``MeshPoseConfig.lifter_width``). All print the fit error on held-out people and are
deterministic.
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
from meshpose_core.model.lifter import KeypointLifter  # noqa: E402
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
    low-poly vertices (N, 518, 3), crop pixels and depth relative to the hips. Training
    people: ``repeats`` augmented crops each (rotation, scale, shift, flip: the prior must
    hold for every crop the network sees); held-out people: the plain crop."""
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
        vertices.append(np.stack([s["vertices"] for s in samples]).astype(np.float64))
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
    train_kp, train_v = crops["train_kp"][:, channels], crops["train_v"][..., :2]
    # where BlazePose's heatmaps and the fit disagree (heatmaps on the wrong person or side,
    # a failed fit) no mix of keypoints can be right: leave those crops out
    keep = relative_error(start, train_kp, train_v) < args.max_error
    print(f"fitting on {keep.sum()} of {len(keep)} training crops (error < {args.max_error})")
    weights = fit_anchor_weights(
        train_v[keep], train_kp[keep], start, args.ridge, landmarks, args.consistency
    )
    test_kp, test_v = crops["test_kp"][:, channels], crops["test_v"][..., :2]
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


def lifter_losses(
    lifter: KeypointLifter, kp: torch.Tensor, target: torch.Tensor, mix: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """kp (N, 39, 2) crop px, target (N, V, 3), mix (V, 39) the anchor prior's -> per crop
    (vertex error of the snapped vertices, their keypoints' drift from the heatmaps'), mean
    L1 over the keypoints' RMS radius."""
    pred = lifter(kp.flatten(1) / size, (size, size), mix)
    radius = KeypointLifter.normalise(kp)[2][:, 0, 0]
    err = (pred - target).abs().sum(-1).mean(-1) / radius
    mesh_kp = lifter.landmarks @ pred[..., :2]
    drift = (mesh_kp - lifter.select @ kp).abs().sum(-1).mean(-1) / radius
    return err, drift


def fit_lifter(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from meshpose_core.model.checkpoint import load_checkpoint, save_checkpoint
    from meshpose_core.model.meshpose import MeshPoseNet

    crops = collected_crops(args.cache, args.repeats)
    if crops["train_v"].shape[-1] != 3:
        raise SystemExit(f"{args.cache} holds no depth: collect the crops again (a new --cache)")
    _, channels = prior_keypoints()
    start = load_prior(DEFAULT_PRIOR_PATH)[:, channels].astype(np.float64)
    # as the anchor fit: crops where heatmaps and fit disagree (wrong person or side, a
    # failed fit) teach nothing a keypoint map can do
    keep = relative_error(start, crops["train_kp"][:, channels], crops["train_v"][..., :2])
    keep = keep < args.max_error
    print(f"fitting the lifter on {keep.sum()} of {len(keep)} training crops")
    kp = torch.from_numpy(crops["train_kp"][keep]).float()
    target = torch.from_numpy(crops["train_v"][keep]).float()
    net, card = load_checkpoint(args.lifter, for_training=True)
    size = int(net.cfg.input_size[0])
    out = MeshPoseNet(replace(net.cfg, lifter_width=args.width), init_prior=False)
    # the lifter starts afresh (a checkpoint may hold one of another width)
    state = {k: v for k, v in net.state_dict().items() if not k.startswith("lifter.")}
    missing = out.load_state_dict(state, strict=False).missing_keys
    assert all(k.startswith("lifter.") for k in missing), missing
    torch.manual_seed(args.seed)
    lifter = out.lifter.train()
    mix = out.vertex_head.prior_weight.flatten(1)
    opt = torch.optim.Adam(lifter.parameters(), 1e-3, weight_decay=1e-5)
    steps_per_epoch = -(-len(kp) // 256)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)
    for epoch in range(args.epochs):
        order = torch.randperm(len(kp))
        for i in range(0, len(kp), 256):
            b = order[i : i + 256]
            jitter = args.noise * KeypointLifter.normalise(kp[b])[2]
            noisy = kp[b] + jitter * torch.randn_like(kp[b])
            loss = lifter_losses(lifter, noisy, target[b], mix, size)[0].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if (epoch + 1) % 10 == 0:
            print(f"  epoch {epoch + 1}: loss {loss.item():.4f}", flush=True)
    lifter.eval()
    test_kp = torch.from_numpy(crops["test_kp"]).float()
    test_v = torch.from_numpy(crops["test_v"]).float()
    with torch.no_grad():
        pred = lifter(test_kp.flatten(1) / size, (size, size), mix).numpy()
    err_xy = np.linalg.norm(pred[..., :2] - crops["test_v"][..., :2], axis=-1).mean(1)
    corr = [np.corrcoef(p[:, 2], t[:, 2])[0, 1] for p, t in zip(pred, crops["test_v"], strict=True)]
    anchor = load_prior(DEFAULT_ANCHOR_PATH)[:, channels].astype(np.float64)
    base = mix_error(anchor, crops["test_kp"][:, channels], crops["test_v"][..., :2]).mean(1)
    # the people whose heatmaps and fit agree (as the training crops kept): the rest (a fit
    # or heatmaps on the wrong person or side) weigh most in the mean and no lifter is right
    agree = relative_error(start, crops["test_kp"][:, channels], crops["test_v"][..., :2])
    agree = agree < 0.5  # a fixed threshold: the figures of any --max-error compare
    with torch.no_grad():
        drift = lifter_losses(lifter, test_kp, test_v, mix, size)[1]
    figures = {
        "fitted_on": f"{keep.sum()} augmented crops of the training fits (data/real/fits; "
        f"--max-error {args.max_error}), {args.epochs} epochs, width {args.width}, seed "
        f"{args.seed}",
        "heldout_vertex_error_px": round(float(err_xy.mean()), 2),
        "heldout_vertex_error_px_anchor_prior": round(float(base.mean()), 2),
        "heldout_agree_people": int(agree.sum()),
        "heldout_vertex_error_px_agree": round(float(err_xy[agree].mean()), 2),
        "heldout_vertex_error_px_agree_anchor_prior": round(float(base[agree].mean()), 2),
        "heldout_depth_correlation_median": round(float(np.median(corr)), 3),
        "heldout_keypoint_drift_radii": round(float(drift.mean()), 4),
    }
    print(
        f"held-out ({len(pred)} people, 192 px crops): vertex error {err_xy.mean():.2f} px "
        f"(anchor prior {base.mean():.2f}); {err_xy[agree].mean():.2f} px (anchor prior "
        f"{base[agree].mean():.2f}) over the {agree.sum()} where heatmaps and fit agree; "
        f"depth correlation median {np.median(corr):.3f}, "
        f"the mesh's keypoints off the heatmaps' by {drift.mean():.4f} radii"
    )
    card["lifter"] = figures
    save_checkpoint(out, args.lifter, card)
    print(f"wrote the lifter into {args.lifter}")


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
    ap.add_argument("--lifter", type=Path, help="fit the keypoint lifter into this checkpoint")
    ap.add_argument("--width", type=int, default=1024, help="lifter: hidden width")
    ap.add_argument("--epochs", type=int, default=60, help="lifter: passes over the crops")
    ap.add_argument("--noise", type=float, default=0.02, help="lifter: keypoint jitter (radii)")
    args = ap.parse_args()
    if args.lifter:
        fit_lifter(args)
    else:
        (fit_anchor if args.from_fits else fit_mix)(args)


if __name__ == "__main__":
    main()
