"""The training loop: data -> MeshPoseNet -> decode -> MeshPoseLoss, with checkpoints that
resume exactly, CSV logs, periodic held-out evaluation, AMP on CUDA and torchrun DDP.

Exact resume: sample i of the stream is a pure function of (seed, i) and step s of rank r
reads samples [(s * world + r) * B, ... + B), so a resumed run sees the same batches; model,
optimizer, scheduler and RNG states come back from the checkpoint. The weights and the
training state are two files; a manifest written after both names the set (step and SHA-256
of each), so a crash between their renames is found at resume instead of pairing one step's
weights with another step's optimizer.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Sampler

from meshpose_core.data.synthetic.generator import SyntheticConfig, SyntheticDataset
from meshpose_core.data.synthetic.sample import FramingConfig
from meshpose_core.model.checkpoint import (
    CheckpointError,
    file_sha256,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
)
from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.inference import keep_freed_memory
from meshpose_core.model.meshpose import IMAGE_MEAN, IMAGE_STD, MeshPoseConfig, MeshPoseNet
from meshpose_core.topology import NUM_COCO, Topology
from meshpose_core.train.config import TrainConfig
from meshpose_core.train.evaluate import evaluate
from meshpose_core.train.losses import MeshPoseLoss
from meshpose_core.train.mixing import MixConfig, MixedDataset, synthetic_masks

TARGET_KEYS = ("dp_points", "dp_face", "dp_bary", "dp_mask", "visibility", "visibility_mask",
               "vertices", "vertices_mask", "depth_mask", "keypoints", "keypoints_mask",
               "silhouette", "silhouette_mask")  # fmt: skip


class StepSampler(Sampler[list[int]]):
    """Batches of consecutive sample indices for this rank, starting at ``start_step``."""

    def __init__(self, batch: int, start_step: int, steps: int, rank: int, world: int) -> None:
        self.batch, self.start, self.steps, self.rank, self.world = (
            batch, start_step, steps, rank, world,
        )  # fmt: skip

    def __iter__(self) -> Iterator[list[int]]:
        for s in range(self.start, self.steps):
            first = (s * self.world + self.rank) * self.batch
            yield list(range(first, first + self.batch))

    def __len__(self) -> int:
        return max(0, self.steps - self.start)


def to_device(batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """Collated numpy batch -> normalised images (B, 3, H, W) from ``image`` (B, H, W, 3)
    uint8, + loss targets on ``device``."""
    out = {
        k: torch.as_tensor(np.asarray(v)).to(device, non_blocking=True) for k, v in batch.items()
    }
    img = out.pop("image").permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(IMAGE_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD, device=device).view(1, 3, 1, 1)
    out["images"] = (img - mean) / std
    return out


def loss_targets(b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Batch -> MeshPoseLoss targets: the supervision keys and their masks, joints as
    (B, 17, 2) x, y only (a third column would be read as depth)."""
    t = {k: b[k] for k in TARGET_KEYS if k in b}
    t["keypoints"] = b["keypoints"][..., :2]
    if "silhouette" in t:
        t["silhouette"] = t["silhouette"].float()
    return t


