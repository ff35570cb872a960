"""How well the mesh covers real people: ``python -m meshpose_core.bench surface``.

Two held-out real sets, never trained on:

* people outlined by hand (tiny-COCO val/train, the COCO sample) and LSP's evaluation
  split: silhouette IoU of the rendered high-poly mesh against the human outline and PCK@0.1
  of the joints regressed from the mesh, next to BlazePose-heavy's segmentation IoU and PCK on
  the same crops (``eval.runner``, upright crops from the ground-truth joints); and the
  silhouette IoU of the *people found*: the outlined people YOLOX (the pipeline's detector
  for photos) finds, each in the crop the pipeline starts their track with (ground-truth
  joints crop a person the frame cuts to the few joints in view, which the product never
  does);
* the fitted frames of the held-out clips (``paths.HELD_OUT_VIDEOS``, kept fits only):
  per-vertex visibility accuracy against the fit's labels (its depth test and the person's
  mask), IUV part accuracy at the pixels where the fit and the mask agree (of the network's
  dense IUV, and of the IUV the pipeline draws from the mesh), and silhouette IoU
  with the teacher's mask.

On every predicted mesh: the mesh-integrity statistic the pipeline's mesh guard uses
(``topology.integrity.mesh_stretch``), its median and 99th percentile and the share of broken
meshes (above ``STRETCH_LIMIT``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from meshpose_core.data.real.paths import DEFAULT_SHARED_ROOT, LABEL_DIR
from meshpose_core.topology import Topology
from meshpose_core.topology.integrity import STRETCH_LIMIT, mesh_stretch

OUTLINED_SETS = ("tiny_coco_val", "tiny_coco_train", "coco")
PCK_SETS = ("lsp_eval", *OUTLINED_SETS)


@dataclass
class Integrity:
    """Collects ``mesh_stretch`` of every mesh a model predicts."""

    values: list[float] = field(default_factory=list)

    def add(self, vertices_high: np.ndarray) -> None:
        """(B, 6890, 3) meshes (crop px and relative depth, as the pipeline judges them)."""
        self.values += [mesh_stretch(v) for v in vertices_high]

    def summary(self) -> dict[str, float]:
        v = np.asarray(self.values)
        return {
            "meshes": int(v.size),
            "stretch_p50": float(np.median(v)) if v.size else float("nan"),
            "stretch_p99": float(np.percentile(v, 99)) if v.size else float("nan"),
            "broken_share": float((~(v <= STRETCH_LIMIT)).mean()) if v.size else float("nan"),
        }


def outlined_people(
    checkpoint: str,
    root: Path,
    sets: tuple[str, ...],
    integrity: Integrity,
    blazepose_sets: tuple[str, ...] = OUTLINED_SETS,
):
    """-> {set: {model: {pck, iou, people}}} on the human-annotated held-out sets;
    BlazePose-heavy runs beside MeshPose on ``blazepose_sets`` (its LSP figure, 65.5 %, is
    stored in data/real/eval_blazepose_heavy.json; rerunning it costs most of the time)."""
    from meshpose_core.detection import YoloxDetector
    from meshpose_core.eval.eval_sets import EVAL_SETS
    from meshpose_core.eval.models import BlazePoseKeypoints, MeshPoseKeypoints
    from meshpose_core.eval.runner import evaluate

    models = [
        MeshPoseKeypoints(checkpoint, on_prediction=lambda p: integrity.add(p.vertices_high)),
        BlazePoseKeypoints(root / "models/blazepose/pose_landmark_heavy.tflite"),
    ]
    detector = YoloxDetector()
    out = {}
    for name in sets:
        chosen = models if name in blazepose_sets else models[:1]
        eval_set = EVAL_SETS[name](root)
        score = evaluate(eval_set, chosen, root, mode="gt-roi", silhouette=True)
        found = (
            evaluate(eval_set, chosen, root, "detector", detector, silhouette=True).scores
            if name in OUTLINED_SETS
            else {}
        )
        out[name] = {}
        for m, s in score.scores.items():  # as each set finishes: a long run shows progress
            f = found.get(m)
            print(
                f"{name:16s} {m:16s} {s.result.pck:8.3f} {s.silhouette_iou:9.3f} "
                f"{s.silhouette_people:9d}"
                + (f" {f.found_silhouette_iou:9.3f} {f.found_people:6d}" if f else ""),
                flush=True,
            )
            out[name][m] = {
                "pck": s.result.pck,
                "silhouette_iou": s.silhouette_iou,
                "silhouette_people": s.silhouette_people,
                "people": score.people,
            }
            if f:
                out[name][m]["found_silhouette_iou"] = f.found_silhouette_iou
                out[name][m]["found_people"] = f.found_people
    return out


def heldout_fits(checkpoint: str, root: Path, limit: int, integrity: Integrity) -> dict:
    """Visibility and IUV part accuracy, mask IoU, on the held-out clips' kept fits."""
    from meshpose_core.data.real import CropParams, RealDataset, RealDatasetConfig
    from meshpose_core.eval.silhouette import mesh_fragments, silhouette_iou
    from meshpose_core.fitting.supervision import FitSupervision
    from meshpose_core.model.heads import FEATURE_STRIDE
    from meshpose_core.pipeline.layers import RenderConfig
    from meshpose_core.predictor import MeshPose
    from meshpose_core.render.foreground_fill import fill_to_foregrounds
    from meshpose_core.render.shading import iuv_image

    model = MeshPose.from_pretrained(checkpoint, device="cpu")
    size = int(model.input_size[0])
    ds = RealDataset(
        RealDatasetConfig(
            label_files=(LABEL_DIR / "heldout_videos.npz",),
            shared_root=root,
            crop_size=size,
            for_evaluation=True,
        ),
        supervision=FitSupervision(),  # data/real/fits
    )
    rows = [i for i in range(len(ds)) if ds.file_keys[i] in ds.fits]
    step = max(1, len(rows) // limit) if limit else 1
    rows = rows[::step][: limit or None]
    low, high = Topology.load("low"), Topology.load("high")
    vis_hits = vis_total = part_hits = part_total = mesh_part_hits = mesh_only_hits = 0
    identity = np.eye(2, 3)  # the crop is the frame
    fill = RenderConfig.iuv_fill_reach
    ious = []
    for start in range(0, len(rows), 16):
        samples = [ds.sample(i, CropParams()) for i in rows[start : start + 16]]
        pred = model.predict(np.stack([s["image"] for s in samples]), want_iuv=True)
        integrity.add(pred.vertices_high)
        for k, s in enumerate(samples):
            inside = (s["vertices"][:, :2] >= 0).all(1) & (s["vertices"][:, :2] < size).all(1)
            vis_hits += int(((pred.visibility[k] > 0.5) == (s["visibility"] > 0.5))[inside].sum())
            vis_total += int(inside.sum())
            iuv = pred.iuv[k]  # (3, h, w), stride size / h
            stride = size / iuv.shape[1]
            pts = s["dp_points"][s["dp_mask"]]
            cells = np.clip(((pts + 0.5) / stride).astype(int), 0, iuv.shape[1] - 1)
            part_pred = np.rint(iuv[0, cells[:, 1], cells[:, 0]]).astype(int)
            part_true = low.face_part[s["dp_face"][s["dp_mask"]]]
            part_hits += int((part_pred == part_true).sum())
            part_total += len(part_true)
            # the IUV the pipeline draws: the part of the mesh's front face at each pixel,
            # filled into the person's foreground (``RenderConfig.iuv_fill_reach``)
            frags = mesh_fragments(pred.vertices_high[k], high.faces, size)
            px = np.clip(np.rint(pts).astype(int), 0, size - 1)
            mesh_part = iuv_image(frags, high.face_part, high.corner_part_uv)[..., 0]
            mesh_only_hits += int((mesh_part[px[:, 1], px[:, 0]] == part_true).sum())
            drawn, _ = fill_to_foregrounds(
                frags, (0, size, 0, size), [pred.foreground[k]], [identity],
                [pred.vertices_high[k]], fill, FEATURE_STRIDE,
            )  # fmt: skip
            mesh_part = iuv_image(drawn, high.face_part, high.corner_part_uv)[..., 0]
            mesh_part_hits += int((mesh_part[px[:, 1], px[:, 0]] == part_true).sum())
            if s["silhouette_mask"]:
                ious.append(silhouette_iou(frags.mask, s["silhouette"]))
    return {
        "people": len(rows),
        "visibility_accuracy": vis_hits / max(vis_total, 1),
        "iuv_part_accuracy": part_hits / max(part_total, 1),
        "mesh_iuv_part_accuracy": mesh_part_hits / max(part_total, 1),
        "mesh_only_iuv_part_accuracy": mesh_only_hits / max(part_total, 1),
        "teacher_mask_iou": float(np.mean(ious)) if ious else float("nan"),
    }


def _pooled(outlined: dict, model: str, key: str, people: str) -> tuple[float, int]:
    """(mean of ``key`` over every set's people weighted by their ``people`` count, count)."""
    rows = [
        (s[key], s[people])
        for models in outlined.values()
        for m, s in models.items()
        if m == model and s.get(people)
    ]
    if not rows:
        return float("nan"), 0
    iou, n = np.array(rows).T
    return float((iou * n).sum() / n.sum()), int(n.sum())


def run(checkpoint: str, shared_root: Path = DEFAULT_SHARED_ROOT, limit: int = 200,
        sets: tuple[str, ...] = PCK_SETS, json_out: Path | None = None,
        blazepose_sets: tuple[str, ...] = OUTLINED_SETS) -> dict:  # fmt: skip
    t0 = time.time()
    integrity = Integrity()
    print(f"surface benchmark, {checkpoint} (held-out real people)")
    print(
        f"{'set':16s} {'model':16s} {'PCK@0.1':>8s} {'mask IoU':>9s} {'outlined':>9s} "
        f"{'found IoU':>9s} {'found':>6s}"
    )
    results = {
        "checkpoint": checkpoint,
        "outlined": outlined_people(checkpoint, shared_root, sets, integrity, blazepose_sets),
    }
    fits = LABEL_DIR / "fits" / "heldout_videos.npz"
    results["heldout_fits"] = (
        heldout_fits(checkpoint, shared_root, limit, integrity) if fits.is_file() else None
    )
    results["integrity"] = integrity.summary()
    results["seconds"] = round(time.time() - t0, 1)
    for model in ("MeshPose", "BlazePose-heavy"):
        for key, people, what in (
            ("silhouette_iou", "silhouette_people", "outlined people (ground-truth crops)"),
            ("found_silhouette_iou", "found_people", "outlined people found (YOLOX crops)"),
        ):
            iou, n = _pooled(results["outlined"], model, key, people)
            if n:
                results[f"{key}_{model}"] = iou
                print(f"{model} silhouette IoU over all {n} {what}: {iou:.3f}")
    if "silhouette_iou_MeshPose" in results:
        results["outlined_mean_iou"] = results["silhouette_iou_MeshPose"]
    if results["heldout_fits"]:
        h = results["heldout_fits"]
        print(
            f"held-out clips, {h['people']} fitted people: visibility accuracy "
            f"{h['visibility_accuracy']:.3f}, IUV part accuracy: network "
            f"{h['iuv_part_accuracy']:.3f}, drawn by the pipeline "
            f"{h['mesh_iuv_part_accuracy']:.3f} "
            f"(the mesh alone {h['mesh_only_iuv_part_accuracy']:.3f}), "
            f"IoU with the teacher's mask {h['teacher_mask_iou']:.3f}"
        )
    i = results["integrity"]
    print(
        f"mesh integrity over {i['meshes']} meshes: edge stretch p50 {i['stretch_p50']:.2f}, "
        f"p99 {i['stretch_p99']:.2f}, broken (> {STRETCH_LIMIT:g}) {100 * i['broken_share']:.2f} %"
    )
    if json_out:
        json_out.write_text(json.dumps(results, indent=1) + "\n")
    return results
