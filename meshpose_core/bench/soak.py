"""Soak benchmark: the CLI on a long 640x480 video, its memory sampled from outside.

    python -m meshpose_core.bench.soak [--minutes 10] [--model PATH] [--keep DIR]

Makes a ``--minutes`` long 640x480 30 fps H.264 clip (the bundled sample clip letterboxed
and looped), runs ``run_demo.py --video CLIP --headless --out o.mp4 --export-json o.json`` on
it in a child process, samples the child's resident memory (``VmRSS``, Linux ``/proc``) every
second, and prints the RSS at the start (the first sample with output written), middle and end
of processing, the peak, the frames the CLI reports, and the frames the finished video and
JSON hold (all three must agree). A benchmark, not a test: it takes as long as the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from meshpose_core.pipeline.output_paths import partial_path
from meshpose_core.pipeline.sources import VideoSource

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "assets" / "samples" / "gym_run.mp4"
WIDTH, HEIGHT, FPS = 640, 480, 30


def make_clip(path: Path, seconds: float) -> int:
    """The sample clip letterboxed to 640x480 and looped for ``seconds``; frames written."""
    with VideoSource(SAMPLE) as src:
        loop = [f.image for f in src]
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    total = round(seconds * FPS)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "26"}
        for i in range(total):
            image = loop[i % len(loop)]
            h, w = min(image.shape[0], HEIGHT), min(image.shape[1], WIDTH)
            top = (HEIGHT - h) // 2
            canvas[top : top + h, :w] = image[:h, :w]
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return total


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process in MB (None once it has exited)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(minutes: float, model: str | None, keep: Path | None) -> None:
    if not Path("/proc/self/status").exists():
        sys.exit("the soak benchmark reads memory from /proc (Linux only)")
    with tempfile.TemporaryDirectory() as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        clip, video, js = work / "soak_in.mp4", work / "soak_out.mp4", work / "soak_out.json"
        t = time.perf_counter()
        frames_in = make_clip(clip, minutes * 60)
        print(f"input: {frames_in} frames {WIDTH}x{HEIGHT} at {FPS} fps "
              f"({minutes:g} min), made in {time.perf_counter() - t:.0f} s")  # fmt: skip
        cmd = [sys.executable, str(REPO / "run_demo.py"), "--video", str(clip), "--headless"]
        cmd += ["--out", str(video), "--export-json", str(js)]
        cmd += ["--model", model] if model else []
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        samples: list[tuple[float, float]] = []  # (seconds since output began, MB)
        began: float | None = None
        while proc.poll() is None:
            mb = rss_mb(proc.pid)
            if began is None and partial_path(js).exists():
                began = time.perf_counter()
            if mb is not None and began is not None:
                samples.append((time.perf_counter() - began, mb))
            time.sleep(1.0)
        _, stderr = proc.communicate()
        wall = time.perf_counter() - start
        report = [line for line in stderr.decode().splitlines() if "frames in" in line]
        if proc.returncode != 0 or not samples:
            sys.exit(f"the run failed (exit {proc.returncode}): {stderr.decode()[-2000:]}")
        with av.open(str(video)) as c:
            decoded = sum(1 for _ in c.decode(video=0))
        json_frames = len(json.loads(js.read_text())["frames"])
        first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
        print(f"command: {' '.join(cmd[1:])}")
        print(f"cli: {report[-1] if report else '(no summary line)'}")
        print(f"wall {wall:.0f} s, load average {os.getloadavg()[0]:.1f} at the end")
        print(
            f"RSS MB: start {first[1]:.0f} (t={first[0]:.0f} s), middle {middle[1]:.0f} "
            f"(t={middle[0]:.0f} s), end {last[1]:.0f} (t={last[0]:.0f} s), "
            f"peak {max(mb for _, mb in samples):.0f}"
        )
        print(f"frames: input {frames_in}, video {decoded}, json {json_frames}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m meshpose_core.bench.soak", description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the generated clip")
    ap.add_argument("--model", help="--model of the CLI (default: the CLI's)")
    ap.add_argument("--keep", type=Path, help="write the clip and outputs here (kept)")
    args = ap.parse_args(argv)
    run(args.minutes, args.model, args.keep)


if __name__ == "__main__":
    main()
