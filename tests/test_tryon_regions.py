"""Try-on ``regions``: an image placed on a body region changes only that region."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

import numpy as np
from scipy import ndimage
from tryon_helpers import H, W, front_view, layer, lib, topo  # noqa: F401

from meshpose_core.topology import Topology
from meshpose_core.tryon import GarmentLibrary, TryOnPerson
from meshpose_core.tryon.regions import REGIONS, region_faces


def test_texture_garment_changes_only_its_region(
    lib: GarmentLibrary, topo: Topology, layer
) -> None:
    img = np.zeros((64, 96, 4), np.uint8)
    img[...] = (250, 40, 40, 255)
    logo = lib.from_image(img, region="chest", width_fraction=0.9)
    body = front_view(topo.vertices)
    frame = np.full((H, W, 3), 90, np.uint8)
    out = layer.render(frame, [TryOnPerson(body, (logo,))])
    # > 1: the GL path returns 8-bit colour, and an alpha under half a step rounds to one
    changed = np.abs(out.astype(int) - frame).max(axis=2) > 1
    assert changed.sum() > 300
    rast = layer._rasterizer()
    px = body.copy()
    px[:, :2] += 0.5
    frags = rast.rasterize([(px, topo.faces)], W, H)
    in_region = region_faces(topo, REGIONS["chest"])[np.maximum(frags.face_id, 0)] & frags.mask
    # texture filtering (bilinear, mip level 2 at this size) may reach 2 px past the border
    grown = ndimage.binary_dilation(in_region, iterations=2)
    assert not (changed & ~grown).any()
    assert changed[in_region].mean() > 0.8
