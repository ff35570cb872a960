"""Held-out evaluation on synthetic samples: 2D vertex error, PA-PVE, visibility accuracy,
IUV part accuracy and UV error at the annotated pixels."""

from __future__ import annotations

import numpy as np
import torch

from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.meshpose import MeshPoseNet
from meshpose_core.train.losses import crop_to_grid, sample_scores


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(V, 3) pred aligned to (V, 3) gt by the best similarity transform (rotation, scale,
    translation; Umeyama), the standard PA-MPVE protocol."""
    mp, mg = pred.mean(0), gt.mean(0)
    p, g = pred - mp, gt - mg
    u, s, vt = np.linalg.svd(p.T @ g)
    d = np.sign(np.linalg.det(u @ vt))
    corr = np.diag([1.0, 1.0, d])
    rot = u @ corr @ vt
    scale = (s * np.diag(corr)).sum() / max((p**2).sum(), 1e-12)
    return scale * p @ rot + mg


@torch.no_grad()
def evaluate(
    net: MeshPoseNet, batches: list[dict[str, torch.Tensor]], topo: TopologyArrays
) -> dict[str, float]:
    """Metrics over pre-collated batches (keys as the synthetic samples, images (B, 3, H, W)
    normalised, on the net's device)."""
    net.eval()
    err2d, pve, vis_acc, part_acc, uv_err = [], [], [], [], []
    for b in batches:
        raw = net(b["images"])
        out = net.decode(raw)
        v = out.vertices
        err2d.append((v[..., :2] - b["vertices"][..., :2]).norm(dim=-1).mean(1).cpu())
        for pv, gw in zip(
            v.cpu().double().numpy(), b["vertices_world"].cpu().double().numpy(), strict=True
        ):
            pve.append(np.linalg.norm(procrustes_align(pv, gw) - gw, axis=1).mean() * 1e3)
        vis_acc.append(((out.visibility > 0.5) == (b["visibility"] > 0.5)).float().mean(1).cpu())
        # dense: posterior at annotated pixels -> face with the largest summed posterior
        scores = raw.scores.float()
        pts = crop_to_grid(b["dp_points"], tuple(b["images"].shape[-2:]), scores.shape[-2:])
        q = sample_scores(scores, pts).softmax(-1)  # (B, P, V)
        face_score = q[..., topo.faces].sum(-1)  # (B, P, F)
        f_hat = face_score.argmax(-1)
        bary_hat = q.gather(-1, topo.faces[f_hat])  # (B, P, 3) posteriors of its corners
        bary_hat = bary_hat / bary_hat.sum(-1, keepdim=True).clamp_min(1e-12)
        uv_hat = (bary_hat[..., None] * topo.corner_part_uv[f_hat]).sum(-2)
        uv_gt = (b["dp_bary"][..., None] * topo.corner_part_uv[b["dp_face"]]).sum(-2)
        m = b["dp_mask"]
        same_part = topo.face_part[f_hat] == topo.face_part[b["dp_face"]]
        part_acc.append(same_part[m].float().cpu())
        uv_err.append((uv_hat - uv_gt).norm(dim=-1)[m & same_part].cpu())
    net.train()
    return {
        "vertex_2d_px": float(torch.cat(err2d).mean()),
        "pa_pve_mm": float(np.mean(pve)),
        "visibility_acc": float(torch.cat(vis_acc).mean()),
        "iuv_part_acc": float(torch.cat(part_acc).mean()),
        "iuv_uv_err": float(torch.cat(uv_err).mean()) if sum(len(u) for u in uv_err) else 0.0,
    }
