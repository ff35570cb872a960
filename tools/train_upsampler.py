"""Train the learned upsampler (518 -> 1723 -> 6890) on posed anny bodies and ship its weights.

Build-time (needs requirements-train.txt for anny):

    python tools/train_upsampler.py [--steps 3000] [--out weights/upsampler.safetensors]

Data: random phenotypes and random joint rotations of anny, root-aligned, resampled to the
three levels through each level's anchors. Loss: L1 at mid and high + L1 of the high level's
landmarks; inputs get the MeshPose supplement's noise (p = 0.5 spikes on 25 % of vertices of
15 % of their position, else Gaussian noise of sd 5 % of the position).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.model.upsampler import DEFAULT_WEIGHTS, LearnedUpsampler  # noqa: E402
from meshpose_core.topology import Topology, Upsampling  # noqa: E402
from tools.topobuild.anny_source import load_anny, random_poses  # noqa: E402


def make_bodies(n: int, seed: int, batch: int = 50) -> dict[str, np.ndarray]:
    """n posed bodies resampled to each level: {'low': (n, 518, 3), 'mid': ..., 'high': ...}."""
    body = load_anny()
    rng = np.random.default_rng(seed)
    topo = {lv: Topology.load(lv) for lv in ("low", "mid", "high")}
    out = {lv: np.empty((n, t.num_vertices, 3), np.float32) for lv, t in topo.items()}
    faces = body.faces
    for s in range(0, n, batch):
        b = min(batch, n - s)
        posed = body.posed(rng.uniform(0, 1, (b, 6)), random_poses(rng, b))["body"]
        for lv, t in topo.items():
            out[lv][s : s + b] = np.einsum(
                "vk,nvkd->nvd", t.anchor_bary, posed[:, faces[t.anchor_face]]
            )
    return out


def add_noise(low: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Supplement's augmentation, per sample: spikes or Gaussian noise relative to |x|."""
    b, v, _ = low.shape
    mag = low.norm(dim=2, keepdim=True)
    direction = torch.randn(low.shape, generator=gen)
    direction = direction / direction.norm(dim=2, keepdim=True)
    spike_vertex = (torch.rand(b, v, 1, generator=gen) < 0.25).float()
    spikes = 0.15 * mag * direction * spike_vertex
    gauss = 0.05 * mag * torch.randn(low.shape, generator=gen)
    use_spikes = (torch.rand(b, 1, 1, generator=gen) < 0.5).float()
    return low + use_spikes * spikes + (1 - use_spikes) * gauss


def evaluate(model: LearnedUpsampler, data: dict[str, np.ndarray]) -> dict:
    """Mean/max vertex error (mm) at mid and high, learned vs fixed, clean inputs."""
    fixed = Upsampling.load()
    with torch.no_grad():
        mid, high = model(torch.from_numpy(data["low"]))
    fmid = Upsampling.apply(fixed.low_to_mid_index, fixed.low_to_mid_weight, data["low"])
    fhigh = fixed.low_to_high(data["low"])
    res = {}
    for name, pred, gt in (
        ("learned_mid", mid.numpy(), data["mid"]),
        ("learned_high", high.numpy(), data["high"]),
        ("fixed_mid", fmid, data["mid"]),
        ("fixed_high", fhigh, data["high"]),
    ):
        e = np.linalg.norm(pred - gt, axis=2) * 1e3
        res[name] = {"mean_mm": round(float(e.mean()), 2), "max_mm": round(float(e.max()), 1)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--train-bodies", type=int, default=2000)
    ap.add_argument("--eval-bodies", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    t0 = time.time()
    train = make_bodies(args.train_bodies, seed=args.seed + 1)
    held_out = make_bodies(args.eval_bodies, seed=args.seed + 1000)
    print(
        f"data: {args.train_bodies} train / {args.eval_bodies} held-out bodies "
        f"({time.time() - t0:.0f}s)",
        flush=True,
    )

    model = LearnedUpsampler()
    high_topo = Topology.load("high")
    lm_idx = torch.from_numpy(high_topo.landmark_index)
    lm_w = torch.from_numpy(high_topo.landmark_weight)

    def landmarks(x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("ks,bksd->bkd", lm_w, x[:, lm_idx])

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [args.steps // 2], gamma=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    tensors = {k: torch.from_numpy(v) for k, v in train.items()}
    before = evaluate(model, held_out)
    for step in range(1, args.steps + 1):
        sel = torch.randint(0, args.train_bodies, (args.batch,), generator=gen)
        low = add_noise(tensors["low"][sel], gen)
        mid, high = model(low)
        loss = (
            (mid - tensors["mid"][sel]).abs().mean()
            + (high - tensors["high"][sel]).abs().mean()
            + (landmarks(high) - landmarks(tensors["high"][sel])).abs().mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == 1:
            print(f"step {step}/{args.steps} loss {loss.item() * 1e3:.2f} mm", flush=True)
    after = evaluate(model.eval(), held_out)
    card = {
        "model": "LearnedUpsampler (k-nearest affine stages 518->1723->6890)",
        "support": model.config.support,
        "training_data": f"{args.train_bodies} random anny bodies (CC0), random phenotypes and "
        f"joint rotations, root-aligned; supplement noise augmentation",
        "steps": args.steps,
        "batch": args.batch,
        "compute": f"CPU, {time.time() - t0:.0f} s",
        "held_out": f"{args.eval_bodies} other random anny bodies, clean inputs",
        "metrics_before_training": before,
        "metrics": after,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out, card)
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
