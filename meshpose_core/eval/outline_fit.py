"""Fitting the outline scales (``topology.outline``) to people's masks.

The scales say how much wider than the predicted body people look (clothes, hair). They are
fitted where masks are plentiful and never evaluated on: the teacher masks of the training
people (``data/real``), with the network's own meshes in the masks' crops. A coordinate
search maximises the mean silhouette IoU of the widened high-poly mesh; it is small (eight
numbers) and deterministic, and half of the people are kept aside to report the gain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from meshpose_core.topology import Topology
from meshpose_core.topology.outline import GROUP_NAMES, OutlineWidening

from .silhouette import mesh_silhouette, silhouette_iou


@dataclass(frozen=True)
class OutlineFit:
    """The fitted scales (G,) per ``GROUP_NAMES`` and mean IoU before / after on the fitting
    half and the other half."""

    scales: np.ndarray
    fit_before: float
    fit_after: float
    check_before: float
    check_after: float


def outline_iou(
    scales: np.ndarray,
    low: np.ndarray,
    masks: np.ndarray,
    upsample: Callable[[np.ndarray], np.ndarray],
    topology: Topology,
    faces: np.ndarray,
) -> float:
    """Mean IoU of the widened meshes' silhouettes with the masks.

    Args:
        scales: (G,) outline scales; low: (N, V, >=2) body meshes in crop px;
        masks: (N, S, S) bool person masks in the same crops; upsample: low -> high-poly
        vertices; faces: (F, 3) of the high-poly level.
    """
    high = upsample(OutlineWidening(scales, topology)(low))
    size = masks.shape[-1]
    ious = [
        silhouette_iou(mesh_silhouette(v, faces, size), m) for v, m in zip(high, masks, strict=True)
    ]
    return float(np.mean(ious))


def fit_outline_scales(
    low: np.ndarray,
    masks: np.ndarray,
    upsample: Callable[[np.ndarray], np.ndarray],
    topology: Topology,
    faces: np.ndarray,
    step: float = 0.2,
    rounds: int = 3,
) -> OutlineFit:
    """Coordinate search from zero: each group's scale moves by ``step`` while the IoU on
    the even-indexed people rises, then the step halves; the odd-indexed people report.
    low (N, V, >=2) body meshes and masks (N, S, S) bool, as in ``outline_iou``; the fit's
    scales are (G,)."""
    fit, check = np.arange(0, len(low), 2), np.arange(1, len(low), 2)

    def score(s: np.ndarray, rows: np.ndarray) -> float:
        return outline_iou(s, low[rows], masks[rows], upsample, topology, faces)

    scales = np.zeros(len(GROUP_NAMES))
    best = before = score(scales, fit)
    for _ in range(rounds):
        for g in range(len(scales)):
            for delta in (step, -step):
                while True:
                    trial = scales.copy()
                    trial[g] = max(trial[g] + delta, -0.5)  # at most halve a part's width
                    value = score(trial, fit)
                    if value <= best + 1e-4:
                        break
                    scales, best = trial, value
        step /= 2
    return OutlineFit(
        scales.astype(np.float32),
        before,
        best,
        score(np.zeros_like(scales), check) if len(check) else float("nan"),
        score(scales, check) if len(check) else float("nan"),
    )
