"""VertexPose priors from BlazePose's pretrained keypoint heatmaps.

BlazePose-full's stride-4 head already localises 33 body landmarks on real people (its
heatmaps alone score ~61 % PCK@0.1 on held-out LSP at 192 px). Each low-poly vertex is
written as a convex combination of the landmarks it moves with (fitted on posed template
bodies); adding the same combination of the landmark *logit* maps to the vertex's score map
makes the spatial argsoftmax a product of experts whose mode lies at that combination of the
landmark positions (exact for Gaussian-shaped heatmaps). Training then starts from a mesh
that already follows real people and only has to learn the residual.

A convex mix cannot leave the landmarks' hull, so that mesh is a stick figure: limbs thin
tubes along the bones, the torso half the body's width. The *anchor* prior instead writes
each vertex as an affine mix of the decoded landmark positions (weights of any sign, summing
to one: translation-, scale- and rotation-equivariant), fitted on real people's body fits
(``fit_anchor_weights``), e.g. the outside of a shoulder at 1.2 x that shoulder - 0.2 x the
other. The head then scores each vertex with a Gaussian bump at its anchor
(``heads.VertexPoseHead``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from meshpose_core.data.real.joints import BLAZEPOSE_TO_COCO
from meshpose_core.npz_io import read_npz, require, write_npz
from meshpose_core.resources import weights_path
from meshpose_core.topology import KEYPOINT_NAMES, NUM_COCO

# BlazePose heatmap channel of each of our landmarker keypoints (KEYPOINT_NAMES order):
# the COCO-17 through the same mapping the teacher labels use, plus heels and foot tips
# (MediaPipe's 29/30 and 31/32). Channels 33..38 are auxiliary ROI points and stay unused.
BLAZEPOSE_CHANNEL: dict[str, int] = {
    **dict(zip(KEYPOINT_NAMES[:NUM_COCO], BLAZEPOSE_TO_COCO, strict=True)),
    "left_heel": 29, "right_heel": 30, "left_big_toe": 31, "right_big_toe": 32,
}  # fmt: skip
NUM_HEATMAPS = 39
DEFAULT_PRIOR_PATH = weights_path("blazepose_vertex_prior.npz")
DEFAULT_ANCHOR_PATH = weights_path("blazepose_anchor_prior.npz")
PRIOR_FORMAT_VERSION = 1


def prior_keypoints() -> tuple[list[int], list[int]]:
    """(indices into KEYPOINT_NAMES, their BlazePose channels) for the mapped keypoints."""
    pairs = [
        (i, BLAZEPOSE_CHANNEL[n]) for i, n in enumerate(KEYPOINT_NAMES) if n in BLAZEPOSE_CHANNEL
    ]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def fit_vertex_weights(
    vertices: np.ndarray, keypoints: np.ndarray, sum_weight: float = 1000.0
) -> np.ndarray:
    """Non-negative, sum-to-one weights writing each vertex as a mix of keypoints.

    vertices (N, V, 3), keypoints (N, K, 3) over N posed bodies (metres) -> (V, K) float64.
    Non-negativity keeps each vertex's product of experts sharp (no negative logit weights)
    and makes the fit sparse; sum to one (enforced by a row weighted ``sum_weight``) keeps
    the combined heatmap's sharpness that of a single landmark.
    """
    n, v, _ = vertices.shape
    k = keypoints.shape[1]
    design = keypoints.transpose(0, 2, 1).reshape(n * 3, k)  # (N*3, K)
    design = np.vstack([design, np.full((1, k), sum_weight)])
    weights = np.zeros((v, k))
    for i in range(v):
        target = np.append(vertices[:, i].reshape(n * 3), sum_weight)
        weights[i], _ = nnls(design, target)
    return weights


def fit_anchor_weights(
    vertices: np.ndarray,
    keypoints: np.ndarray,
    start: np.ndarray,
    ridge: float = 1e-3,
    landmarks: np.ndarray | None = None,
    consistency: float = 0.0,
) -> np.ndarray:
    """Affine weights writing each vertex as a mix of keypoint positions, fitted in 2D.

    vertices (N, V, 2) and keypoints (N, K, 2) in pixels over N people; start (V, K): the
    weights the ridge pulls towards (the convex prior), rows summing to one. Each person is
    centred on its keypoints' mean and scaled to unit RMS radius, so the fit sees shapes, not
    positions; the centred design leaves the all-ones direction to ``start``, so rows keep
    summing to one and the mix stays translation-equivariant. landmarks (K, V), consistency:
    also ask that the mesh's own keypoint regressor returns the keypoints
    (``landmarks @ W ~ I``): keypoints from the mesh then stay the landmarks' (closed form,
    a reweighting of the fitted rows). -> (V, K) float64.
    """
    centre = keypoints.mean(axis=1, keepdims=True)
    scale = keypoint_radius(keypoints)[:, None, None]
    k, v = (keypoints - centre) / scale, (vertices - centre) / scale
    design = k.transpose(0, 2, 1).reshape(-1, k.shape[1])  # (N*2, K): x rows, then y rows
    target = v.transpose(0, 2, 1).reshape(-1, v.shape[1])  # (N*2, V)
    gram = design.T @ design + ridge * design.shape[0] * np.eye(design.shape[1])
    weights = start + np.linalg.solve(gram, design.T @ (target - design @ start.T)).T
    if consistency > 0 and landmarks is not None:
        lhs = np.eye(weights.shape[0]) + consistency * landmarks.T @ landmarks
        weights = np.linalg.solve(lhs, weights + consistency * landmarks.T)
    return weights


def keypoint_radius(keypoints: np.ndarray) -> np.ndarray:
    """(N, K, 2) keypoints -> (N,) their RMS distance from their mean: a person's size that
    any crop scale or rotation leaves comparable."""
    centred = keypoints - keypoints.mean(axis=1, keepdims=True)
    return np.sqrt((centred**2).sum(axis=(1, 2)) / keypoints.shape[1])


def mix_error(weights: np.ndarray, keypoints: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """(V, K) weights, (N, K, 2) keypoints, (N, V, 2) vertices -> (N, V) distance of each
    vertex from its keypoint mix, in the keypoints' units (pixels)."""
    return np.linalg.norm(np.einsum("vk,nkd->nvd", weights, keypoints) - vertices, axis=-1)


def heatmap_prior(weights: np.ndarray, channels: list[int]) -> np.ndarray:
    """(V, K) keypoint weights + their heatmap channels -> (V, NUM_HEATMAPS) 1x1 conv matrix."""
    prior = np.zeros((weights.shape[0], NUM_HEATMAPS), np.float32)
    prior[:, channels] = weights
    return prior


def save_prior(path: Path, prior: np.ndarray) -> None:
    """Write ``prior`` (V, NUM_HEATMAPS) as float32, what ``load_prior`` reads."""
    write_npz(path, PRIOR_FORMAT_VERSION, {"prior": prior.astype(np.float32)})


def load_prior(path: Path | None = None) -> np.ndarray:
    """(V, NUM_HEATMAPS) float32, written by tools/fit_vertex_prior.py (the anchor prior's
    file, DEFAULT_ANCHOR_PATH, by its --from-fits mode)."""
    path = Path(path or DEFAULT_PRIOR_PATH)
    data = read_npz(path, PRIOR_FORMAT_VERSION, "re-run tools/fit_vertex_prior.py")
    (prior,) = require(data, path, "prior")
    return prior.astype(np.float32)
