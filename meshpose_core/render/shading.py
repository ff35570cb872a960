"""Per-pixel images from ``Fragments``: attribute interpolation, shading, IUV and colour maps.

Pure numpy; every function returns new arrays. ``meshes`` arguments are the same
``[(vertices (V, 3) px, faces (F, 3) int)]`` list that was rasterised (index = ``mesh_id``).
Attribute arguments "per mesh" accept either one array per mesh or a single array shared by
every mesh (all people share one topology).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..topology.parts import NUM_PARTS
from .normals import vertex_normals
from .raster import Fragments, Mesh

# Direction from the surface toward the light, pixel frame (x right, y down, z away from the
# camera): from the camera side, a little above and to the left.
DEFAULT_LIGHT_DIR: tuple[float, float, float] = (-0.3, -0.5, -1.0)

# DensePose I index -> RGB. 0 = background (black); then the 24 parts in PART_NAMES order.
# Left/right counterparts get related hues, front/back of a part different lightness.
_PART_PALETTE = np.array(
    [
        (0, 0, 0),  # 0 background
        (38, 84, 166),  # 1 torso_back
        (86, 140, 230),  # 2 torso_front
        (230, 60, 60),  # 3 right_hand
        (250, 150, 40),  # 4 left_hand
        (140, 200, 40),  # 5 left_foot
        (40, 160, 80),  # 6 right_foot
        (150, 40, 120),  # 7 upper_leg_right_back
        (120, 60, 170),  # 8 upper_leg_left_back
        (220, 90, 190),  # 9 upper_leg_right_front
        (170, 120, 240),  # 10 upper_leg_left_front
        (120, 80, 30),  # 11 lower_leg_right_back
        (90, 110, 40),  # 12 lower_leg_left_back
        (200, 140, 80),  # 13 lower_leg_right_front
        (170, 190, 90),  # 14 lower_leg_left_front
        (40, 170, 170),  # 15 upper_arm_left_inside
        (60, 120, 120),  # 16 upper_arm_right_inside
        (120, 230, 220),  # 17 upper_arm_left_outside
        (100, 190, 160),  # 18 upper_arm_right_outside
        (200, 200, 40),  # 19 lower_arm_left_inside
        (160, 130, 20),  # 20 lower_arm_right_inside
        (250, 240, 130),  # 21 lower_arm_left_outside
        (230, 190, 90),  # 22 lower_arm_right_outside
        (250, 180, 170),  # 23 head_right
        (200, 120, 110),  # 24 head_left
    ],
    dtype=np.uint8,
)


def part_colors() -> np.ndarray:
    """The fixed part palette: (25, 3) uint8 RGB indexed by DensePose I (row 0 = background)."""
    return _PART_PALETTE.copy()


# -- attribute interpolation -------------------------------------------------------------------


AttrArg = Sequence[np.ndarray] | np.ndarray  # one array per mesh, or one shared by all


def _per_mesh(attrs: AttrArg, mesh_index: int) -> np.ndarray:
    return attrs if isinstance(attrs, np.ndarray) else np.asarray(attrs[mesh_index])


def _foreground_by_mesh(frags: Fragments) -> Iterator[tuple[int, np.ndarray]]:
    """(mesh index, flat pixel indices) for every mesh present in ``frags``."""
    flat = frags.mesh_id.reshape(-1)
    fg = np.flatnonzero(flat >= 0)
    if not len(fg):
        return
    ids = flat[fg]
    lo, hi = int(ids.min()), int(ids.max())
    if lo == hi:
        yield lo, fg
        return
    for m in range(lo, hi + 1):
        sel = fg[ids == m]
        if len(sel):
            yield m, sel


def _interpolate_foreground(
    frags: Fragments, corner_table: Callable[[int], np.ndarray], channels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate per-face corner tables at the covered pixels only.

    Args:
        corner_table: mesh index -> (F, 3, C) float32 corner values of that mesh.

    Returns:
        flat pixel indices (N,) and their interpolated values (N, C) float32.
    """
    face = frags.face_id.reshape(-1)
    bary = frags.bary.reshape(-1, 3)
    pix_parts, val_parts = [], []
    for m, pix in _foreground_by_mesh(frags):
        corners = corner_table(m)[face[pix]]  # (n, 3, C)
        pix_parts.append(pix)
        val_parts.append(np.einsum("nk,nkc->nc", bary[pix], corners))
    if not pix_parts:
        return np.empty(0, np.int64), np.empty((0, channels), np.float32)
    return np.concatenate(pix_parts), np.concatenate(val_parts)


