"""Render the pictures of docs/topology.md: the three levels coloured by DensePose part (front
and back), the low-poly silhouette against the high-poly one, and an IUV rendering of a posed
fixture body.

    python tools/render_topology_docs.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.render import (  # noqa: E402
    create_rasterizer,
    fit_orthographic,
    iuv_colormap,
    iuv_image,
    overlay,
    part_colors,
    shade_mesh,
)
from meshpose_core.topology import LEVELS, Topology  # noqa: E402

SIZE = (320, 480)  # width, height of one panel


def part_panel(rast, topo: Topology, vertices: np.ndarray, yaw: float) -> np.ndarray:
    """Flat part colours modulated by Lambert shading, on white."""
    w, h = SIZE
    px = fit_orthographic(vertices, w, h, margin=0.06, yaw_deg=yaw)
    meshes = [(px, topo.faces)]
    frags = rast.rasterize(meshes, w, h)
    shade = shade_mesh(frags, meshes, np.array([[255, 255, 255]])).astype(np.float32) / 255
    colors = part_colors()[topo.face_part[np.clip(frags.face_id, 0, None)]].astype(np.float32)
    img = np.full((h, w, 3), 255, np.uint8)
    return overlay(img, np.clip(colors * shade, 0, 255).astype(np.uint8), frags.mask)


def silhouette_panel(rast, low: Topology, high: Topology) -> np.ndarray:
    """Low-poly mask in blue over the high-poly mask in grey: where they differ shows."""
    w, h = SIZE
    both = np.concatenate([low.vertices, high.vertices])
    img = np.full((h, w, 3), 255, np.uint8)
    for topo, color in ((high, (170, 170, 170)), (low, (40, 90, 200))):
        px = fit_orthographic(topo.vertices, w, h, margin=0.06, yaw_deg=0.0)
        # same framing for both: fit on the union, then take this level's rows
        px_all = fit_orthographic(both, w, h, margin=0.06, yaw_deg=0.0)
        px = px_all[: len(low.vertices)] if topo is low else px_all[len(low.vertices) :]
        frags = rast.rasterize([(px, topo.faces)], w, h)
        layer = np.zeros((h, w, 3), np.uint8)
        layer[:] = color
        img = overlay(img, layer, frags.mask, opacity=0.75 if topo is low else 1.0)
    return img


def iuv_panel(rast, topo: Topology, vertices: np.ndarray, yaw: float) -> np.ndarray:
    w, h = SIZE
    px = fit_orthographic(vertices, w, h, margin=0.06, yaw_deg=yaw)
    frags = rast.rasterize([(px, topo.faces)], w, h)
    iuv = iuv_image(frags, topo.face_part, topo.corner_part_uv)
    img = np.full((h, w, 3), 255, np.uint8)
    return overlay(img, iuv_colormap(iuv, mode="contour"), frags.mask)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    topo = {lv: Topology.load(lv) for lv in LEVELS}
    fixtures = np.load(ROOT / "tests" / "fixtures" / "posed_bodies.npz")
    with create_rasterizer() as rast:
        row = [
            part_panel(rast, topo[lv], topo[lv].vertices, yaw) for yaw in (0, 180) for lv in LEVELS
        ]
        Image.fromarray(np.concatenate(row, axis=1)).save(args.out / "topology_parts.png")
        Image.fromarray(silhouette_panel(rast, topo["low"], topo["high"])).save(
            args.out / "topology_low_silhouette.png"
        )
        posed = fixtures["high"][1]
        iuv = [iuv_panel(rast, topo["high"], posed, yaw) for yaw in (0, 180)]
        iuv.append(part_panel(rast, topo["low"], fixtures["low"][1], 0))
        Image.fromarray(np.concatenate(iuv, axis=1)).save(args.out / "topology_iuv_posed.png")
        print(f"wrote pictures to {args.out} with the {rast.name} rasterizer")


if __name__ == "__main__":
    main()
