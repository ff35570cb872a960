"""Teacher labels for real frames: BlazePose-heavy joints and person masks -> data/real/*.npz.

    python tools/label_real_frames.py [--shared-root ../shared] [--sources videos images ...]

Sources (paths relative to the shared root; nothing under media/annotated/ and no LSP
evaluation image is ever labelled, they are held out for evaluation):
  videos      media/videos/*.mp4, every --video-step-th frame, every detected person
  images      media/images/*, every detected person
  upper_body  media/upper_body/*, every detected person
  lsp_train   LSPET training split: ground-truth joints, teacher mask and face joints
  train_videos    train/videos/* (58 clips) less the held-out clips, every --video-step-th
                  frame, at most --max-video-frames per clip
  heldout_videos  the held-out clips of train/videos (``paths.HELD_OUT_VIDEOS``): labelled
                  for evaluation only (``RealDataset`` refuses them)
  train_photos    train/photos/*/* (32 photos)

Persons are found by our BlazePose detector (``meshpose_core.detection``), cropped on its
rotated ROI at 256x256 and labelled by ``pose_landmark_heavy.tflite`` with one refinement pass
on the landmarks' own ROI; ``meshpose_core.data.real.quality`` filters the labels. Video frames
used are cached as JPEG (see ``meshpose_core.data.real.media``). Writes one label file per
source and ``label_stats.json`` (counts and rejection reasons).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.data.real.labelling import (  # noqa: E402
    LabelConfig,
    ground_truth_row,
    label_detected_people,
)
from meshpose_core.data.real.labels import save_labels, stack_labels  # noqa: E402
from meshpose_core.data.real.lsp import load_lsp  # noqa: E402
from meshpose_core.data.real.media import (  # noqa: E402
    DEFAULT_FRAME_CACHE,
    frame_cache_path,
    iter_video_frames,
    read_rgb,
    write_jpeg,
)
from meshpose_core.data.real.paths import (  # noqa: E402
    DEFAULT_SHARED_ROOT,
    HELD_OUT_VIDEOS,
    LABEL_DIR,
    SharedDataMissingError,
    is_held_out,
    require_shared_root,
)
from meshpose_core.data.real.teacher import (  # noqa: E402
    BlazePoseLandmarker,
    TeacherConfig,
)
from meshpose_core.detection import BlazePoseDetector, DetectorConfig  # noqa: E402

SOURCES = (
    "videos",
    "images",
    "upper_body",
    "lsp_train",
    "train_videos",
    "heldout_videos",
    "train_photos",
)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv")


def media_files(root: Path, folder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Sorted files of one media folder, relative to root; never a held-out one."""
    files = sorted(
        p.relative_to(root).as_posix()
        for p in (root / folder).iterdir()
        if p.suffix.lower() in suffixes
    )
    return [f for f in files if not is_held_out(f)]


def frames_of(
    root: Path, source: str, args: argparse.Namespace
) -> Iterator[tuple[str, int, np.ndarray]]:
    """(path, frame index or -1, RGB) of a detection-labelled source."""
    if source in ("videos", "train_videos", "heldout_videos"):
        if source == "videos":
            videos = media_files(root, "media/videos", (".mp4",))
        elif source == "train_videos":
            videos = media_files(root, "train/videos", VIDEO_SUFFIXES)
        else:
            videos = [v for v in HELD_OUT_VIDEOS if (root / v).is_file()]
        cap = args.max_video_frames if source != "videos" else 0
        for video in videos:
            for n, (index, rgb) in enumerate(iter_video_frames(root / video, args.video_step)):
                if cap and n >= cap:
                    break
                write_jpeg(frame_cache_path(args.frame_cache, video, index), rgb)
                yield video, index, rgb
    elif source == "train_photos":
        folders = sorted(p for p in (root / "train/photos").iterdir() if p.is_dir())
        for folder in folders:
            rel = folder.relative_to(root).as_posix()
            for path in media_files(root, rel, IMAGE_SUFFIXES):
                yield path, -1, read_rgb(root / path)
    else:
        for path in media_files(root, f"media/{source}", IMAGE_SUFFIXES):
            yield path, -1, read_rgb(root / path)


def label_source(
    root: Path,
    source: str,
    args: argparse.Namespace,
    detector: BlazePoseDetector,
    teacher: BlazePoseLandmarker,
    cfg: LabelConfig,
) -> tuple[list[dict], Counter]:
    rows: list[dict] = []
    reasons: Counter = Counter()
    if source == "lsp_train":
        lsp = load_lsp(root, "train")
        for n in range(min(len(lsp), args.limit or len(lsp))):
            row, why = ground_truth_row(
                read_rgb(root / lsp.images[n]),
                lsp.images[n],
                lsp.keypoints[n],
                lsp.box[n],
                teacher,
                cfg,
            )
            rows.append(row)
            reasons[why] += 1
        return rows, reasons
    for count, (path, frame, rgb) in enumerate(frames_of(root, source, args)):
        if args.limit and count >= args.limit:
            break
        new, why = label_detected_people(rgb, path, frame, detector, teacher, cfg)
        rows += new
        reasons.update(why)
        reasons["frames"] += 1
    return rows, reasons


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared-root", type=Path, default=DEFAULT_SHARED_ROOT)
    ap.add_argument("--sources", nargs="+", choices=SOURCES, default=list(SOURCES))
    ap.add_argument("--out-dir", type=Path, default=LABEL_DIR)
    ap.add_argument("--video-step", type=int, default=3, help="label every n-th video frame")
    ap.add_argument("--frame-cache", type=Path, default=DEFAULT_FRAME_CACHE)
    ap.add_argument(
        "--max-video-frames", type=int, default=120, help="labelled frames per train/ clip"
    )
    ap.add_argument("--limit", type=int, default=0, help="frames/images per source (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    try:
        root = require_shared_root(args.shared_root)
    except SharedDataMissingError as exc:
        ap.error(str(exc))
    model = root / "models" / "blazepose" / "pose_landmark_heavy.tflite"
    detector = BlazePoseDetector(DetectorConfig(num_threads=args.threads))
    teacher = BlazePoseLandmarker(TeacherConfig(model_path=model, num_threads=args.threads))
    cfg = LabelConfig()
    stats_path = args.out_dir / "label_stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.is_file() else {}
    for source in args.sources:
        start = time.time()
        rows, reasons = label_source(root, source, args, detector, teacher, cfg)
        labels = stack_labels(rows, cfg.mask_size)
        summary = {
            "persons": len(labels),
            "with_mask": int(labels.has_mask.sum()),
            "images": len(set(zip(labels.image.tolist(), labels.frame.tolist(), strict=True))),
            "side_conflicts": int(labels.side_conflict.sum()),
            "reasons": dict(sorted(reasons.items())),
            "seconds": round(time.time() - start, 1),
        }
        meta = {
            "source": source,
            "teacher": model.name,
            "detector": "pose_detection.tflite (meshpose_core.detection, windows=2)",
            "video_step": args.video_step if "videos" in source else None,
            "max_video_frames": args.max_video_frames if source.endswith("_videos") else None,
            "limit": args.limit,
            "quality": vars(cfg.quality),
            "summary": summary,
        }
        out = args.out_dir / f"{source}.npz"
        save_labels(out, labels, meta)
        summary["file_kb"] = round(out.stat().st_size / 1024, 1)
        stats[source] = summary
        print(source, json.dumps(summary), flush=True)
    stats_path.write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
