"""Pictures of crowded photos for docs/pipeline.md: each photo through the pipeline as it
was (BlazePose's detector, upright box crops, every mesh drawn) and as it is now (YOLOX,
crops following the body, the mesh guard), side by side with their counts of meshes.

    python tools/render_crowd_docs.py [--images PATH ...] [--width 1400] [--out-dir docs/images]

Ship only pictures of photos whose licence allows it (the default, the 1927 Solvay
conference photo, is in the public domain); most of ``../shared/media`` is research-only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.bench.crowd_bench import configurations  # noqa: E402
from meshpose_core.pipeline import Pipeline, PipelineConfig, RenderConfig, parse_layers  # noqa: E402
from meshpose_core.pipeline.sources import read_image  # noqa: E402
from meshpose_core.pipeline.tracker import TrackerConfig  # noqa: E402

SHARED = ROOT.parent / "shared"
DEFAULT_IMAGES = (SHARED / "media/images/bev_Solvay_conference_1927_all_people.jpg",)


def label(image: np.ndarray, text: str) -> np.ndarray:
    out = image.copy()
    cv2.rectangle(out, (0, 0), (out.shape[1], 34), (0, 0, 0), -1)
    cv2.putText(out, text, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", nargs="*", type=Path, default=list(DEFAULT_IMAGES))
    ap.add_argument("--width", type=int, default=1400, help="width of each picture, px")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    base = PipelineConfig(
        tracker=TrackerConfig(max_tracks=40),
        render=RenderConfig(layers=parse_layers("mesh:0.8,boxes")),
    )
    chosen = [configurations(base)[0], configurations(base)[2]]
    for path in args.images:
        image = read_image(path)
        scale = args.width / 2 / image.shape[1]
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        panels = []
        for name, config in chosen:
            with Pipeline(replace(config, render=base.render)) as pipe:
                result = pipe.process(small)
            short = name.split(":")[0]
            panels.append(label(result.annotated, f"{short}: {len(result.people)} meshes"))
        out = args.out_dir / f"crowd_{path.stem.lower()[:40]}.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        picture = cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(out), picture, [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(out)


if __name__ == "__main__":
    main()
