"""Garment textures: premultiplied RGBA mip pyramids sampled bilinearly at per-pixel UVs.

Premultiplied so that bilinear filtering and mip reduction never bleed the colour of
transparent texels into a garment's edge. A whole person is drawn from one mip level, picked
from how many texels fall on one screen pixel at that person's size: a 1024² sheet on a
person 300 px tall would otherwise alias its stripes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from .atlas import uv_to_texel

_MAP_COLS = 1024


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 straight alpha -> premultiplied uint8."""
    rgba = np.asarray(rgba, np.uint8)
    out = rgba.copy()
    a = rgba[..., 3:4].astype(np.uint16)
    out[..., :3] = ((rgba[..., :3].astype(np.uint16) * a + 127) // 255).astype(np.uint8)
    return out


def fill_gutter(rgba: np.ndarray, island: np.ndarray, max_texels: float) -> np.ndarray:
    """Copy the nearest island texel into transparent texels outside the islands.

    Faces repaired into the gutter (``atlas.repair_atlas_uv``) sample there; this makes them
    continue their island's paint instead of fading out along every seam.

    Args:
        rgba: (H, W, 4) uint8 straight alpha; island: (H, W) bool; max_texels: reach.

    Returns:
        (H, W, 4) uint8, a new array.
    """
    target = ~island & (rgba[..., 3] == 0)
    if not target.any() or not island.any():
        return rgba.copy()
    dist, (ri, ci) = ndimage.distance_transform_edt(~island, return_indices=True)
    fill = target & (dist <= max_texels)
    out = rgba.copy()
    out[fill] = rgba[ri[fill], ci[fill]]
    return out


@dataclass(frozen=True, eq=False)
class Texture:
    """levels: premultiplied RGBA uint8 images, level 0 full size, each next half the size.

    ``texel_per_metre``: level-0 texels per metre of the garment's rest surface (sets the
    mip level for a person's size in pixels).
    """

    levels: tuple[np.ndarray, ...]
    texel_per_metre: float

    @classmethod
    def from_rgba(cls, rgba: np.ndarray, texel_per_metre: float, min_size: int = 8) -> Texture:
        """(H, W, 4) uint8 straight-alpha image -> texture with its mip pyramid."""
        levels = [premultiply(rgba)]
        while min(levels[-1].shape[:2]) >= 2 * min_size:
            levels.append(cv2.pyrDown(levels[-1]))
        return cls(levels=tuple(levels), texel_per_metre=float(texel_per_metre))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of level 0."""
        h, w = self.levels[0].shape[:2]
        return w, h

    def level_for(self, pixels_per_metre: float) -> int:
        """Mip level whose texels are closest to (not smaller than half) a screen pixel."""
        ratio = self.texel_per_metre / max(pixels_per_metre, 1e-6)
        level = int(np.floor(np.log2(max(ratio, 1.0)) + 0.5))
        return min(level, len(self.levels) - 1)

    def sample(self, uv: np.ndarray, level: int = 0) -> np.ndarray:
        """(N, 2) UV -> (N, 4) float32 premultiplied RGBA in [0, 1], bilinear, clamped."""
        img = self.levels[level]
        h, w = img.shape[:2]
        if not len(uv):
            return np.zeros((0, 4), np.float32)
        n = len(uv)
        rows = -(-n // _MAP_COLS)
        # cv2.remap maps must stay under 32767 on a side: fold the N samples into rows
        maps = np.zeros((2, rows * _MAP_COLS), np.float32)
        maps[:, :n] = (uv_to_texel(uv, w, h) - 0.5).T  # cv2 samples texel centres at integers
        maps = maps.reshape(2, rows, _MAP_COLS)
        out = cv2.remap(img, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(-1, 4)[:n].astype(np.float32) * np.float32(1.0 / 255.0)
