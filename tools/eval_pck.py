"""PCK@0.1 of COCO joints on held-out real images: a MeshPose checkpoint vs BlazePose-heavy.

    python tools/eval_pck.py [--model CKPT] [--crop gt|gt-roi|detector] [--detector yolox|blazepose]
        [--sets lsp_eval coco ...]

Both models get the same crop of each annotated person (default 'gt': square around the
ground-truth box, margin 1.25; 'detector': the pipeline's first crop of the matched detection of
the product's person detector, YOLOX by default, or BlazePose's rotated ROI with
--detector blazepose), resampled to their input size; their joints are mapped back to the image and
scored against the visible ground truth (--min-visibility 1 adds occluded-but-labelled COCO
joints). PCK threshold = alpha x max(box w, h): annotated box where the set has one, else the
extent of the labelled joints. One table per run: people, joints, PCK per model, and how many
people fit a model better with left/right swapped (a convention check).

--silhouette adds silhouette IoU on the sets that outline people (COCO polygons: coco,
tiny_coco_*): each model's person mask in the crop (MeshPose: its high-poly mesh rasterised;
BlazePose: its segmentation > 0.5) against the ground-truth polygons warped into the same
crop; mean IoU and the number of people scored per model ('-' where a set has no outlines).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.data.real.paths import (  # noqa: E402
    DEFAULT_SHARED_ROOT,
    SharedDataMissingError,
    require_shared_root,
)
from meshpose_core.detection import (  # noqa: E402
    DEFAULT_PERSON_DETECTOR,
    PERSON_DETECTORS,
    DetectorConfig,
    YoloxConfig,
    create_person_detector,
)
from meshpose_core.eval.crops import CROP_MODES, DEFAULT_MARGIN  # noqa: E402
from meshpose_core.eval.eval_sets import EVAL_SETS  # noqa: E402
from meshpose_core.eval.models import BlazePoseKeypoints, KeypointModel, MeshPoseKeypoints  # noqa: E402
from meshpose_core.eval.runner import EvalSetScore, ModelScore, evaluate  # noqa: E402
from meshpose_core.pck import DEFAULT_ALPHA  # noqa: E402


def iou_cells(s: ModelScore) -> str:
    """Mean IoU (%) and people scored; '-' where none were."""
    iou = f"{100 * s.silhouette_iou:.1f}%" if s.silhouette_people else "-"
    return f"{iou:>8}{s.silhouette_people:>7d}"


def format_table(rows: list[EvalSetScore], names: list[str], silhouette: bool = False) -> str:
    """Plain-text table: one line per eval set, PCK (%) and side swaps per model (and with
    ``silhouette`` its mean IoU and how many people it was scored on)."""
    extra = f"{'IoU':>8}{'scored':>7}" if silhouette else ""
    head = f"{'set':<16}{'people':>7}{'cropped':>8}{'joints':>7}" + "".join(
        f"{'PCK ' + n:>22}{'L/R swaps':>10}{extra}" for n in names
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        first = r.scores[names[0]].result
        cells = "".join(
            f"{100 * r.scores[n].result.pck:>21.1f}%{r.scores[n].side_swaps:>10d}"
            + (iou_cells(r.scores[n]) if silhouette else "")
            for n in names
        )
        lines.append(f"{r.name:<16}{r.people:>7}{r.cropped:>8}{first.n_joints:>7}{cells}")
    return "\n".join(lines)


def model_json(s: ModelScore, silhouette: bool) -> dict[str, object]:
    """One model's results for --json (silhouette keys only with --silhouette; IoU null where
    nobody was scored)."""
    out: dict[str, object] = {
        "joints": s.result.n_joints,
        "correct": s.result.n_correct,
        "pck": s.result.pck,
        "side_swaps": s.side_swaps,
    }
    if silhouette:
        out["silhouette_iou"] = s.silhouette_iou if s.silhouette_people else None
        out["silhouette_people"] = s.silhouette_people
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="MeshPose checkpoint (.safetensors)")
    ap.add_argument("--blazepose", type=Path, help="landmark .tflite (default: shared heavy)")
    ap.add_argument("--no-blazepose", action="store_true")
    ap.add_argument("--shared-root", type=Path, default=DEFAULT_SHARED_ROOT)
    ap.add_argument("--crop", choices=CROP_MODES, default="gt")
    ap.add_argument(
        "--detector",
        choices=PERSON_DETECTORS,
        default=DEFAULT_PERSON_DETECTOR,
        help="person detector of --crop detector (default: the pipeline's)",
    )
    ap.add_argument("--sets", nargs="+", choices=sorted(EVAL_SETS), default=list(EVAL_SETS))
    ap.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    ap.add_argument("--alpha", type=float, default=DEFAULT_ALPHA)
    ap.add_argument("--min-visibility", type=int, choices=(1, 2), default=2)
    ap.add_argument("--silhouette", action="store_true", help="also silhouette IoU vs polygons")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    try:
        root = require_shared_root(args.shared_root)
    except SharedDataMissingError as exc:
        ap.error(str(exc))
    models: list[KeypointModel] = []
    if args.model:
        models.append(MeshPoseKeypoints(args.model))
    if not args.no_blazepose:
        path = args.blazepose or root / "models" / "blazepose" / "pose_landmark_heavy.tflite"
        models.append(BlazePoseKeypoints(path, threads=args.threads))
    if not models:
        ap.error("nothing to evaluate: pass --model and/or keep BlazePose")
    detector = (
        create_person_detector(
            args.detector,
            DetectorConfig(num_threads=args.threads),
            YoloxConfig(num_threads=args.threads),
        )
        if args.crop == "detector"
        else None
    )
    rows = []
    for name in args.sets:
        eval_set = EVAL_SETS[name](root)
        if eval_set.note:
            print(f"{name}: {eval_set.note}", file=sys.stderr)
        rows.append(
            evaluate(
                eval_set,
                models,
                root,
                args.crop,
                detector,
                args.margin,
                args.alpha,
                args.min_visibility,
                args.silhouette,
            )
        )
    names = [m.name for m in models]
    print(
        f"PCK@{args.alpha} crop={args.crop}"
        + (f" detector={args.detector}" if args.crop == "detector" else "")
        + f" margin={args.margin} "
        f"joints with visibility >= {args.min_visibility}"
    )
    print(format_table(rows, names, args.silhouette))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "settings": {k: str(v) for k, v in vars(args).items()},
                    "results": {
                        r.name: {
                            "people": r.people,
                            "cropped": r.cropped,
                            **{n: model_json(s, args.silhouette) for n, s in r.scores.items()},
                        }
                        for r in rows
                    },
                },
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
