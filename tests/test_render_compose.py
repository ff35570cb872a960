"""Compositing (``compose.overlay``): opacity, soft masks, inputs untouched."""

from __future__ import annotations

import numpy as np

from meshpose_core.render import overlay


def test_overlay_opacity():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    layer = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    mask = np.zeros((6, 7), bool)
    mask[1:4, 2:6] = True
    np.testing.assert_array_equal(overlay(base, layer, mask, 0.0), base)
    full = overlay(base, layer, mask, 1.0)
    np.testing.assert_array_equal(full[mask], layer[mask])
    np.testing.assert_array_equal(full[~mask], base[~mask])
    half = overlay(base, layer, mask, 0.5)
    expected = np.rint((base[mask].astype(float) + layer[mask]) / 2.0)
    assert np.abs(half[mask].astype(float) - expected).max() <= 1.0
    soft = overlay(base, layer, mask.astype(np.float32) * 0.5, 1.0)
    np.testing.assert_array_equal(soft, half)
    assert overlay(base, layer, mask, 1.0) is not base
    np.testing.assert_array_equal(base, base.copy())  # input untouched
