"""Fit a checkpoint's outline scales to training people's masks -> its config.

    python tools/fit_outline_margin.py --model weights/meshpose_xs_bp.safetensors [--write]

Runs the network on the masked training people of data/real (never the held-out clips or
the evaluation sets), each cropped on the ROI its teacher mask is aligned with, and searches
the per-part widening (``topology.outline``) that makes the rendered mesh cover the masks
best (``eval.outline_fit``). ``--write`` stores the scales in the checkpoint's config
(``MeshPoseConfig.outline_scales``) and the figures in its card; the weights are unchanged.
About 5 minutes on 2 cores for the default 600 people. Needs ../shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.data.real.crop import warp_crop  # noqa: E402
from meshpose_core.data.real.labels import load_labels, roi_from_array, unpack_mask  # noqa: E402
from meshpose_core.data.real.media import MediaReader  # noqa: E402
from meshpose_core.data.real.paths import (  # noqa: E402
    DEFAULT_SHARED_ROOT,
    LABEL_DIR,
    SharedDataMissingError,
    require_shared_root,
)
from meshpose_core.eval.outline_fit import fit_outline_scales  # noqa: E402
from meshpose_core.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from meshpose_core.predictor import MeshPose  # noqa: E402
from meshpose_core.topology import Topology  # noqa: E402
from meshpose_core.topology.outline import GROUP_NAMES  # noqa: E402

# training sources and how many masked people of each (video frames dominate the labels)
SOURCES = {"train_videos": 300, "lsp_train": 150, "videos": 60, "images": 40,
           "train_photos": 30, "upper_body": 20}  # fmt: skip


def collect(model: MeshPose, root: Path, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """-> body meshes (N, 518, 3) and masks (N, S, S) bool of the sampled training people."""
    rng = np.random.default_rng(seed)
    reader = MediaReader(root)
    size = model.input_size[0]
    low, masks = [], []
    for source, count in SOURCES.items():
        labels, _ = load_labels(LABEL_DIR / f"{source}.npz")
        rows = np.flatnonzero(labels.has_mask)
        for i in rng.choice(rows, min(count, len(rows)), replace=False):
            image = reader(str(labels.image[i]), int(labels.frame[i]))
            crop = warp_crop(image, roi_from_array(labels.mask_roi[i]), size)
            mask = unpack_mask(labels.mask[i]).astype(np.uint8)
            masks.append(cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST) > 0)
            low.append(model.infer(crop[None]).vertices[0])
    return np.stack(low), np.stack(masks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "weights/meshpose_xs_bp.safetensors")
    ap.add_argument("--shared-root", type=Path, default=DEFAULT_SHARED_ROOT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="store the scales in the checkpoint")
    args = ap.parse_args()
    try:
        root = require_shared_root(args.shared_root)
    except SharedDataMissingError as exc:
        ap.error(str(exc))
    model = MeshPose.from_pretrained(args.model, device="cpu", outline=False)
    low, masks = collect(model, root, args.seed)
    fit = fit_outline_scales(
        low, masks, model.finish.upsample, Topology.load("low"), Topology.load("high").faces
    )
    scales = dict(zip(GROUP_NAMES, fit.scales.round(3).tolist(), strict=True))
    print(f"{len(low)} training people; scales {scales}")
    print(
        f"mean IoU with the teacher masks: fitting half {fit.fit_before:.3f} -> "
        f"{fit.fit_after:.3f}, other half {fit.check_before:.3f} -> {fit.check_after:.3f}"
    )
    if args.write:
        net, card = load_checkpoint(args.model)
        net.cfg = dataclasses.replace(
            net.cfg, outline_scales=tuple(round(float(s), 4) for s in fit.scales)
        )
        card["outline"] = {
            "fitted_on": f"{len(low)} masked training people of data/real (teacher masks), "
            f"sources {SOURCES}, seed {args.seed} (tools/fit_outline_margin.py)",
            "teacher_mask_iou_other_half": [round(fit.check_before, 4), round(fit.check_after, 4)],
        }
        save_checkpoint(net, args.model, card)
        print(f"wrote outline_scales into {args.model}")


if __name__ == "__main__":
    main()
