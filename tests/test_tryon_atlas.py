"""Try-on ``atlas``: the repaired body atlas has almost no faces spanning a seam."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

import numpy as np
from tryon_helpers import topo  # noqa: F401

from meshpose_core.topology import Topology
from meshpose_core.tryon.atlas import BodyAtlas, seam_faces


def test_atlas_repair_removes_seam_spanning_faces(topo: Topology) -> None:
    before = seam_faces(topo.vertices, topo.faces, topo.corner_atlas_uv, topo.face_part)
    atlas = BodyAtlas.from_topology(topo)
    after = seam_faces(topo.vertices, topo.faces, atlas.corner_uv, topo.face_part)
    assert before.sum() > 1000 and after.sum() < 0.03 * before.sum()
    np.testing.assert_array_equal(atlas.corner_uv[~before], topo.corner_atlas_uv[~before])
