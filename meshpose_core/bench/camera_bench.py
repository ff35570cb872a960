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
    n: int,
    seed: int = 0,
    shapes: str = "adults",
    fov_deg: float | None = None,
    distance_m: tuple[float, float] = (2.0, 9.0),
) -> Iterator[SyntheticPerson]:
    """``n`` random bodies (``_shapes``' kinds), poses of the pose library, cameras
    ``distance_m`` away at random directions, a ``fov_deg`` camera on a 640 x 480 frame."""
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
        offset = np.array(
            [rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3), rng.uniform(*distance_m)]
        )
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
    pairs = []
    for p in people:
        height = p.height_m if tell_height else None
        lifter = CameraLifter(CameraSpaceConfig(True, assumed_fov_deg, height))
        pairs.append((lifter(WIDTH, HEIGHT, p.low_px, p.high_px)[1], p.high_camera))
    return mesh_errors(pairs)


def mesh_errors(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """``camera_errors``' figures over (lifted, true) (V, 3) camera-metre mesh pairs."""
    depth, vertex, shape = [], [], []
    for high, truth in pairs:
        depth.append(abs(high[:, 2].mean() / truth[:, 2].mean() - 1) * 100)
        vertex.append(np.linalg.norm(high - truth, axis=1).mean() * 1e3)
        centred = (high - high.mean(0)) - (truth - truth.mean(0))
        shape.append(np.linalg.norm(centred, axis=1).mean() * 1e3)
    out = {}
    for name, values in (("depth_%", depth), ("vertex_mm", vertex), ("shape_mm", shape)):
        out[f"{name} median"] = float(np.median(values)) if values else float("nan")
        out[f"{name} p90"] = float(np.percentile(values, 90)) if values else float("nan")
    return out


def render_frame(person: SyntheticPerson, seed: int, fov_deg: float | None = None) -> np.ndarray:
    """(480, 640, 3) uint8 RGB picture of ``person`` as the training data draws bodies
    (procedural clothes and skin, lighting, a procedural background), with the frame's
    known camera (principal point at the centre)."""
    from meshpose_core.data.synthetic.appearance import random_appearance, random_background
    from meshpose_core.data.synthetic.dense_labels import HighToLow
    from meshpose_core.data.synthetic.sample import _colour
    from meshpose_core.render import rasterize

    rng = np.random.default_rng(seed)
    h2l = HighToLow.build()
    f = focal_px(WIDTH, HEIGHT, fov_deg)
    cam = PinholeCamera(np.eye(3), np.zeros(3), f, WIDTH / 2, HEIGHT / 2)
    px = cam.project(person.high_camera)
    px[:, 2] *= f / float(person.high_camera[:, 2].mean())  # depth in px: ordering only
    meshes = [(px, h2l.high.faces)]
    frags = rasterize(meshes, WIDTH, HEIGHT)
    colour = _colour(frags, meshes, [random_appearance(rng)], h2l, rng)
    background = random_background(rng, (HEIGHT, WIDTH)).astype(np.float32)
    image = np.where(frags.mask[..., None], colour, background)
    return np.clip(image, 0, 255).astype(np.uint8)


def network_errors(n: int, seed: int = 0, model: str | None = None) -> dict[str, float]:
    """``camera_errors``' figures for the network's own meshes: ``n`` adults 3.5-9 m away
    rendered as training pictures, run through ``MeshPoseLive`` with the true field of view
    and the template height assumed; ``missed``: people the pipeline did not find."""
    from meshpose_core.live import MeshPoseLive
    from meshpose_core.model.checkpoint import DEFAULT_MODEL

    people = list(synthetic_people(n, seed, "adults", None, (3.5, 9.0)))
    pairs = []
    with MeshPoseLive("image", model or DEFAULT_MODEL, camera_space=True, threads=1) as live:
        for i, p in enumerate(people):
            found = live(render_frame(p, seed * 1000 + i), color="rgb").people
            if not found:
                continue
            centre = p.high_px[:, :2].mean(0)
            best = min(found, key=lambda q: np.linalg.norm(q.vertices[:, :2].mean(0) - centre))
            assert best.vertices_camera is not None
            pairs.append((best.vertices_camera, p.high_camera))
    out = mesh_errors(pairs)
    out["missed"] = float(n - len(pairs))
    return out


def main(people: int = 300, seed: int = 0, network: int = 0) -> None:
    """Print the error table of docs/pipeline.md (``network`` > 0: also the shipped network
    on that many rendered frames)."""
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
    if network:
        e = network_errors(network, seed)
        print(
            f"{'shipped network, rendered adults 3.5-9 m':45s} depth {e['depth_% median']:5.1f} % "
            f"(p90 {e['depth_% p90']:5.1f}) vertex {e['vertex_mm median']:6.0f} mm "
            f"(p90 {e['vertex_mm p90']:6.0f}) shape {e['shape_mm median']:4.0f} mm "
            f"(p90 {e['shape_mm p90']:4.0f}); missed {e['missed']:.0f} of {network}"
        )
