"""Compositing rendered layers onto video frames."""

from __future__ import annotations

import numpy as np
from numba import njit


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


@njit(cache=True, nogil=True)
def _over(rgba: np.ndarray, opacity: float, scaled: bool, frame: np.ndarray) -> None:
    """``frame = rgb + frame * (255 - a) / 255`` where ``a > 0``, cv2's rounding (to nearest,
    ties to even) and saturation; ``scaled``: ``rgba`` times ``opacity`` first, rounded."""
    for y in range(rgba.shape[0]):
        for x in range(rgba.shape[1]):
            a = np.float64(rgba[y, x, 3])
            if scaled:
                a = np.rint(a * opacity)
            if a == 0.0:
                continue
            keep = 255.0 - a
            for ch in range(3):
                c = np.float64(rgba[y, x, ch])
                if scaled:
                    c = np.rint(c * opacity)
                base = np.rint(frame[y, x, ch] * keep * (1.0 / 255.0))
                frame[y, x, ch] = np.uint8(min(base + c, 255.0))


def composite_premultiplied(frame: np.ndarray, rgba: np.ndarray, opacity: float = 1.0) -> None:
    """Blend a premultiplied RGBA8 layer over an RGB8 image of the same size (a frame's
    rectangle, a view), in place, at ``opacity`` in [0, 1]; pixels the layer leaves empty
    (alpha 0) are not touched, so a large mostly empty layer costs little."""
    if frame.shape[:2] != rgba.shape[:2] or rgba.shape[2:] != (4,) or frame.shape[2:] != (3,):
        raise ValueError(f"a {rgba.shape} RGBA layer over a {frame.shape} RGB image")
    opacity = float(np.clip(opacity, 0.0, 1.0))
    _over(rgba, opacity, opacity < 1.0, frame)
