"""CPU latency of MeshPoseNet (network + vertex decoding), per preset and batch size.

Run: ``python -m meshpose_core.model.benchmark --presets xs --batches 1,8``.

Shared CPUs are noisy, so each variant is timed in several rounds and both the median over
all runs and the best round's median are reported; the latter is the unloaded figure.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .inference import keep_freed_memory, prepare_for_inference
from .meshpose import MeshPoseConfig, MeshPoseNet


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call (whole batch)."""

    median_ms: float
    best_round_ms: float


def time_call(
    fn: Callable[[], object], rounds: int = 5, iters: int = 10, warmup: int = 5
) -> Latency:
    """Latency of ``fn()``; the first ``warmup`` calls (allocator, oneDNN kernels) are dropped."""
    for _ in range(warmup):
        fn()
    round_medians, all_times = [], []
    for _ in range(rounds):
        times = []
        for _ in range(iters):
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
        round_medians.append(statistics.median(times))
        all_times += times
    return Latency(statistics.median(all_times), min(round_medians))


def benchmark(
    cfg: MeshPoseConfig, batch: int, optimise: bool = True, want_iuv: bool = False, **kw
) -> Latency:
    """Latency of ``predict`` on random input at ``cfg.input_size``, eval mode, no grad;
    ``optimise``: BatchNorm folded and channels_last (``prepare_for_inference``)."""
    model = MeshPoseNet(cfg).eval()
    images = torch.randn(batch, 3, *cfg.input_size)
    if optimise:
        prepare_for_inference(model)
        images = images.contiguous(memory_format=torch.channels_last)
    topology = None
    if want_iuv:
        from .decoding import TopologyArrays

        v, f = cfg.num_vertices, 2 * cfg.num_vertices - 4  # genus-0 mesh face count
        topology = TopologyArrays(
            faces=torch.randint(0, v, (f, 3)),
            corner_part_uv=torch.rand(f, 3, 2),
            face_part=torch.randint(1, 25, (f,)),
            vertex_part=torch.randint(1, 25, (v,)),
            vertex_part_uv=torch.rand(v, 2),
        )
    with torch.inference_mode():
        return time_call(lambda: model.predict(images, topology, want_iuv), **kw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", default="xs,s,l")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plain", action="store_true", help="no BN folding, NCHW layout")
    parser.add_argument("--iuv", action="store_true", help="include dense IUV decoding")
    parser.add_argument(
        "--release-memory", action="store_true", help="default glibc malloc (no keep_freed_memory)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.release_memory:
        keep_freed_memory()
    for name in args.presets.split(","):
        cfg = MeshPoseConfig.preset(name)
        params = sum(p.numel() for p in MeshPoseNet(cfg).parameters())
        for batch in (int(b) for b in args.batches.split(",")):
            iters = 10 if batch == 1 else 3
            lat = benchmark(cfg, batch, not args.plain, args.iuv, iters=iters)
            print(
                f"{name:>2} {cfg.backbone:<12} {cfg.input_size[0]}x{cfg.input_size[1]} "
                f"params {params / 1e6:6.2f}M  batch {batch}: median {lat.median_ms:7.1f} ms, "
                f"best round {lat.best_round_ms:7.1f} ms ({lat.best_round_ms / batch:6.1f}/crop)",
                flush=True,
            )


if __name__ == "__main__":
    main()
