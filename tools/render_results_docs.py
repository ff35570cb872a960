"""Pictures of a training run and of its model on real video frames for docs/training.md:
``training_curves.png`` (every loss term of ``log.csv``, the held-out metrics of
``eval.jsonl`` and optionally real PCK points) and ``results_real.png`` (chosen frames of
real clips through the MeshPose Live pipeline, one row per frame: the frame, then one
column per layer set).

    python tools/render_results_docs.py [--run runs/xs_bp_prior_cpu] [--pck PCK.jsonl]
        [--model xs_bp|PATH] [--clips PATH:FRAME,FRAME ...] [--out-dir docs/images]

``--pck``: JSON lines of {"step": int, "lsp_pck": float}. Each clip is processed from its
start up to its last chosen frame, as the CLI processes a video (the tracker is warm);
missing clips are skipped with a note.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.pipeline import (  # noqa: E402
    Frame,
    LayerRenderer,
    ModelUnavailable,
    NetworkConfig,
    Pipeline,
    PipelineConfig,
    RenderConfig,
    parse_layers,
    results_at,
)
from meshpose_core.pipeline.network import DEFAULT_MODEL, model_path  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media" / "videos"
DEFAULT_CLIPS = (
    f"{ROOT / 'assets' / 'samples' / 'gym_run.mp4'}:45",
    f"{MEDIA / 'phalp_vid.mp4'}:164",  # gym_run is phalp_vid's first 4 s: a later frame
    f"{MEDIA / 'mmpose_demo_street.mp4'}:4",
    f"{MEDIA / 'romp_sample_video2.mp4'}:60,220",
)
LAYER_SETS = ("mesh,keypoints", "visibility", "iuv")
COLUMN_NAMES = {
    "mesh,keypoints": "mesh + keypoints",
    "visibility": "visibility (green seen, red occluded)",
    "iuv": "IUV of the mesh (DensePose parts, UV)",
}
LOSSES = (
    "total",
    "barycentric",
    "consistency",
    "visibility",
    "vertex",
    "edge",
    "normal",
    "joint",
    "silhouette",
)
EVALS = {
    "vertex_2d_px": "eval: 2D vertex error (px of 192)",
    "pa_pve_mm": "eval: PA-PVE (mm)",
    "visibility_acc": "eval: visibility accuracy",
    "iuv_part_acc": "eval: IUV part accuracy",
    "iuv_uv_err": "eval: IUV UV error",
}
TILE_WIDTH = 360
HEADER = 26  # px of the column-label strip


# --- training curves -------------------------------------------------------------------------


def read_log(path: Path) -> dict[str, np.ndarray]:
    """``log.csv`` -> column name -> values (float64), rows in file order."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]} if rows else {}


def read_jsonl(path: Path | None) -> list[dict[str, float]]:
    """JSON lines with a ``step`` -> records sorted by step (the last one per step kept)."""
    if path is None or not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted({r["step"]: r for r in records}.values(), key=lambda r: r["step"])


def moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` points (fewer at the start)."""
    c = np.cumsum(np.insert(y, 0, 0.0))
    n = np.arange(1, len(y) + 1)
    lo = np.maximum(n - window, 0)
    return (c[n] - c[lo]) / (n - lo)


def plot_curves(
    log: dict[str, np.ndarray],
    evals: list[dict[str, float]],
    pck: list[dict[str, float]],
    title: str,
    window: int,
    out: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, np.ndarray, np.ndarray, bool]] = [
        (f"loss: {k}", log["step"], log[k], True) for k in LOSSES if k in log
    ]
    panels += [(EVALS[k], _col(evals, "step"), _col(evals, k), False) for k in EVALS if evals]
    if pck:
        panels.append(("LSP PCK@0.1 (held out)", _col(pck, "step"), _col(pck, "lsp_pck"), False))
    panels.append(("images / s", log["step"], log["img_per_s"], True))
    cols = 6
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(14, 2.2 * rows), dpi=100, squeeze=False)
    last = float(log["step"][-1])
    for ax, (name, x, y, smooth) in zip(axes.flat, panels, strict=False):
        if smooth:
            ax.plot(x, y, color="tab:blue", alpha=0.25, lw=0.8)
            ax.plot(x, moving_average(y, window), color="tab:blue", lw=1.4)
            if name.startswith("loss") and y.min() > 0 and y.max() > 10 * y.min():
                ax.set_yscale("log")
        else:
            ax.plot(x, y, "o-", color="tab:orange", ms=3, lw=1.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 1.03 * max(last, float(x.max())))  # every panel on the same steps
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, lw=0.5)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, metadata={"Software": None})
    plt.close(fig)


def _col(records: list[dict[str, float]], key: str) -> np.ndarray:
    return np.array([r[key] for r in records], dtype=np.float64)


# --- real frames -----------------------------------------------------------------------------


def parse_clip(spec: str) -> tuple[Path, list[int]]:
    """``PATH:FRAME,FRAME`` -> (path, sorted frame indices)."""
    path, _, frames = spec.rpartition(":")
    try:
        indices = sorted({int(f) for f in frames.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected PATH:FRAME,FRAME, got {spec!r}") from None
    if not path or not indices or indices[0] < 0:
        raise argparse.ArgumentTypeError(f"expected PATH:FRAME,FRAME, got {spec!r}")
    return Path(path), indices


def grab(
    pipe: Pipeline, renderer: LayerRenderer, clip: Path, wanted: list[int]
) -> list[tuple[str, list[np.ndarray]]]:
    """Process ``clip`` from its start to its last wanted frame -> (label, [frame, one
    annotated frame per layer set]) for every wanted frame the clip has. A still image is
    one frame (index 0), processed as an unrelated picture."""
    rows, found = [], set()
    if clip.suffix.lower() in (".jpg", ".jpeg", ".png"):
        pipe.reset()
        rgb = np.ascontiguousarray(cv2.imread(str(clip))[:, :, ::-1])
        results = [(Frame(rgb, 0.0, 0), pipe.process(rgb))]
    else:
        results = results_at(pipe, clip, wanted)
    for frame, result in results:
        tiles = [frame.image]
        for spec in LAYER_SETS:
            # one renderer (one GL context in this thread), its layers switched
            renderer.config = replace(renderer.config, layers=parse_layers(spec))
            tiles.append(renderer.render(frame.image, result.people))
        rows.append((f"{clip.stem} #{frame.index} ({len(result.people)} found)", tiles))
        found.add(frame.index)
    missing = sorted(set(wanted) - found)
    if missing:
        print(f"note: {clip} has no frame {missing} (skipped)", file=sys.stderr)
    return rows


def label(image: np.ndarray, text: str, xy: tuple[int, int], size: int = 14) -> np.ndarray:
    """``image`` with white, black-outlined text whose top-left corner is at ``xy``."""
    from matplotlib import font_manager

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    pil = Image.fromarray(image)
    ImageDraw.Draw(pil).text(xy, text, fill="white", font=font, stroke_width=2, stroke_fill="black")
    return np.asarray(pil)


def tile_grid(rows: list[tuple[str, list[np.ndarray]]]) -> np.ndarray:
    """Rows of tiles resized to ``TILE_WIDTH`` under one strip of column labels."""
    header = np.full((HEADER, TILE_WIDTH * (1 + len(LAYER_SETS)), 3), 40, np.uint8)
    for i, name in enumerate(("input frame", *LAYER_SETS)):
        header = label(header, COLUMN_NAMES.get(name, name), (i * TILE_WIDTH + 8, 4), 15)
    strips = [header]
    for text, tiles in rows:
        h, w = tiles[0].shape[:2]
        size = (TILE_WIDTH, round(h * TILE_WIDTH / w))
        small = [cv2.resize(t, size, interpolation=cv2.INTER_AREA) for t in tiles]
        small[0] = label(small[0], text, (6, size[1] - 22))
        strips.append(np.concatenate(small, axis=1))
    return np.concatenate(strips, axis=0)


def save_small(image: np.ndarray, out: Path, max_bytes: int) -> Path:
    """PNG; if larger than ``max_bytes``, a 256-colour PNG; if still larger, JPEG (.jpg)."""
    pil = Image.fromarray(image)
    for candidate in (pil, pil.quantize(256, method=Image.Quantize.MEDIANCUT)):
        buf = io.BytesIO()
        candidate.save(buf, format="PNG", optimize=True)
        if buf.tell() <= max_bytes:
            out.write_bytes(buf.getvalue())
            return out
    out = out.with_suffix(".jpg")
    pil.save(out, format="JPEG", quality=85)
    return out


# --- main ------------------------------------------------------------------------------------


def write_curves(args: argparse.Namespace) -> None:
    """training_curves.png of the run ``args.run``."""
    log = read_log(args.run / "log.csv")
    evals = read_jsonl(args.run / "eval.jsonl")
    if not evals:
        print(f"note: no {args.run / 'eval.jsonl'} records: no eval panels", file=sys.stderr)
    title = (
        f"{args.run.name}, x: training step (last {int(log['step'][-1])}); losses: raw (faint) and "
        f"moving average of {args.window} logs; eval: held-out synthetic crops"
    )
    curves = args.out_dir / "training_curves.png"
    plot_curves(log, evals, read_jsonl(args.pck), title, args.window, curves)
    print(f"wrote {curves} ({curves.stat().st_size / 1e3:.0f} kB)")


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", type=Path, default=ROOT / "runs" / "xs_bp_prior_cpu")
    ap.add_argument("--pck", type=Path, help='JSON lines {"step": int, "lsp_pck": float}')
    ap.add_argument("--window", type=int, default=10, help="moving average, in log rows")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="preset name or .safetensors/.onnx")
    ap.add_argument(
        "--clips", nargs="+", type=parse_clip, default=[parse_clip(c) for c in DEFAULT_CLIPS]
    )
    ap.add_argument("--threads", type=int, default=1, help="network CPU threads")
    ap.add_argument("--max-mb", type=float, default=0.5, help="size limit of results_real")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    try:
        model_path(args.model)
    except ModelUnavailable as exc:
        ap.error(str(exc))
    args.out_dir.mkdir(parents=True, exist_ok=True)

    if (args.run / "log.csv").is_file():
        write_curves(args)
    else:  # the pictures of the model alone (a run's logs stay on the machine it ran on)
        print(f"note: no {args.run / 'log.csv'}: training_curves not written", file=sys.stderr)

    config = PipelineConfig(
        network=NetworkConfig(model=args.model, threads=args.threads),
        render=RenderConfig(layers=()),  # the pipeline draws nothing; the frames we keep below
    )
    rows: list[tuple[str, list[np.ndarray]]] = []
    with Pipeline(config) as pipe:
        renderer = LayerRenderer(RenderConfig(layers=parse_layers(LAYER_SETS[0])))
        try:
            for clip, frames in args.clips:
                if not clip.is_file():
                    print(f"note: {clip} not found (skipped)", file=sys.stderr)
                    continue
                rows += grab(pipe, renderer, clip, frames)
        finally:
            renderer.close()
        print(f"model {pipe.network.name}, rasterizer {renderer.backend}")
    if not rows:
        print("no frames: results_real not written", file=sys.stderr)
        return 1
    real = save_small(tile_grid(rows), args.out_dir / "results_real.png", int(args.max_mb * 1e6))
    print(f"wrote {real} ({real.stat().st_size / 1e3:.0f} kB, {len(rows)} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
