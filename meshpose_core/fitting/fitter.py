"""Batched body fits to real people: pseudo-ground-truth meshes (EFT / SMPLify-style).

Each person's anny body (pose of the library bones, global rotation, the leading shape
coefficients) is seen by a weak-perspective camera in the person's fit frame
(``evidence.FIT_SIZE`` px): ``p = s * (C R X)[:2] + t`` with C = diag(1, -1, -1) (the canonical
body facing the camera, image y down) and depth ``s * (C R X)[2]`` (px, larger = farther).
One Adam run fits a whole batch; the terms are in units of the person's size so one weighting
serves every photo. Stage one places the body on the torso joints (rotation, scale,
translation); stage two fits everything to joints and silhouette under the priors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from meshpose_core.render import create_rasterizer
from meshpose_core.topology import NUM_COCO, Topology

from .evidence import FIT_SIZE, Evidence
from .priors import PosePrior, shape_energy
from .subset_body import SubsetBody

FIT_VERSION = 1
CAMERA_FLIP = torch.tensor([1.0, -1.0, -1.0])  # canonical -> camera axes (facing the camera)
TORSO = (5, 6, 11, 12)  # COCO shoulders and hips
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = TORSO


@dataclass(frozen=True)
class FitConfig:
    """Iterations per stage, Adam step, term weights (see module docstring), joint error
    scale (fraction of the person's size), silhouette slack (fit px) and acceptance."""

    shape_components: int = 10
    placement_steps: int = 30
    fit_steps: int = 90
    lr: float = 0.04
    joint_sigma: float = 0.03
    w_joints: float = 1.0
    w_inside: float = 4.0
    w_cover: float = 1.0
    w_pose: float = 0.01
    w_shape: float = 0.005
    w_temporal: float = 0.5
    cover_slack_px: float = 2.5
    max_joint_error: float = 0.06  # mean joint error / person size
    min_mask_iou: float = 0.6
    min_joints: int = 8


@dataclass(frozen=True, eq=False)
class BodyFits:
    """Fitted parameters (N people): shape (N, S') coefficients, pose (N, K, 3) library-bone
    axis-angles, global_rotation (N, 3), scale (N,) px per metre, translation (N, 2) fit px;
    quality: joint_error (N,) mean joint distance / person size, mask_iou (N,) of the fitted
    silhouette with the person's mask inside the image, kept (N,) bool."""

    shape: np.ndarray
    pose: np.ndarray
    global_rotation: np.ndarray
    scale: np.ndarray
    translation: np.ndarray
    joint_error: np.ndarray
    mask_iou: np.ndarray
    kept: np.ndarray


def project(vertices: torch.Tensor, scale: torch.Tensor, translation: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) canonical metres (already rotated), (B,), (B, 2) -> (B, V, 3) fit px x, y and
    depth px."""
    cam = vertices * CAMERA_FLIP.to(vertices)
    xy = cam[..., :2] * scale[:, None, None] + translation[:, None]
    return torch.cat([xy, cam[..., 2:] * scale[:, None, None]], -1)


def initial_placement(
    template_keypoints: np.ndarray, keypoints: np.ndarray, conf: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(17, 3) rest-pose body keypoints (canonical m), (N, 17, 2) and (N, 17) observed ->
    yaw (N,) (0: facing the camera, pi: seen from the back, from which side the person's left
    shoulder/hip appears), scale (N,) from the torso height, translation (N, 2)."""
    t_mid_sh = template_keypoints[[L_SHOULDER, R_SHOULDER]].mean(0)
    t_mid_hip = template_keypoints[[L_HIP, R_HIP]].mean(0)
    t_torso = np.linalg.norm((t_mid_sh - t_mid_hip)[:2])
    ok = conf >= 0.5
    mid_sh = (keypoints[:, L_SHOULDER] + keypoints[:, R_SHOULDER]) / 2
    mid_hip = (keypoints[:, L_HIP] + keypoints[:, R_HIP]) / 2
    torso = np.linalg.norm(mid_sh - mid_hip, axis=1)
    side = (keypoints[:, L_SHOULDER, 0] - keypoints[:, R_SHOULDER, 0]) * (
        ok[:, L_SHOULDER] & ok[:, R_SHOULDER]
    ) + (keypoints[:, L_HIP, 0] - keypoints[:, R_HIP, 0]) * (ok[:, L_HIP] & ok[:, R_HIP])
    yaw = np.where(side >= 0, 0.0, np.pi)
    # people without a usable torso: assume they fill about 60 % of the fit frame
    valid_torso = ok[:, TORSO].all(1) & (torso > 2)
    scale = np.where(valid_torso, torso / t_torso, 0.6 * FIT_SIZE / 1.7)
    hip = np.where(valid_torso[:, None], mid_hip, FIT_SIZE / 2)
    translation = hip - scale[:, None] * t_mid_hip[:2] * np.array([1.0, -1.0])
    return yaw, scale, translation


class BodyFitter:
    """Fits batches of people; owns the subset body, the priors and a rasterizer (for the
    silhouette IoU that judges each fit)."""

    def __init__(self, config: FitConfig | None = None):
        self.config = config or FitConfig()
        # the silhouette terms use the 518 low-poly vertices (3x cheaper than the mid level);
        # the IoU that judges a fit renders the 1,723-vertex mid level
        self.body = SubsetBody(levels=("low", "mid"))
        self.fit_body = SubsetBody(self.body.full, levels=("low",))
        self.prior = PosePrior.from_library()
        low = Topology.load("low")
        self.landmarks = torch.as_tensor(low.landmark_matrix[:NUM_COCO])  # (17, 518)
        self.mid_faces = Topology.load("mid").faces.astype(np.int64)
        self._rast = None
        with torch.no_grad():
            rest = self.body(
                torch.zeros(1, self.config.shape_components),
                self.prior.mean[None],
                torch.zeros(1, 3),
            )
        self.template_keypoints = (self.landmarks @ rest.low[0]).numpy()

    @property
    def rasterizer(self):
        if self._rast is None:
            self._rast = create_rasterizer("auto")
        return self._rast

    def fit(self, ev: Evidence, links: np.ndarray | None = None) -> BodyFits:
        """Fit every person of ``ev``; ``links`` (L, 2) index pairs of the same person in
        consecutive frames (temporal smoothness of pose, shape and rotation)."""
        cfg = self.config
        n = len(ev)
        kp = torch.as_tensor(ev.keypoints)
        conf = torch.as_tensor(ev.conf) * (torch.as_tensor(ev.conf) >= 0.3)
        size = torch.as_tensor(ev.size)
        dist = torch.as_tensor(ev.outside_distance)[:, None]  # (N, 1, F, F)
        points = torch.as_tensor(ev.mask_points)
        yaw, s0, t0 = initial_placement(self.template_keypoints, ev.keypoints, ev.conf)
        rot = torch.zeros(n, 3)
        rot[:, 1] = torch.as_tensor(yaw, dtype=torch.float32)
        rot.requires_grad_(True)
        log_s = torch.log(torch.as_tensor(s0, dtype=torch.float32)).requires_grad_(True)
        trans = torch.as_tensor(t0, dtype=torch.float32).requires_grad_(True)
        pose = self.prior.mean.expand(n, -1, -1).clone().requires_grad_(True)
        shape_z = torch.zeros(n, cfg.shape_components, requires_grad=True)
        std = self.body.full.shape_std[: cfg.shape_components]
        links_t = torch.as_tensor(
            links if links is not None else np.zeros((0, 2)), dtype=torch.long
        )
        torso_w = torch.zeros(NUM_COCO)
        torso_w[list(TORSO)] = 1.0

        def energy(full: bool) -> torch.Tensor:
            levels = self.fit_body(shape_z * std, pose, rot)
            s = log_s.exp()
            low = project(levels.low, s, trans)
            joints = torch.einsum("kv,bvd->bkd", self.landmarks, low[..., :2])
            sq = ((joints - kp) ** 2).sum(-1) / (cfg.joint_sigma * size[:, None]) ** 2
            w = conf if full else conf * torso_w
            e_joint = (w * torch.log1p(sq)).sum(1) / w.sum(1).clamp(min=1e-6)
            if not full:
                return e_joint.sum()
            surface = low[..., :2]
            grid = (surface + 0.5) / FIT_SIZE * 2 - 1  # pixel centres -> grid_sample's [-1, 1]
            out = F.grid_sample(dist, grid[:, :, None], align_corners=False, padding_mode="border")
            e_in = ((out[:, 0, :, 0] / size[:, None]) ** 2).mean(1) * 100
            with torch.no_grad():  # which vertex is nearest: no gradient needed (cdist's is slow)
                nearest = torch.cdist(points, surface).argmin(-1)  # (N, P)
            closest = torch.gather(surface, 1, nearest[..., None].expand(-1, -1, 2))
            near = (points - closest).norm(dim=-1)
            gap = torch.relu(near - cfg.cover_slack_px) / (0.05 * size[:, None])
            e_cover = torch.log1p(gap**2).mean(1)
            e = (
                cfg.w_joints * e_joint
                + cfg.w_inside * e_in
                + cfg.w_cover * e_cover
                + cfg.w_pose * self.prior.energy(pose)
                + cfg.w_shape * shape_energy(shape_z)
            ).sum()
            if len(links_t):
                a, b = links_t[:, 0], links_t[:, 1]
                e = e + cfg.w_temporal * (
                    ((pose[a] - pose[b]) ** 2).mean((1, 2)).sum()
                    + ((shape_z[a] - shape_z[b]) ** 2).mean(1).sum() * 0.1
                )
            return e

        stage1 = torch.optim.Adam([rot, log_s, trans], lr=cfg.lr)
        for _ in range(cfg.placement_steps):
            stage1.zero_grad()
            energy(False).backward()
            stage1.step()
        stage2 = torch.optim.Adam([rot, log_s, trans, pose, shape_z], lr=cfg.lr)
        for step in range(cfg.fit_steps):
            for g in stage2.param_groups:  # anneal: large moves first, then settle
                g["lr"] = cfg.lr * (0.3 if step > cfg.fit_steps * 0.7 else 1.0)
            stage2.zero_grad()
            energy(True).backward()
            stage2.step()
        with torch.no_grad():
            shape = (shape_z * std).numpy()
            fits = dict(
                shape=shape,
                pose=pose.numpy().copy(),
                global_rotation=rot.numpy().copy(),
                scale=log_s.exp().numpy().copy(),
                translation=trans.numpy().copy(),
            )
        err, iou = self.quality(fits, ev)
        labelled = (ev.conf >= 0.5).sum(1)
        kept = (err <= cfg.max_joint_error) & (iou >= cfg.min_mask_iou)
        kept &= labelled >= cfg.min_joints
        return BodyFits(**fits, joint_error=err, mask_iou=iou, kept=kept)

    def posed(self, fits: Mapping[str, np.ndarray] | BodyFits) -> tuple[np.ndarray, np.ndarray]:
        """Fitted people -> low (N, 518, 3) and mid (N, 1723, 3) in fit px with depth."""
        levels, _ = pose_fitted(self.body, fits)
        return levels["low"], levels["mid"]

    def quality(self, fits: dict[str, np.ndarray], ev: Evidence) -> tuple[np.ndarray, np.ndarray]:
        """-> mean joint error / person size over confident joints (N,), and the IoU of the
        rendered mid-level body with the mask inside the image (N,)."""
        low, mid = self.posed(fits)
        joints = np.einsum("kv,bvd->bkd", self.landmarks.numpy(), low[..., :2])
        ok = ev.conf >= 0.5
        d = np.linalg.norm(joints - ev.keypoints, axis=-1) / ev.size[:, None]
        err = (d * ok).sum(1) / np.maximum(ok.sum(1), 1)
        iou = np.zeros(len(ev), np.float32)
        for i in range(len(ev)):
            verts = mid[i].astype(np.float64)
            verts[:, :2] += 0.5  # pixel centres -> renderer coordinates
            frags = self.rasterizer.rasterize([(verts, self.mid_faces)], FIT_SIZE, FIT_SIZE)
            body = frags.mask & ev.valid[i]
            mask = ev.mask[i] & ev.valid[i]
            union = (body | mask).sum()
            iou[i] = (body & mask).sum() / union if union else 0.0
        return err.astype(np.float32), iou


def pose_fitted(
    body: SubsetBody, fits: Mapping[str, np.ndarray] | BodyFits, batch: int = 64
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Fitted people (``BodyFits`` fields, or a mapping of them) -> ({level: (N, V, 3) fit px
    x, y and depth px} for each level ``body`` was built with, (N, 518, 3) low-poly vertices
    in canonical metres, rotated but not placed). Batched, without gradients."""
    get = fits.__getitem__ if isinstance(fits, Mapping) else lambda k: getattr(fits, k)
    n = len(get("scale"))
    out: dict[str, list[np.ndarray]] = {level: [] for level in body.levels}
    world = []
    with torch.no_grad():
        for b in range(0, n, batch):
            sl = slice(b, b + batch)
            levels = body(
                torch.as_tensor(get("shape")[sl]),
                torch.as_tensor(get("pose")[sl]),
                torch.as_tensor(get("global_rotation")[sl]),
            )
            s = torch.as_tensor(get("scale")[sl])
            t = torch.as_tensor(get("translation")[sl])
            for level in body.levels:
                out[level].append(project(levels[level], s, t).numpy())
            world.append(levels.low.numpy())
    return {k: np.concatenate(v) for k, v in out.items()}, np.concatenate(world)


def config_record(cfg: FitConfig) -> dict:
    """The settings a fit store records (its results depend on them)."""
    return {"fit_version": FIT_VERSION, **asdict(cfg)}
