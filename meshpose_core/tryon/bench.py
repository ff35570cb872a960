"""Cost of the try-on layer per frame and per person, for the benchmark CLI.

    python -m meshpose_core.tryon.bench [--people 1,3] [--size 640x480] [--renderer auto]

People are the rest template side by side (the cost does not depend on the pose),
each wearing ``DEFAULT_OUTFIT``; the layer runs as in the pipeline: one ``render`` per frame
(posing, one rasterisation, shading, compositing), with its rasterizer kept between frames.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..render import create_rasterizer, fit_orthographic
from ..timing import time_call
from ..topology import Topology
from .layer import TryOnConfig, TryOnLayer
from .posing import TryOnPerson
from .registry import GarmentLibrary

DEFAULT_OUTFIT: tuple[str, ...] = ("striped_tshirt", "flared_skirt", "crossbody_bag")


@dataclass(frozen=True)
class TryOnBenchmark:
    """Milliseconds per frame: wall-clock median over all calls and best round's median,
    and process CPU time per call (all threads, llvmpipe's included), which a loaded machine
    inflates far less than wall-clock time."""

    people: int
    width: int
    height: int
    renderer: str
    median_ms: float
    best_round_ms: float
    cpu_ms: float

    @property
    def per_person_ms(self) -> float:
        return self.median_ms / self.people


def bench_people(count: int, width: int, height: int, topology: Topology) -> list[np.ndarray]:
    """``count`` rest bodies (V, 3) in image px, each 80 % of the frame tall whatever the
    count (so that the cost per person compares), spread across the width (overlapping when
    many), in the network's pixel convention."""
    px = fit_orthographic(topology.vertices, width, height, margin=0.1)
    px[:, :2] -= 0.5
    out = []
    for i in range(count):
        v = px.copy()
        v[:, 0] += (i + 0.5) * width / count - width / 2
        v[:, 2] += 40.0 * i  # later people a little behind
        out.append(v)
    return out


def benchmark_tryon(
    people: int = 1,
    width: int = 640,
    height: int = 480,
    garments: Sequence[str] = DEFAULT_OUTFIT,
    renderer: str = "auto",
    threads: int = 2,
    rounds: int = 5,
    iters: int = 10,
    shader_paint: bool = True,
) -> TryOnBenchmark:
    """Time ``TryOnLayer.render`` on a ``width`` x ``height`` frame with ``people`` people."""
    torch.set_num_threads(threads)  # only the numpy/cv2 side matters; keep torch from competing
    lib = GarmentLibrary()
    outfit = tuple(lib.load(g) for g in garments)
    topo = lib.topology
    persons = [
        TryOnPerson(v, outfit, track_id=i + 1)
        for i, v in enumerate(bench_people(people, width, height, topo))
    ]
    frame = np.full((height, width, 3), 128, np.uint8)
    warmup = 5
    with create_rasterizer(renderer) as rast:
        cfg = TryOnConfig(shader_paint=shader_paint)
        layer = TryOnLayer(cfg, rasterizer=rast, topology=topo, atlas=lib.atlas)
        cpu0 = time.process_time()
        latency = time_call(
            lambda: layer.render(frame, persons), rounds=rounds, iters=iters, warmup=warmup
        )
        cpu_ms = (time.process_time() - cpu0) * 1e3 / (warmup + rounds * iters)
        name = rast.name
        layer.close()
    return TryOnBenchmark(
        people, width, height, name, latency.median_ms, latency.best_round_ms, cpu_ms
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m meshpose_core.tryon.bench", description=__doc__)
    ap.add_argument("--people", default="1,3")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--garments", default=",".join(DEFAULT_OUTFIT))
    ap.add_argument("--renderer", default="auto", choices=("auto", "gl", "cpu"))
    args = ap.parse_args(argv)
    width, height = (int(x) for x in args.size.split("x"))
    print(f"try-on layer, {args.size}, outfit {args.garments}")
    for n in (int(p) for p in args.people.split(",")):
        r = benchmark_tryon(n, width, height, args.garments.split(","), args.renderer)
        print(
            f"  {n} people ({r.renderer}): {r.median_ms:.2f} ms/frame median, "
            f"{r.best_round_ms:.2f} best round, {r.cpu_ms:.2f} CPU ms/frame; "
            f"{r.per_person_ms:.2f} ms/person"
        )


if __name__ == "__main__":
    main()
