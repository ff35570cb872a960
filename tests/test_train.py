"""Training loop on CPU: the loss falls on a fixed batch, resume is exact, DDP runs."""

from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from meshpose_core.data.synthetic.generator import SyntheticConfig, SyntheticGenerator
from meshpose_core.data.synthetic.sample import FramingConfig
from meshpose_core.model.checkpoint import load_checkpoint, save_checkpoint
from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.topology import NUM_COCO, Topology
from meshpose_core.train.config import load_config
from meshpose_core.train.evaluate import evaluate
from meshpose_core.train.loop import loss_targets, to_device, train, train_only
from meshpose_core.train.losses import MeshPoseLoss

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def tiny_config(tmp: Path, **kw):
    return dataclasses.replace(load_config(TINY), out_dir=str(tmp), **kw)


def test_loss_decreases_on_a_fixed_batch() -> None:
    torch.manual_seed(0)
    gen = SyntheticGenerator(
        SyntheticConfig(framing=FramingConfig(crop_size=(64, 64)), renderer="cpu")
    )
    items = [gen.sample(i) for i in range(4)]
    batch = to_device({k: np.stack([it[k] for it in items]) for k in items[0]}, torch.device("cpu"))
    net = MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64)))
    topo = Topology.load("low")
    loss_fn = MeshPoseLoss(
        torch.as_tensor(topo.faces),
        torch.as_tensor(topo.edges),
        torch.as_tensor(topo.corner_part_uv),
        torch.as_tensor(topo.landmark_index[:NUM_COCO]),
        torch.as_tensor(topo.landmark_weight[:NUM_COCO]),
        (64, 64),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(25):
        raw = net(batch["images"])
        dec = net.decode(raw)
        total, _ = loss_fn(
            {"scores": raw.scores, "vertices": dec.vertices, "vis_logit": raw.vis_logit},
            loss_targets(batch),
        )
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


def test_evaluate_reports_every_metric() -> None:
    gen = SyntheticGenerator(
        SyntheticConfig(framing=FramingConfig(crop_size=(64, 64)), renderer="cpu")
    )
    items = [gen.sample(i) for i in range(2)]
    batch = to_device({k: np.stack([it[k] for it in items]) for k in items[0]}, torch.device("cpu"))
    net = MeshPoseNet(MeshPoseConfig.preset("xs", input_size=(64, 64)))
    m = evaluate(net, [batch], TopologyArrays.from_topology(Topology.load("low")))
    assert set(m) == {"vertex_2d_px", "pa_pve_mm", "visibility_acc", "iuv_part_acc", "iuv_uv_err"}
    assert 0 <= m["visibility_acc"] <= 1 and 0 <= m["iuv_part_acc"] <= 1
    assert m["vertex_2d_px"] > 0 and m["pa_pve_mm"] > 0
    assert net.training  # evaluate() hands the network back in training mode


def _params(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last.safetensors")[0].state_dict()


def test_resume_reproduces_the_same_steps(tmp_path: Path) -> None:
    straight = tiny_config(tmp_path / "a")
    train(straight, max_steps=4)
    resumed = tiny_config(tmp_path / "b")
    train(resumed, max_steps=3)  # "killed" after the checkpoint at step 3
    with (tmp_path / "b" / "log.csv").open("a") as f:  # ...and after logging a lost step 4
        f.write("4,0.001,1.0\n")
    train(resumed, max_steps=1)  # resumes from last_state.pt
    a, b = _params(tmp_path / "a"), _params(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)
    log = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and [r.split(",")[0] for r in log[1:]] == ["1", "2", "3", "4"]


def test_train_only_leaves_every_other_weight_as_it_was(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, train_only=("vertex_head.",))
    train(cfg, max_steps=2)
    torch.manual_seed(cfg.seed)  # the loop's own initialisation, repeated
    start = MeshPoseNet(MeshPoseConfig.preset(cfg.model, **cfg.model_overrides)).state_dict()
    after = _params(tmp_path)
    moved = {k for k in start if not torch.equal(start[k], after[k])}
    assert moved and all(k.startswith("vertex_head.") for k in moved), moved
    with pytest.raises(ValueError, match="no parameters under"):
        train_only(MeshPoseNet(MeshPoseConfig.preset(cfg.model)), ("no_such_head",))


def test_a_run_from_weights_keeps_their_outline_scales(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path / "run")
    scales = (0.5, 0.4, 1.0, 0.3, 0.0, 0.5, 0.5, 0.1)
    start = MeshPoseNet(
        MeshPoseConfig.preset(cfg.model, **cfg.model_overrides, outline_scales=scales)
    )
    save_checkpoint(start, tmp_path / "start.safetensors", {})
    train(dataclasses.replace(cfg, init_from=str(tmp_path / "start.safetensors")), max_steps=1)
    assert load_checkpoint(tmp_path / "run" / "last.safetensors")[0].cfg.outline_scales == scales


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    train(tiny_config(Path(out)), max_steps=2)


def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    net, card = load_checkpoint(tmp_path / "last.safetensors")
    assert card["step"] == 2
    assert all(torch.isfinite(p).all() for p in net.parameters())
