"""Mesh integrity statistic (meshpose_core.eval.integrity)."""

from __future__ import annotations

import numpy as np

from meshpose_core.eval.integrity import BROKEN_EDGE_RATIO, edge_stretch, is_broken
from meshpose_core.topology import Topology


def test_bodies_pass_and_spikes_fail():
    t = Topology.load("high")
    front = t.vertices[:, :2] * [1.0, -1.0] * 300 + 50  # any scale and offset
    side = t.vertices[:, [2, 1]] * [1.0, -1.0] * 80
    spike = front.copy()
    spike[100] += [0.0, 400.0]  # one vertex flown off
    bridge = front.copy()
    bridge[t.vertex_part == 4] += [900.0, 0.0]  # a hand dragged onto someone else
    nan = front.copy()
    nan[5] = np.nan
    s = edge_stretch(np.stack([front, side, spike, bridge, nan]), t.vertices, t.edges)
    assert s[0] < 1.5 and s[1] < 1.5
    assert s[2] > 10 * BROKEN_EDGE_RATIO and s[3] > BROKEN_EDGE_RATIO
    assert np.isinf(s[4])
    assert is_broken(s).tolist() == [False, False, True, True, True]
