"""Fitting outline scales: the search finds the widening that made the masks."""

from __future__ import annotations

import numpy as np

from meshpose_core.eval.outline_fit import fit_outline_scales, outline_iou
from meshpose_core.eval.silhouette import mesh_silhouette
from meshpose_core.predictor import Finisher
from meshpose_core.topology import Topology
from meshpose_core.topology.outline import GROUP_NAMES, OutlineWidening

SIZE = 96


def people(count: int) -> np.ndarray:
    """(count, 518, 3) the template in a few positions, sizes and tilts of a 96 px crop."""
    v = Topology.load("low").vertices.astype(np.float64)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        a, s = rng.uniform(-0.3, 0.3), rng.uniform(40, 50)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        xy = (np.stack([v[:, 0], -v[:, 1]], -1) @ rot.T) * s + rng.uniform(44, 52, 2)
        out.append(np.concatenate([xy, v[:, 2:] * s], -1))
    return np.stack(out).astype(np.float32)


def test_search_recovers_the_widening_of_the_masks() -> None:
    low, low_topo = people(4), Topology.load("low")
    faces, upsample = Topology.load("high").faces, Finisher().upsample
    truth = np.array([0.4 if g == "torso" else 0.0 for g in GROUP_NAMES])
    wide = upsample(OutlineWidening(truth, low_topo)(low))
    masks = np.stack([mesh_silhouette(v, faces, SIZE) for v in wide])
    fit = fit_outline_scales(low, masks, upsample, low_topo, faces, rounds=2)
    torso = GROUP_NAMES.index("torso")
    assert 0.25 <= fit.scales[torso] <= 0.55
    assert fit.fit_after > fit.fit_before and fit.check_after > fit.check_before
    assert fit.check_after > 0.95
    assert outline_iou(truth, low, masks, upsample, low_topo, faces) == 1.0
