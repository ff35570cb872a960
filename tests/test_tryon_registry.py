"""Try-on ``registry`` and ``garment``: the shipped garments load once; unknown names and
unreadable or invalid files give one-line errors."""

# ruff: noqa: F811  (fixtures imported from tryon_helpers)
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tryon_helpers import MESH_GARMENTS, lib  # noqa: F401

from meshpose_core.tryon import (
    GarmentError,
    GarmentLibrary,
    MeshGarment,
    TextureGarment,
    list_garments,
    load_garment,
)


def test_shipped_garments_load(lib: GarmentLibrary) -> None:
    names = list_garments()
    assert set(MESH_GARMENTS) <= set(names)
    assert {"striped_tshirt", "patterned_leggings", "chest_logo"} <= set(names)
    assert "uv_template" not in names
    for name in names:
        g = lib.load(name)
        assert isinstance(g, (MeshGarment, TextureGarment)) and g.name == name
    assert lib.load("flared_skirt") is lib.load("flared_skirt")  # loaded once


def test_unknown_name_is_a_clear_one_line_error() -> None:
    with pytest.raises(GarmentError) as err:
        load_garment("ball_gown")
    msg = str(err.value)
    assert "ball_gown" in msg and "flared_skirt" in msg and "\n" not in msg


def test_unreadable_or_invalid_files(tmp_path: Path, lib: GarmentLibrary) -> None:
    bad_png = tmp_path / "broken.png"
    bad_png.write_bytes(b"\x89PNG not really")
    bad_npz = tmp_path / "broken.npz"
    bad_npz.write_bytes(b"PK garbage")
    np.savez(tmp_path / "old.npz", format_version=np.int32(99))
    for path, words in (
        (bad_png, "cannot read"),
        (tmp_path / "missing.png", "not found"),
        (bad_npz, "unreadable"),
        (tmp_path / "old.npz", "format version"),
    ):
        with pytest.raises(GarmentError) as err:
            lib.load(path)
        assert words in str(err.value) and str(path) in str(err.value)
        assert "\n" not in str(err.value)
    with pytest.raises(GarmentError, match="unknown region"):
        lib.from_image(np.zeros((32, 32, 3), np.uint8), region="elbow")
