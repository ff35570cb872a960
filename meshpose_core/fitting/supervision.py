"""Full MeshPose supervision for real people from their body fits (pseudo ground truth).

A kept fit (``fitter.py``) gives the person's whole body surface, so a real crop
can be supervised like a synthetic one (paper Sec. 4: COCO with mesh pseudo-GT):

* the 518 low-poly vertices in crop pixels, depth relative to the hips (pixels at the
  person's scale);
* per-vertex visibility from the fitted surface's own depth test *and* the person's mask: a
  vertex that lands outside the mask is hidden by something (another person, an object, the
  frame edge), which a body model alone cannot know;
* dense pixel -> (low face, barycentric) samples where the rendered fit and the person's mask
  agree, the DensePose-style annotations of the VertexPose branch.

Pixel conventions as in ``data.real.crop``; the renderer samples pixel centres at +0.5.
``FitSupervision`` is what ``RealDataset`` is handed by its caller (``data`` sits below
``fitting``, which reads its labels and crop geometry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from meshpose_core.body import BodyModel
from meshpose_core.data.real.crop import crop_to_image_points, image_to_crop_points
from meshpose_core.data.real.labels import load_labels, roi_from_array
from meshpose_core.data.real.paths import LABEL_DIR
from meshpose_core.data.synthetic.dense_labels import HighToLow
from meshpose_core.detection import RotatedRoi
from meshpose_core.render import Rasterizer, create_rasterizer

from .evidence import FIT_SIZE
from .fitter import pose_fitted
from .store import load_fits, select_fits
from .subset_body import SubsetBody

FIT_DIR = LABEL_DIR / "fits"
HIPS = (11, 12)


@dataclass(frozen=True)
class FitLabelConfig:
    """fit_dir: the fit stores (``<source>.npz``); dense_points per sample (as the synthetic
    data); visibility_tolerance_m (+ _px): how far behind the rendered surface a vertex may lie
    and still count as visible."""

    fit_dir: Path = FIT_DIR
    dense_points: int = 160
    visibility_tolerance_m: float = 0.02
    visibility_tolerance_px: float = 1.0


@dataclass(frozen=True, eq=False)
class FittedBody:
    """One person's posed fit: low (518, 3) and high (6890, 3) in fit px + depth px, low_world
    (518, 3) canonical metres (rotated, untranslated), scale (px/m in the fit frame), and the
    fit frame: mask_roi (4,) and its side fit_size."""

    low: np.ndarray
    high: np.ndarray
    low_world: np.ndarray
    scale: float
    mask_roi: np.ndarray
    fit_size: int


def load_kept_fits(
    label_files: Mapping[str, Path], fit_dir: Path = FIT_DIR
) -> dict[tuple[str, int], FittedBody]:
    """{source: label file} -> {(source, label file row): posed body} of every kept fit in
    ``fit_dir/<source>.npz`` (a store made from another version of the labels is refused)."""
    # posed once, batched, when a dataset loads: posing one person per sample cost more than
    # the rest of the sample
    body = SubsetBody(BodyModel.load(), levels=("low", "high"))
    out: dict[tuple[str, int], FittedBody] = {}
    for source, label_file in label_files.items():
        path = fit_dir / f"{source}.npz"
        if not path.is_file():
            continue
        rows, fits, _ = load_fits(path, label_file)
        mask_roi = load_labels(label_file)[0].mask_roi
        keep = np.flatnonzero(fits.kept)
        if not len(keep):
            continue
        levels, world = pose_fitted(body, select_fits(fits, keep))
        for k, r in enumerate(rows[keep]):
            out[(source, int(r))] = FittedBody(
                levels["low"][k], levels["high"][k], world[k], float(fits.scale[keep[k]]),
                mask_roi[r], FIT_SIZE,
            )  # fmt: skip
    return out


class FitSupervision:
    """Renders posed fits into training crops: the body fits as ``RealDataset`` takes them
    (its ``PersonSupervision``). The renderer is made on first use, in the data-loader worker
    that renders, and is never pickled: its rasterizer (GL where available) must stay in the
    thread that made it."""

    def __init__(self, config: FitLabelConfig | None = None) -> None:
        self.config = config or FitLabelConfig()

    def __getstate__(self) -> dict:
        return {"config": self.config}

    @cached_property
    def h2l(self) -> HighToLow:
        return HighToLow.build()

    @cached_property
    def rast(self) -> Rasterizer:
        return create_rasterizer("auto")

    def load(self, label_files: Mapping[str, Path]) -> dict[tuple[str, int], FittedBody]:
        """{source: label file} -> the posed kept fits of ``config.fit_dir``."""
        return load_kept_fits(label_files, self.config.fit_dir)

    def __call__(
        self,
        fit: FittedBody,
        crop_roi: RotatedRoi,
        size: int,
        flip: bool,
        silhouette: np.ndarray | None,
        rng: np.random.Generator,
    ) -> dict[str, np.ndarray]:
        """The fit's supervision in a size^2 crop of ``crop_roi`` (mirrored when ``flip``);
        ``silhouette`` (size, size) bool is the person's mask in that crop, if known."""
        cfg = self.config
        low_sym, high_sym = self.h2l.low.symmetry, self.h2l.high.symmetry
        low_fit, high_fit, low_world = fit.low, fit.high, fit.low_world
        mask_roi = roi_from_array(fit.mask_roi)
        # fit frame -> image -> crop; depth scales with the same factor as x and y
        factor = (mask_roi.size / fit.fit_size) * (size / crop_roi.size)

        def to_crop(v: np.ndarray) -> np.ndarray:
            xy = crop_to_image_points(mask_roi, fit.fit_size, v[:, :2])
            xy = image_to_crop_points(crop_roi, size, xy)
            return np.concatenate([xy, v[:, 2:] * factor], 1)

        low, high = to_crop(low_fit), to_crop(high_fit)
        if flip:  # a mirrored body: mirror x and give each vertex its partner's position
            low, high = low[low_sym], high[high_sym]
            low[:, 0], high[:, 0] = size - 1 - low[:, 0], size - 1 - high[:, 0]
            low_world = low_world[low_sym] * np.array([-1.0, 1.0, 1.0])
        root = (self.h2l.low.landmark_matrix[list(HIPS)] @ low[:, 2]).mean()
        render = high.copy()
        render[:, :2] += 0.5
        frags = self.rast.rasterize([(render, self.h2l.high.faces)], size, size)

        px = low[:, :2]
        inside = (px[:, 0] > -0.5) & (px[:, 0] < size - 0.5) & (px[:, 1] > -0.5)
        inside &= px[:, 1] < size - 0.5
        col = np.clip(np.rint(px[:, 0]).astype(int), 0, size - 1)
        row = np.clip(np.rint(px[:, 1]).astype(int), 0, size - 1)
        # the surface depth is sampled at the pixel centre, not at the vertex: allow the
        # depth change across half a pixel of a steep surface as well
        tol = cfg.visibility_tolerance_m * fit.scale * factor + cfg.visibility_tolerance_px
        visible = inside & (low[:, 2] <= frags.depth[row, col] + tol)
        person = frags.mesh_id == 0
        if silhouette is not None:
            visible &= silhouette[row, col]
            person &= silhouette
        ys, xs = np.nonzero(person)
        n = min(cfg.dense_points, len(ys))
        pick = rng.choice(len(ys), size=n, replace=False) if n else np.zeros(0, int)
        low_face, low_bary = self.h2l.label(
            frags.face_id[ys[pick], xs[pick]], frags.bary[ys[pick], xs[pick]]
        )
        dp_points = np.zeros((cfg.dense_points, 2), np.float32)
        dp_face = np.zeros(cfg.dense_points, np.int64)
        dp_bary = np.full((cfg.dense_points, 3), 1 / 3, np.float32)
        dp_mask = np.zeros(cfg.dense_points, bool)
        dp_points[:n] = np.stack([xs[pick], ys[pick]], 1)
        dp_face[:n], dp_bary[:n], dp_mask[:n] = low_face, low_bary, True
        vertices = np.concatenate([low[:, :2], low[:, 2:] - root], 1)
        return {
            "vertices": vertices.astype(np.float32),
            "vertices_mask": np.float32(1.0),
            "depth_mask": np.float32(1.0),
            "visibility": visible.astype(np.float32),
            "visibility_mask": np.float32(1.0),
            "dp_points": dp_points,
            "dp_face": dp_face,
            "dp_bary": dp_bary,
            "dp_mask": dp_mask,
            "vertices_world": low_world.astype(np.float32),
        }