def truncate_log(path: Path, step: int) -> None:
    """Drop log rows past ``step`` (written after the checkpoint a resumed run restarts from),
    so the curves of a killed and resumed run read like one run."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    keep = lines[:1] + [r for r in lines[1:] if int(r.split(",", 1)[0]) <= step]
    path.write_text("".join(keep))


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


WEIGHTS, STATE, MANIFEST = "last.safetensors", "last_state.pt", "last.manifest.json"


def _state_path(run: Path) -> Path:
    return run / STATE


def save_state(run: Path, net, opt, sched, step: int, cfg: TrainConfig, metrics: dict) -> None:
    """Weights (safetensors + card) and the optimiser/scheduler/RNG state, each renamed into
    place, then the manifest naming them (step, SHA-256s), renamed last."""
    card = {"training": "in progress", "step": step, "config": cfg.model, "metrics": metrics}
    tmp = run / "last.tmp.safetensors"
    save_checkpoint(net, tmp, card)
    state = {
        "step": step,
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "torch_rng": torch.get_rng_state(),
    }
    torch.save(state, run / "last_state.tmp.pt")
    os.replace(tmp, run / WEIGHTS)
    os.replace(tmp.with_suffix(".json"), run / "last.json")
    os.replace(run / "last_state.tmp.pt", _state_path(run))
    manifest = {"step": step, "sha256": {n: file_sha256(run / n) for n in (WEIGHTS, STATE)}}
    (run / "last.manifest.tmp.json").write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(run / "last.manifest.tmp.json", run / MANIFEST)


def load_state(run: Path) -> dict | None:
    """The training state to resume ``run`` from (None: nothing saved yet), after checking
    that the weights and state files are the set the manifest names; ``CheckpointError``
    naming the files otherwise. A run saved before manifests existed resumes when the step
    in the weights' card equals the state's."""
    if not _state_path(run).is_file() and not (run / MANIFEST).is_file():
        return None
    names = f"{run / WEIGHTS} and {_state_path(run)}"
    advice = f"delete {run / STATE} to start again from {run / WEIGHTS}'s weights"
    manifest = None
    if (run / MANIFEST).is_file():
        try:
            manifest = json.loads((run / MANIFEST).read_text())
            want_step, digests = int(manifest["step"]), dict(manifest["sha256"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot resume: {run / MANIFEST} is unreadable ({exc})") from exc
        for name, digest in digests.items():
            if not (run / name).is_file() or file_sha256(run / name) != digest:
                raise CheckpointError(
                    f"cannot resume: {run / name} is not the file {run / MANIFEST} names "
                    f"for step {want_step} (a save was interrupted?): {names} do not belong "
                    f"together; {advice}"
                )
    try:
        state = torch.load(_state_path(run), map_location="cpu", weights_only=True)
        step = int(state["step"])
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot resume: {_state_path(run)} is unreadable ({exc})") from exc
    if manifest is None:
        try:
            want_step = int(json.loads(read_metadata(run / WEIGHTS)["card"])["step"])
        except (KeyError, ValueError, TypeError) as exc:
            raise CheckpointError(f"cannot resume: {run / WEIGHTS} has no step ({exc})") from exc
    if step != want_step:
        raise CheckpointError(
            f"cannot resume: {names} are of different steps ({want_step} and {step}); {advice}"
        )
    return state


OUTPUT_LAYERS = ("vertex_head.out", "regression_head.f1d")


def param_groups(
    net: MeshPoseNet, lr: float, pretrained_scale: float, output_scale: float = 1.0
) -> list[dict]:
    """Pretrained backbone weights (``backbone.net``, e.g. BlazePose's) learn at
    ``pretrained_scale`` x lr (0: frozen): fine-tuning keeps the real-image features the
    heads and the VertexPose prior rely on instead of overwriting them with early, noisy
    gradients (measured: at 1e-4 with batch 12, LSP PCK fell from 60 % to 36 % in 650 steps).

    The heads' output layers (``OUTPUT_LAYERS``) learn at ``output_scale`` x lr: on ``xs_bp``
    they are residuals on fixed priors whose logits are large (heatmap mixes sharpened 16x),
    so moving a vertex by a few pixels needs weights far beyond what Adam's ~lr per step
    reaches in a CPU budget (measured: 250 steps at 2e-4 left held-out silhouette IoU
    unchanged)."""
    pretrained = getattr(net.backbone, "net", None)
    pre_ids: set[int] = set()
    if pretrained is not None and pretrained_scale != 1.0:
        pre_ids = {id(p) for p in pretrained.parameters()}
        if pretrained_scale == 0.0:  # frozen: no gradients, no backward pass through it
            pretrained.requires_grad_(False)
    out_ids: set[int] = set()
    if output_scale != 1.0:
        out_ids = {id(p) for n in OUTPUT_LAYERS for p in net.get_submodule(n).parameters()}
    # the same groups, in the same order, as before output_scale existed when it is 1; a
    # frozen backbone gets no group at all
    groups = [
        {"params": [p for p in net.parameters() if id(p) in pre_ids], "lr": lr * pretrained_scale},
        {"params": [p for p in net.parameters() if id(p) not in pre_ids | out_ids], "lr": lr},
        {"params": [p for p in net.parameters() if id(p) in out_ids], "lr": lr * output_scale},
    ]
    if pretrained_scale == 0.0:
        groups = groups[1:]
    return [g for g in groups if g["params"]]


def train_only(net: nn.Module, prefixes: Sequence[str]) -> None:
    """Freeze every parameter whose name starts with none of ``prefixes`` (e.g. only the
    foreground layers learn, and the rest of the shipped network stays bit-identical).

    Frozen batch norms always normalise with their running statistics, in training mode too:
    they neither update them nor feed the learning layers features that differ from what
    they will see at inference."""
    names = [n for n, _ in net.named_parameters()]
    unmatched = [p for p in prefixes if not any(n.startswith(p) for n in names)]
    if unmatched:
        raise ValueError(f"train_only: no parameters under {unmatched}")
    for name, param in net.named_parameters():
        if not name.startswith(tuple(prefixes)):
            param.requires_grad_(False)
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
            p.requires_grad for p in module.parameters()
        ):
            module.register_forward_pre_hook(_as_in_inference)


def _as_in_inference(module: nn.Module, _inputs: object) -> None:
    module.training = False


def train(cfg: TrainConfig, max_steps: int | None = None) -> dict[str, float]:
    """Run (or resume) training in ``cfg.out_dir``; ``max_steps`` stops early (tests).
    Returns the last logged loss terms."""
    rank, world, local = _dist_info()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    keep_freed_memory()
    torch.manual_seed(cfg.seed)
    run = cfg.run_dir
    run.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        (run / "config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1) + "\n")

    mcfg = MeshPoseConfig.preset(cfg.model, **cfg.model_overrides)
    init = load_checkpoint(Path(cfg.init_from), for_training=True)[0] if cfg.init_from else None
    if init is not None and "outline_scales" not in cfg.model_overrides:
        # fitted to the body the weights draw (tools/fit_outline_margin.py), not learned: a run
        # from them keeps them unless its config sets its own
        mcfg = dataclasses.replace(mcfg, outline_scales=init.cfg.outline_scales)
    net = MeshPoseNet(mcfg)
    if init is not None:
        net.load_state_dict(init.state_dict())
        if init.cfg.vertex_head.prior_kind != mcfg.vertex_head.prior_kind:
            net.set_priors()  # a new kind of prior: its weights come from its own file
    if not cfg.train_xy:
        net.freeze_xy_residuals()
    if cfg.train_only:
        train_only(net, cfg.train_only)
    net.to(device).train()
    opt = torch.optim.Adam(
        param_groups(net, cfg.lr, cfg.pretrained_lr_scale, cfg.output_lr_scale),
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [cfg.steps // 2], gamma=0.1)
    step = 0
    state = load_state(run)
    if state is not None:
        net.load_state_dict(load_checkpoint(run / WEIGHTS, for_training=True)[0].state_dict())
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
    model = net
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[local] if device.type == "cuda" else None
        )
    topo = Topology.load("low")
    crop = tuple(mcfg.input_size)
    loss_fn = MeshPoseLoss(  # joints: the 17 COCO keypoints our labels have
        torch.as_tensor(topo.faces),
        torch.as_tensor(topo.edges),
        torch.as_tensor(topo.corner_part_uv),
        torch.as_tensor(topo.landmark_index[:NUM_COCO]),
        torch.as_tensor(topo.landmark_weight[:NUM_COCO]),
        crop,
    ).to(device)
    topo_arrays = TopologyArrays.from_topology(topo, device)
    synth = SyntheticConfig(
        framing=FramingConfig(crop_size=crop),  # type: ignore[arg-type]
        seed=cfg.data.synthetic_seed,
        renderer=cfg.data.renderer,
    )
    end = cfg.steps if max_steps is None else min(cfg.steps, step + max_steps)
    real = None
    if cfg.data.real_fraction > 0:
        from meshpose_core.data.real import RandomCrop, RealDataset, RealDatasetConfig
        from meshpose_core.data.real.paths import LABEL_DIR
        from meshpose_core.fitting.supervision import FitLabelConfig, FitSupervision

        sources = cfg.data.real_sources
        real = RealDataset(
            RealDatasetConfig(
                shared_root=Path(cfg.data.real_root),
                crop_size=crop[0],
                **(
                    {"label_files": tuple(LABEL_DIR / f"{s}.npz" for s in sources)}
                    if sources
                    else {}
                ),
            ),
            augment=RandomCrop(scale=(0.75, 1.25), rotation_deg=(-45.0, 45.0)),
            supervision=(
                FitSupervision(FitLabelConfig(fit_dir=Path(cfg.data.real_fits)))
                if cfg.data.real_fits
                else None
            ),
        )
    mix = MixConfig(real_fraction=cfg.data.real_fraction, seed=cfg.data.synthetic_seed)
    loader = DataLoader(
        MixedDataset(synth, mix, real),
        batch_sampler=StepSampler(cfg.batch_size, step, end, rank, world),
        num_workers=cfg.data.workers,
        # spawn, not fork: a forked worker inherits the parent's GL context and can hang
        multiprocessing_context="spawn" if cfg.data.workers else None,
        persistent_workers=False,
    )
    eval_batches: list[dict] = []
    if rank == 0 and cfg.eval_every:
        held = SyntheticDataset(
            SyntheticConfig(
                framing=synth.framing, seed=10**6 + synth.seed, renderer=cfg.data.renderer
            )
        )
        idx = list(range(cfg.data.eval_samples))
        for i in range(0, len(idx), cfg.batch_size):
            items = [synthetic_masks(held[j]) for j in idx[i : i + cfg.batch_size]]
            batch = {k: np.stack([it[k] for it in items]) for k in items[0]}
            eval_batches.append(to_device(batch, device))

    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp and device.type == "cuda")
    log_path = run / "log.csv"
    if rank == 0:
        truncate_log(log_path, step)
    new_log = not log_path.exists()
    logf = log_path.open("a", newline="")
    writer = None
    last: dict[str, float] = {}
    metrics: dict[str, float] = {}
    t0, seen = time.time(), 0
    try:
        from tqdm import tqdm

        bar = tqdm(total=end, initial=step, disable=rank != 0, dynamic_ncols=True)
        for batch in loader:
            b = to_device(batch, device)
            with torch.autocast(
                device.type, dtype=torch.float16, enabled=cfg.amp and device.type == "cuda"
            ):
                raw = model(b["images"])
            raw = raw.float()
            dec = net.decode(raw)
            pred = {
                "scores": raw.scores,
                "vertices": dec.vertices,
                "vis_logit": dec.vis_logit,
                "fg_logit": raw.fg_logit,
            }
            total, terms = loss_fn(pred, loss_targets(b))
            opt.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            scaler.step(opt)
            scaler.update()
            sched.step()
            step += 1
            seen += b["images"].shape[0] * world
            bar.update(1)
            last = terms
            if rank == 0 and (step % cfg.log_every == 0 or step == end):
                rate = seen / max(time.time() - t0, 1e-9)
                row = {
                    "step": step,
                    "lr": sched.get_last_lr()[0],
                    "img_per_s": round(rate, 2),
                    **{k: round(v, 5) for k, v in terms.items()},
                }
                if writer is None:
                    writer = csv.DictWriter(logf, fieldnames=list(row))
                    if new_log:
                        writer.writeheader()
                writer.writerow(row)
                logf.flush()
                bar.set_postfix(loss=f"{terms['total']:.3f}", ips=f"{rate:.1f}")
            if rank == 0 and eval_batches and (step % cfg.eval_every == 0 or step == cfg.steps):
                metrics = evaluate(net, eval_batches, topo_arrays)
                with (run / "eval.jsonl").open("a") as f:
                    f.write(json.dumps({"step": step, **metrics}) + "\n")
            if rank == 0 and (step % cfg.checkpoint_every == 0 or step == end):
                save_state(run, net, opt, sched, step, cfg, metrics)
        bar.close()
    finally:
        logf.close()
        if world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
    return last
