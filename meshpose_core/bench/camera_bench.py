"""Error of camera-space meshes (``pipeline.camera_space``) on synthetic frames with known
cameras: posed bodies of the body model seen by random pinhole cameras, given to the lifter
exactly as the network's targets define its input (projected x, y; depth relative to the hip
midpoint in pixels), so the figures are the error of the lifting's assumptions (body size,
field of view, pose-independent edge lengths), not of the network.

    python -m meshpose_core.bench camera [--people 300]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from meshpose_core.body.body_model import BodyModel
from meshpose_core.body.poses import PoseLibrary
from meshpose_core.data.synthetic.camera import PinholeCamera, canonical_to_camera_rotation
from meshpose_core.data.synthetic.sample import HIP_KEYPOINTS
from meshpose_core.pipeline.camera_space import CameraLifter, CameraSpaceConfig, focal_px
from meshpose_core.topology import NUM_COCO, Topology

WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class SyntheticPerson:
    """One posed body seen by a known camera. low_px (518, 3) / high_px (6890, 3) in the
    network's image convention; high_camera (6890, 3) the truth in camera metres (x right,
    y down, z forward); height_m: the body's height in its reference pose."""

    low_px: np.ndarray
    high_px: np.ndarray
    high_camera: np.ndarray
    height_m: float


def _shapes(body: BodyModel, gen: torch.Generator, n: int, kind: str) -> torch.Tensor:
    """'adults': anny samples 1.50-1.95 m tall (median 1.73 m); 'all': anny's samples (babies
    to 2.4 m)."""
    if kind == "all":
        return body.random_shapes(gen, n, empirical=True)
    picked: list[torch.Tensor] = []
    while sum(len(p) for p in picked) < n:
        s = body.random_shapes(gen, 4 * n, empirical=True)
        heights = _rest_heights(body, s)
        picked.append(s[torch.from_numpy((heights >= 1.5) & (heights <= 1.95))])
    return torch.cat(picked)[:n]


def _rest_heights(body: BodyModel, shapes: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        rest = body.to_level(body(shapes, None), "low").numpy()
    return np.ptp(rest[:, :, 1], axis=1)


def synthetic_people(
    n: int, seed: int = 0, shapes: str = "adults", fov_deg: float | None = None
) -> Iterator[SyntheticPerson]:
    """``n`` random bodies (``_shapes``' kinds), poses of the pose library, cameras 2-9 m
    away at random directions, a ``fov_deg`` camera on a 640 x 480 frame."""
    body, poses, low = BodyModel.load(), PoseLibrary.load(), Topology.load("low")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    coeffs = _shapes(body, gen, n, shapes)
    heights = _rest_heights(body, coeffs)
    pose = torch.from_numpy(poses.to_model(poses.sample(rng, n, 0.5, 0.0), body.bone_names))
    with torch.no_grad():
        full = body(coeffs, pose.float())
        lows = body.to_level(full, "low").double().numpy()
        highs = body.to_level(full, "high").double().numpy()
    f = focal_px(WIDTH, HEIGHT, fov_deg)
    lm_i, lm_w = low.landmark_index[:NUM_COCO], low.landmark_weight[:NUM_COCO]
    for i in range(n):
        rot = canonical_to_camera_rotation(
            rng.uniform(-180, 180), rng.uniform(-20, 25), rng.uniform(-12, 12)
        )
        offset = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3), rng.uniform(2, 9)])
        cam = PinholeCamera(rot, -rot @ lows[i].mean(0) + offset, f, WIDTH / 2, HEIGHT / 2)
        hips = np.einsum("ks,ksd->kd", lm_w, lows[i][lm_i])[list(HIP_KEYPOINTS)].mean(0)
        root_depth = cam.to_camera(hips)[2]

        def network_px(v: np.ndarray, cam: PinholeCamera = cam, d0: float = root_depth):
            q = cam.project(v)
            return np.concatenate([q[:, :2] - 0.5, ((q[:, 2] - d0) * f / d0)[:, None]], 1)

        yield SyntheticPerson(
            network_px(lows[i]), network_px(highs[i]), cam.to_camera(highs[i]), float(heights[i])
        )


def camera_errors(
    people: list[SyntheticPerson], assumed_fov_deg: float | None = None, tell_height: bool = False
) -> dict[str, float]:
    """Median / 90th-percentile errors of the lifted high meshes: ``depth_%`` (mean depth,
    relative), ``vertex_mm`` (per vertex, absolute), ``shape_mm`` (per vertex after removing
    each mesh's mean: the body itself, scale included)."""
    depth, vertex, shape = [], [], []
    for p in people:
        height = p.height_m if tell_height else None
        lifter = CameraLifter(CameraSpaceConfig(True, assumed_fov_deg, height))
        _, high = lifter(WIDTH, HEIGHT, p.low_px, p.high_px)
        truth = p.high_camera
        depth.append(abs(high[:, 2].mean() / truth[:, 2].mean() - 1) * 100)
        vertex.append(np.linalg.norm(high - truth, axis=1).mean() * 1e3)
        centred = (high - high.mean(0)) - (truth - truth.mean(0))
        shape.append(np.linalg.norm(centred, axis=1).mean() * 1e3)
    out = {}
    for name, values in (("depth_%", depth), ("vertex_mm", vertex), ("shape_mm", shape)):
        out[f"{name} median"] = float(np.median(values))
        out[f"{name} p90"] = float(np.percentile(values, 90))
    return out


def main(people: int = 300, seed: int = 0) -> None:
    """Print the error table of docs/pipeline.md."""
    cases = [
        ("adults 1.50-1.95 m, template size assumed", "adults", None, None, False),
        ("adults, true height given (--body-height)", "adults", None, None, True),
        ("adults, camera 65 deg, 53.13 deg assumed", "adults", 65.0, None, False),
        ("adults, camera 65 deg, --fov 65", "adults", 65.0, 65.0, False),
        ("anny's whole range (babies to 2.4 m)", "all", None, None, False),
    ]
    print(f"camera-space mesh error, {people} synthetic people per row, 640x480, 2-9 m")
    for label, shapes, true_fov, assumed, tell in cases:
        sample = list(synthetic_people(people, seed, shapes, true_fov))
        e = camera_errors(sample, assumed, tell)
        print(
            f"{label:45s} depth {e['depth_% median']:5.1f} % (p90 {e['depth_% p90']:5.1f}) "
            f"vertex {e['vertex_mm median']:6.0f} mm (p90 {e['vertex_mm p90']:6.0f}) "
            f"shape {e['shape_mm median']:4.0f} mm (p90 {e['shape_mm p90']:4.0f})"
        )
