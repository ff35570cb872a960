"""What the ``garment`` layer costs per person and frame (``python -m meshpose_core.bench tryon``).

Bodies: the rest template, 80 % of a 640x480 frame tall, side by side (``tryon.bench``; the
cost does not depend on the pose), everyone in the same outfit. Per outfit and people count:

* ``TryOnLayer.render`` alone, painted by numpy from read-back fragments (the path the layer
  had before the GL shader path; still the CPU rasterizer's) and by the GL fragment shader;
* what the pipeline's ``LayerRenderer`` spends more with the ``garment`` layer on: alone
  (``garment`` vs no layer: it draws the bodies for itself) and next to the ``mesh`` layer
  (``mesh,garment`` vs ``mesh``: one rasterisation serves both); and, for reference, the
  ``mesh`` layer alone (``mesh`` vs no layer: ``GLMeshPainter`` on GL).

Every variant runs in interleaved rounds (a busy machine slows them alike); figures are the
median wall-clock ms per call over all rounds and the process CPU ms per call (all threads,
llvmpipe's included), divided by the number of people.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from meshpose_core.pipeline.layers import LayerRenderer, RenderConfig, parse_layers
from meshpose_core.pipeline.results import PersonResult
from meshpose_core.tryon import TryOnConfig, TryOnLayer, TryOnPerson, shared_library
from meshpose_core.tryon.bench import bench_people

WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class Cost:
    """Milliseconds per frame: wall-clock median and process CPU time."""

    wall_ms: float
    cpu_ms: float

    def __sub__(self, other: Cost) -> Cost:
        return Cost(self.wall_ms - other.wall_ms, self.cpu_ms - other.cpu_ms)

    def per(self, people: int) -> str:
        return f"{self.wall_ms / people:5.2f} ({self.cpu_ms / people:5.2f})"


def interleaved(
    variants: dict[str, Callable[[], object]], rounds: int = 7, iters: int = 8, warmup: int = 3
) -> dict[str, Cost]:
    """Time each variant in turn, round after round. The first call of a variant in a round
    is not timed: switching variants resizes the shared render buffers, which a pipeline
    with one layer set does not do per frame."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    walls: dict[str, list[float]] = {k: [] for k in variants}
    cpu = dict.fromkeys(variants, 0.0)
    for _ in range(rounds):
        for name, fn in variants.items():
            fn()
            c0 = time.process_time()
            for _ in range(iters):
                t = time.perf_counter()
                fn()
                walls[name].append((time.perf_counter() - t) * 1e3)
            cpu[name] += time.process_time() - c0
    n = rounds * iters
    return {k: Cost(statistics.median(walls[k]), cpu[k] * 1e3 / n) for k in variants}


def person_results(bodies: Sequence[np.ndarray]) -> list[PersonResult]:
    """Pipeline results for bench bodies, each (V, 3) high-poly image px (``bench_people``),
    holding only what the surface and garment layers read."""
    out = []
    for i, v in enumerate(bodies):
        lo, hi = v[:, :2].min(axis=0), v[:, :2].max(axis=0)
        out.append(
            PersonResult(
                track_id=i + 1,
                box=np.concatenate([lo, hi]).astype(np.float32),
                score=1.0,
                keypoints=np.zeros((17, 3), np.float32),
                vertices=v[:518],
                visibility=np.ones(518, np.float32),
                vertices_high=v.astype(np.float32),
                visibility_high=np.ones(len(v), np.float32),
                crop_to_image=np.eye(2, 3),
            )
        )
    return out


def measure(people: int, outfit: Sequence[str]) -> tuple[dict[str, Cost], str]:
    """Every variant's cost per frame for ``people`` people wearing ``outfit``, and the
    rasterizer that drew them.

    One ``LayerRenderer`` whose layers change between variants, and try-on layers drawing
    with its rasterizer: one GL context per thread (a second one breaks the first).
    """
    lib = shared_library()
    garments = tuple(lib.load(g) for g in outfit)
    bodies = bench_people(people, WIDTH, HEIGHT, lib.topology)
    dressed = [TryOnPerson(v, garments, track_id=i + 1) for i, v in enumerate(bodies)]
    results = person_results(bodies)
    frame = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    renderer = LayerRenderer(RenderConfig(layers=(), outfits=(tuple(outfit),)))
    rast = renderer.rasterizer()
    backend = f"{rast.name} ({getattr(rast, 'renderer_info', 'numpy')})"
    # the numpy path, GL's fragment shader (where there is GL), the compiled CPU loops
    configs = {
        "numpy": TryOnConfig(shader_paint=False),
        "shader": TryOnConfig(painter="gl"),
        "cpu": TryOnConfig(painter="cpu"),
    }
    layers = {
        path: TryOnLayer(config, rast, lib.topology, lib.atlas) for path, config in configs.items()
    }
    variants: dict[str, Callable[[], object]] = {
        f"tryon {path}": (lambda layer=layer: layer.render(frame, dressed))
        for path, layer in layers.items()
    }

    def layered(spec: str) -> object:
        renderer.config = replace(renderer.config, layers=parse_layers(spec))
        return renderer.render(frame, results)

    for spec in ("", "garment", "mesh", "mesh,garment"):
        variants[f"layers {spec}"] = lambda spec=spec: layered(spec)
    try:
        return interleaved(variants), backend
    finally:
        for layer in layers.values():
            layer.close()
        renderer.close()


def run(people_counts: Sequence[int], outfits: Sequence[Sequence[str]], threads: int = 2) -> None:
    torch.set_num_threads(threads)  # only numpy / cv2 / GL work here; keep torch from competing
    print(f"garment layer cost, {WIDTH}x{HEIGHT}: ms per person per frame, wall (CPU)")
    header = (
        "mesh layer alone | TryOnLayer numpy | TryOnLayer GL shader | TryOnLayer CPU loops | "
        "+garment alone | +garment next to mesh"
    )
    for outfit in outfits:
        print(f"\noutfit {'+'.join(outfit)}\n  people | {header}")
        for n in people_counts:
            c, backend = measure(n, outfit)
            row = [
                (c["layers mesh"] - c["layers "]).per(n),
                c["tryon numpy"].per(n),
                c["tryon shader"].per(n),
                c["tryon cpu"].per(n),
                (c["layers garment"] - c["layers "]).per(n),
                (c["layers mesh,garment"] - c["layers mesh"]).per(n),
            ]
            print(f"  {n:6d} | " + " | ".join(f"{x:>16s}" for x in row) + f"   {backend}")
