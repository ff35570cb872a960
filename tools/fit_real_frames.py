"""Pseudo-ground-truth body fits for the labelled real people -> data/real/fits/<source>.npz.

    python tools/fit_real_frames.py [--sources lsp_train train_videos ...] [--limit N]

Fits the anny body (pose, shape, weak-perspective camera) to each person's joints and
silhouette (``meshpose_core.fitting``); every fit gets a joint error and a mask IoU, and
only fits that pass both are trained on. Interrupt it at any time: the next run resumes at
the batch where it stopped, with the same results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.data.real.paths import (  # noqa: E402
    DEFAULT_SHARED_ROOT,
    LABEL_DIR,
    SharedDataMissingError,
    require_shared_root,
)
from meshpose_core.fitting.fitter import BodyFitter, FitConfig  # noqa: E402
from meshpose_core.fitting.run import fit_label_file  # noqa: E402

FIT_DIR = LABEL_DIR / "fits"
SOURCES = ("train_videos", "lsp_train", "images", "upper_body", "videos", "train_photos",
           "heldout_videos")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared-root", type=Path, default=DEFAULT_SHARED_ROOT)
    ap.add_argument("--sources", nargs="+", default=list(SOURCES))
    ap.add_argument("--label-dir", type=Path, default=LABEL_DIR)
    ap.add_argument("--out-dir", type=Path, default=FIT_DIR)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--limit", type=int, default=0, help="people per source (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    try:
        root = require_shared_root(args.shared_root)
    except SharedDataMissingError as exc:
        ap.error(str(exc))
    torch.set_num_threads(args.threads)
    fitter = BodyFitter(FitConfig())
    for source in args.sources:
        label_file = args.label_dir / f"{source}.npz"
        if not label_file.is_file():
            print(f"{source}: no label file {label_file}, skipped", flush=True)
            continue
        fit_label_file(
            label_file,
            args.out_dir / f"{source}.npz",
            root,
            fitter,
            batch=args.batch,
            limit=args.limit,
            log=lambda m: print(m, flush=True),
        )


if __name__ == "__main__":
    main()
