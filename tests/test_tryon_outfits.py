"""Try-on ``outfits``: parsing, loading (``IMAGE@REGION``), cycling outfits over tracks."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from tryon_helpers import lib  # noqa: F401

from meshpose_core.tryon import (
    GarmentError,
    GarmentLibrary,
    OutfitCycle,
    TextureGarment,
    UnknownGarment,
    parse_outfit,
)


def test_outfits_parse_load_and_cycle(lib: GarmentLibrary, tmp_path: Path) -> None:
    assert parse_outfit("striped_tshirt + flared_skirt") == ("striped_tshirt", "flared_skirt")
    with pytest.raises(GarmentError, match="empty garment"):
        parse_outfit("striped_tshirt++flared_skirt")
    logo = tmp_path / "logo@2x.png"  # an @ in a file name is not a region
    assert cv2.imwrite(str(logo), np.full((30, 50, 3), 200, np.uint8))
    placed = lib.load(f"{logo}@back")
    assert isinstance(placed, TextureGarment) and placed.name == "logo@2x@back"
    assert placed.faces.sum() < 0.2 * len(placed.faces)
    assert isinstance(lib.load(logo), TextureGarment)  # the same file as an atlas texture
    with pytest.raises(UnknownGarment):
        lib.load("ball_gown@chest")
    cycle = OutfitCycle()
    assert cycle.assign([3, 1], 2) == [1, 0]  # appearing together: by id
    assert cycle.assign([1, 3, 7], 2) == [0, 1, 0]
    assert cycle.assign([7, 9], 2) == [0, 1]  # 3 gone: nobody changes clothes
    cycle.reset()
    assert cycle.assign([9], 2) == [0]
