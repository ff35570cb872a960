"""Procedural appearance: skin, clothing and hair colours per body part, texture noise,
lighting and backgrounds. No textures ship with anny, so everything is generated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshpose_core.topology import PART_NAMES

# Skin tones (RGB) spanning light to dark, jittered per sample.
SKIN_TONES = np.array(
    [[255, 224, 196], [241, 194, 158], [224, 172, 135], [198, 134, 96], [161, 102, 68],
     [121, 78, 50], [88, 57, 38], [60, 40, 28]], np.float32,
)  # fmt: skip


def _part_groups() -> dict[str, np.ndarray]:
    """I indices (1-based) of garment regions."""
    idx = {n: i + 1 for i, n in enumerate(PART_NAMES)}

    def sel(*words: str) -> np.ndarray:
        return np.array([i for n, i in idx.items() if any(w in n for w in words)])

    return {
        "torso": sel("torso"),
        "upper_arm": sel("upper_arm"),
        "lower_arm": sel("lower_arm"),
        "hand": sel("hand"),
        "upper_leg": sel("upper_leg"),
        "lower_leg": sel("lower_leg"),
        "foot": sel("foot"),
        "head": sel("head"),
    }


GROUPS = _part_groups()


def random_color(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour (3,) float32 RGB 0..255: mostly muted, sometimes saturated,
    sometimes near black/white."""
    kind = rng.random()
    if kind < 0.2:
        return np.full(3, rng.uniform(15, 60), np.float32)
    if kind < 0.3:
        return np.full(3, rng.uniform(200, 250), np.float32)
    hue = rng.uniform(0, 1)
    sat = rng.uniform(0.15, 0.9)
    val = rng.uniform(60, 235)
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6) % 6
    rgb = val * (1 - sat * np.clip(np.minimum(k, 4 - k), 0, 1))
    return rgb.astype(np.float32)


@dataclass(frozen=True)
class Appearance:
    """part_color (25, 3) RGB per DensePose part (row 0 unused), pattern strength, light."""

    part_color: np.ndarray
    stripe_period: float  # px; 0 = no stripes
    noise_strength: float
    light_dir: np.ndarray
    ambient: float


def random_appearance(rng: np.random.Generator) -> Appearance:
    """Skin on head and hands (and wherever garments stop), shirt with random sleeve length,
    trousers/shorts/skirt-like legs, shoes; hair-like darkening is added per pixel later."""
    skin = SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.9, 1.1, 3)
    shirt, trousers, shoes = random_color(rng), random_color(rng), random_color(rng)
    col = np.zeros((25, 3), np.float32)
    col[:] = skin
    col[GROUPS["torso"]] = shirt
    sleeve = rng.choice(["none", "short", "long"], p=[0.15, 0.4, 0.45])
    if sleeve != "none":
        col[GROUPS["upper_arm"]] = shirt
    if sleeve == "long":
        col[GROUPS["lower_arm"]] = shirt
    legs = rng.choice(["shorts", "long"], p=[0.3, 0.7])
    col[GROUPS["upper_leg"]] = trousers
    if legs == "long":
        col[GROUPS["lower_leg"]] = trousers
    if rng.random() < 0.9:
        col[GROUPS["foot"]] = shoes
    light = rng.normal(size=3) * np.array([1.0, 1.0, 0.5]) + np.array([0.0, 0.0, -1.5])
    return Appearance(
        part_color=np.clip(col, 0, 255),
        stripe_period=float(rng.choice([0.0, rng.uniform(4, 14)], p=[0.7, 0.3])),
        noise_strength=float(rng.uniform(0.0, 0.25)),
        light_dir=light / np.linalg.norm(light),
        ambient=float(rng.uniform(0.4, 0.75)),
    )


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """(H, W) value noise in [0, 1]: a random cells x cells grid, bilinearly upsampled."""
    h, w = shape
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    ys = np.linspace(0, cells, h, dtype=np.float32)
    xs = np.linspace(0, cells, w, dtype=np.float32)
    y0, x0 = np.minimum(ys.astype(int), cells - 1), np.minimum(xs.astype(int), cells - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    g = grid
    top = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    bot = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def random_background(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) uint8 procedural background: multi-scale coloured noise and a floor/wall
    split, so that the network cannot key on a flat backdrop."""
    h = shape[0]
    base = np.stack([random_color(rng) for _ in range(2)])
    t = sum(smooth_noise(rng, shape, c) * wt for c, wt in ((2, 0.5), (6, 0.3), (24, 0.2)))
    img = base[0] * t[..., None] + base[1] * (1 - t[..., None])
    if rng.random() < 0.5:  # horizon: floor of another colour
        horizon = int(rng.uniform(0.3, 0.9) * h)
        img[horizon:] = img[horizon:] * 0.5 + random_color(rng) * 0.5
    img += rng.normal(0, rng.uniform(0, 12), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)
