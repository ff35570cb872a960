"""Pictures of synthetic training samples for docs/training.md: the crop, its dense labels
(low-poly part colour at each annotated pixel), per-vertex visibility (green visible, red
occluded) and the person mask.

    python tools/render_training_docs.py [--count 8] [--out docs/images/synthetic_samples.jpg]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.data.synthetic.generator import SyntheticConfig, SyntheticGenerator  # noqa: E402
from meshpose_core.render import part_colors, visibility_colormap  # noqa: E402


def dots(img: np.ndarray, xy: np.ndarray, colors: np.ndarray, r: int = 1) -> np.ndarray:
    out = img.copy()
    h, w = out.shape[:2]
    for (x, y), c in zip(np.rint(xy).astype(int), colors, strict=True):
        out[max(0, y - r) : min(h, y + r + 1), max(0, x - r) : min(w, x + r + 1)] = c
    return out


def panel(s: dict, low_face_part: np.ndarray) -> np.ndarray:
    img = s["image"]
    dim = (img * 0.45).astype(np.uint8)
    m = s["dp_mask"]
    dense = dots(dim, s["dp_points"][m], part_colors()[low_face_part[s["dp_face"][m]]])
    vis = dots(dim, s["vertices"][:, :2], visibility_colormap(s["visibility"]), r=0)
    mask = np.repeat(s["silhouette"][..., None] * 255, 3, 2).astype(np.uint8)
    return np.concatenate([img, dense, vis, mask], axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "synthetic_samples.jpg")
    args = ap.parse_args()
    gen = SyntheticGenerator(SyntheticConfig(seed=args.seed))
    rows = [panel(gen.sample(i), gen.h2l.low.face_part) for i in range(args.count)]
    half = (len(rows) + 1) // 2
    left, right = np.concatenate(rows[:half], 0), np.concatenate(rows[half:], 0)
    if len(right) < len(left):
        right = np.concatenate([right, np.zeros_like(left[: len(left) - len(right)])], 0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([left, right], 1)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
