"""Compositing rendered layers onto video frames."""

from __future__ import annotations

import numpy as np


def overlay(
    base_rgb: np.ndarray,
    layer_rgb: np.ndarray,
    mask: np.ndarray,
    opacity: float = 1.0,
) -> np.ndarray:
    """Alpha-blend ``layer_rgb`` onto ``base_rgb`` where ``mask`` is set.

    ``out = base * (1 - a) + layer * a`` with ``a = opacity * mask``, rounded; pixels with
    ``a == 0`` keep ``base`` exactly and pixels with ``a == 1`` take ``layer`` exactly.

    Args:
        base_rgb: (H, W, C) uint8 frame (not modified).
        layer_rgb: (H, W, C) uint8 layer, e.g. a shaded render.
        mask: (H, W) bool coverage (e.g. ``frags.mask``) or float alpha in [0, 1].
        opacity: global layer opacity in [0, 1].

    Returns:
        (H, W, C) uint8, a new array.
    """
    base = np.asarray(base_rgb)
    layer = np.asarray(layer_rgb)
    mask = np.asarray(mask)
    if base.shape != layer.shape:
        raise ValueError(f"base {base.shape} and layer {layer.shape} differ in shape")
    if mask.shape != base.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not match the image {base.shape[:2]}")
    opacity = float(np.clip(opacity, 0.0, 1.0))
    out = base.copy()
    if mask.dtype == bool:
        idx = np.nonzero(mask) if opacity > 0.0 else None
        alpha = np.float32(opacity)
    else:
        a = np.clip(np.asarray(mask, np.float32), 0.0, 1.0) * np.float32(opacity)
        idx = np.nonzero(a > 0.0)
        alpha = a[idx][:, None] if base.ndim == 3 else a[idx]
    if idx is None or not len(idx[0]):
        return out
    b = base[idx].astype(np.float32)
    blended = b + (layer[idx].astype(np.float32) - b) * alpha
    out[idx] = np.clip(np.rint(blended), 0, 255).astype(base.dtype)
    return out