def _to_image(frags: Fragments, pix: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    out = np.full((frags.height * frags.width, values.shape[1]), fill, np.float32)
    out[pix] = values
    return out.reshape(frags.height, frags.width, values.shape[1])


def _corner_tables(per_mesh_corner_attrs: AttrArg, channels: int) -> Callable[[int], np.ndarray]:
    def table(m: int) -> np.ndarray:
        attr = _per_mesh(per_mesh_corner_attrs, m)
        return attr.reshape(len(attr), 3, channels).astype(np.float32, copy=False)

    return table


def _vertex_tables(
    meshes: Sequence[Mesh], per_mesh_vertex_attrs: AttrArg, channels: int
) -> Callable[[int], np.ndarray]:
    def table(m: int) -> np.ndarray:
        attr = _per_mesh(per_mesh_vertex_attrs, m).reshape(-1, channels)
        # (F, 3, C) corner table first: then one gather of contiguous rows per pixel.
        return attr.astype(np.float32, copy=False)[np.asarray(meshes[m][1])]

    return table


def interpolate_corner_attr(
    frags: Fragments,
    per_mesh_corner_attrs: AttrArg,
    fill: float = 0.0,
) -> np.ndarray:
    """Interpolate per-corner attributes (seam-aware: a vertex may differ between its faces).

    Args:
        frags: rasterised fragments (H, W).
        per_mesh_corner_attrs: (F, 3, C) or (F, 3) per mesh, or one such array for all meshes.
        fill: value for background pixels.

    Returns:
        (H, W, C) float32 (C = 1 for (F, 3) input).
    """
    first = _per_mesh(per_mesh_corner_attrs, 0)
    channels = 1 if first.ndim == 2 else first.shape[2]
    table = _corner_tables(per_mesh_corner_attrs, channels)
    return _to_image(frags, *_interpolate_foreground(frags, table, channels), fill)


def interpolate_vertex_attr(
    frags: Fragments,
    meshes: Sequence[Mesh],
    per_mesh_vertex_attrs: AttrArg,
    fill: float = 0.0,
) -> np.ndarray:
    """Interpolate per-vertex attributes with the fragments' barycentrics.

    Args:
        frags: rasterised fragments (H, W).
        meshes: the rasterised meshes (only their faces are read).
        per_mesh_vertex_attrs: (V, C) or (V,) per mesh, or one such array for all meshes.
        fill: value for background pixels.

    Returns:
        (H, W, C) float32 (C = 1 for (V,) input).
    """
    first = _per_mesh(per_mesh_vertex_attrs, 0)
    channels = 1 if first.ndim == 1 else first.shape[1]
    table = _vertex_tables(meshes, per_mesh_vertex_attrs, channels)
    return _to_image(frags, *_interpolate_foreground(frags, table, channels), fill)


# -- shading -------------------------------------------------------------------------------


def shade_mesh(
    frags: Fragments,
    meshes: Sequence[Mesh],
    colors: Sequence[Sequence[float]] | np.ndarray,
    *,
    light_dir: Sequence[float] = DEFAULT_LIGHT_DIR,
    ambient: float = 0.35,
    diffuse: float = 0.65,
    normals: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Lambert + ambient shading with interpolated vertex normals, one colour per mesh.

    Args:
        frags: rasterised fragments (H, W).
        meshes: the rasterised meshes; normals come from their pixel-space vertices.
        colors: (M, 3) RGB in 0..255, one per mesh (index = mesh_id).
        light_dir: direction toward the light in the pixel frame (x right, y down, z away).
        ambient, diffuse: weights; intensity = ambient + diffuse * max(0, n . l), clipped to 1.
        normals: each mesh's (V, 3) unit vertex normals if the caller has them (a renderer
            with a precomputed ``normals.VertexNormals``: ~4x faster), else computed.

    Returns:
        (H, W, 3) uint8 RGB, black background (use ``frags.mask`` to composite).
    """
    col = np.asarray(colors, np.float32).reshape(-1, 3)
    if len(col) < len(meshes):
        raise ValueError(f"{len(col)} colours for {len(meshes)} meshes")
    light = np.asarray(light_dir, np.float32)
    light = light / max(float(np.linalg.norm(light)), 1e-12)
    if normals is None:
        normals = [vertex_normals(v, f) for v, f in meshes]
    pix, n = _interpolate_foreground(frags, _vertex_tables(meshes, normals, 3), 3)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    intensity = np.minimum(ambient + diffuse * np.maximum(n @ light, 0.0), 1.0)
    rgb = col[frags.mesh_id.reshape(-1)[pix]] * intensity[:, None]
    out = np.zeros((frags.height * frags.width, 3), np.uint8)
    out[pix] = np.clip(np.rint(rgb), 0, 255)
    return out.reshape(frags.height, frags.width, 3)


# -- DensePose IUV ---------------------------------------------------------------------------


def iuv_image(frags: Fragments, face_part: np.ndarray, corner_part_uv: np.ndarray) -> np.ndarray:
    """DensePose IUV image of the rasterised bodies (all meshes share one topology).

    Args:
        frags: rasterised fragments (H, W).
        face_part: (F,) int, DensePose part index I (1..24) of every face (flat, exact).
        corner_part_uv: (F, 3, 2) float, the part's (U, V) in [0, 1] at each face corner.

    Returns:
        (H, W, 3) uint8 in DensePose's array convention: channel 0 = I (0 = background,
        1..24 = part), channel 1 = round(U * 255), channel 2 = round(V * 255). Written with
        ``cv2.imwrite`` (which takes BGR) the PNG's blue = I, green = U, red = V, exactly like
        DensePose's own IUV PNGs; read back with ``cv2.imread`` it is this array again.
    """
    part = np.asarray(face_part)
    table = _corner_tables(np.asarray(corner_part_uv, np.float32), 2)
    pix, uv = _interpolate_foreground(frags, table, 2)
    out = np.zeros((frags.height * frags.width, 3), np.uint8)
    out[pix, 0] = part[frags.face_id.reshape(-1)[pix]]
    out[pix, 1:] = np.rint(np.clip(uv, 0.0, 1.0) * 255.0)
    return out.reshape(frags.height, frags.width, 3)


def _jet(t: np.ndarray) -> np.ndarray:
    """Jet colour map: (...,) in [0, 1] -> (..., 3) float32 RGB in [0, 1]."""
    t = np.clip(np.asarray(t, np.float32), 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], np.float32)  # red, green, blue peaks
    return np.clip(1.5 - np.abs(4.0 * t - 4.0 * centres), 0.0, 1.0)


def _isolines(levels: np.ndarray, part: np.ndarray) -> np.ndarray:
    """(H, W) bool: foreground pixels where ``levels`` changes to a right/lower neighbour of the
    same part (1-pixel contour lines between quantisation levels)."""
    fg = part > 0
    line = np.zeros(levels.shape, bool)
    line[:, :-1] |= fg[:, :-1] & (part[:, :-1] == part[:, 1:]) & (levels[:, :-1] != levels[:, 1:])
    line[:-1, :] |= fg[:-1, :] & (part[:-1, :] == part[1:, :]) & (levels[:-1, :] != levels[1:, :])
    return line


def iuv_colormap(iuv: np.ndarray, mode: str = "contour", levels: int = 10) -> np.ndarray:
    """DensePose-style visualisation of an IUV image.

    Args:
        iuv: (H, W, 3) uint8 in ``iuv_image``'s convention (I, U*255, V*255).
        mode: ``"contour"``: part colour (dimmed) with U and V isolines coloured by their value
            with a jet map, like DensePose's ``dp_contour``; ``"parts"``: flat part colours;
            ``"u"`` / ``"v"``: U or V through a jet map on the body, like ``dp_u`` / ``dp_v``.
        levels: number of U and V bands between isolines (``"contour"``).

    Returns:
        (H, W, 3) uint8 RGB, black background.
    """
    iuv = np.asarray(iuv)
    part = iuv[..., 0].astype(np.int64)
    if part.max(initial=0) > NUM_PARTS:
        raise ValueError(f"part index above {NUM_PARTS} in channel 0")
    fg = part > 0
    u = iuv[..., 1].astype(np.float32) / 255.0
    v = iuv[..., 2].astype(np.float32) / 255.0
    if mode == "parts":
        return _PART_PALETTE[part]
    if mode in ("u", "v"):
        rgb = _jet(u if mode == "u" else v) * 255.0
    elif mode == "contour":
        rgb = _PART_PALETTE[part].astype(np.float32) * 0.55
        q = max(int(levels), 1)
        for values in (u, v):
            line = _isolines(np.minimum((values * q).astype(np.int64), q - 1), part)
            rgb[line] = _jet(values[line]) * 255.0
    else:
        raise ValueError(f"unknown mode {mode!r}: use 'contour', 'parts', 'u' or 'v'")
    rgb[~fg] = 0.0
    return np.rint(rgb).astype(np.uint8)


def visibility_colormap(w: np.ndarray | float) -> np.ndarray:
    """Visibility weights in [0, 1] -> RGB: 1 green (0, 255, 0), 0.5 yellow, 0 red (255, 0, 0).

    Args:
        w: any shape; values are clipped to [0, 1]; NaN (unknown) maps to grey (128, 128, 128).

    Returns:
        ``w.shape + (3,)`` uint8 RGB.
    """
    w = np.asarray(w, np.float32)
    nan = np.isnan(w)
    c = np.clip(np.where(nan, 0.0, w), 0.0, 1.0)
    rgb = np.stack(
        [np.minimum(2.0 * (1.0 - c), 1.0), np.minimum(2.0 * c, 1.0), np.zeros_like(c)], axis=-1
    )
    out = np.rint(rgb * 255.0).astype(np.uint8)
    out[nan] = 128
    return out
