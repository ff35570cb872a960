"""Make the embedded sample clip assets/samples/gym_run.mp4 from PHALP's demo video (MIT).

    python tools/make_sample_clip.py --src ../shared/media/videos/phalp_vid.mp4

Trims to the first few seconds, downscales to 640 px wide (even height), H.264 (PyAV).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=ROOT.parent / "shared/media/videos/phalp_vid.mp4")
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "samples" / "gym_run.mp4")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--width", type=int, default=640)
    args = ap.parse_args()
    with av.open(str(args.src)) as src:
        stream = src.streams.video[0]
        fps = stream.average_rate
        n = round(float(fps) * args.seconds)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(args.out), "w") as dst:
            out = None
            for i, frame in enumerate(src.decode(stream)):
                if i >= n:
                    break
                img = frame.to_image()
                h = round(img.height * args.width / img.width / 2) * 2
                img = img.resize((args.width, h), Image.Resampling.LANCZOS)
                if out is None:
                    out = dst.add_stream("libx264", rate=fps)
                    out.width, out.height, out.pix_fmt = args.width, h, "yuv420p"
                    out.options = {"crf": "26", "preset": "slow"}
                for packet in out.encode(av.VideoFrame.from_ndarray(np.asarray(img), "rgb24")):
                    dst.mux(packet)
            for packet in out.encode():
                dst.mux(packet)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB, {n} frames at {fps} fps)")


if __name__ == "__main__":
    main()
