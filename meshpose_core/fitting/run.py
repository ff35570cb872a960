"""Fit every masked person of a label file, in fixed batches, resuming where a store stopped."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from meshpose_core.data.real.labels import PersonLabels, load_labels

from .evidence import person_evidence, stack_evidence
from .fitter import BodyFits, BodyFitter, config_record
from .store import concat_fits, file_sha256, load_fits, save_fits


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two (4,) x0, y0, x1, y1 boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def temporal_links(labels: PersonLabels, rows: np.ndarray, min_iou: float = 0.3) -> np.ndarray:
    """(L, 2) positions within ``rows`` of the same person in consecutive labelled frames of
    one video: each person is linked to the best-overlapping person of the previous frame."""
    links = []
    by_frame: dict[tuple[str, int], list[int]] = {}
    for k, r in enumerate(rows):
        if labels.frame[r] >= 0:
            by_frame.setdefault((str(labels.image[r]), int(labels.frame[r])), []).append(k)
    frames: dict[str, list[int]] = {}
    for video, frame in by_frame:
        frames.setdefault(video, []).append(frame)
    for video, fs in frames.items():
        fs.sort()
        for prev, cur in itertools.pairwise(fs):
            for k in by_frame[(video, cur)]:
                ious = [
                    box_iou(labels.box[rows[k]], labels.box[rows[j]])
                    for j in by_frame[(video, prev)]
                ]
                best = int(np.argmax(ious))
                if ious[best] >= min_iou:
                    links.append((by_frame[(video, prev)][best], k))
    return np.array(links, np.int64).reshape(-1, 2)


class ImageSizes:
    """(H, W) of media files under the shared root, read once each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, tuple[int, int]] = {}

    def __call__(self, path: str, frame: int) -> tuple[int, int]:
        if path not in self.cache:
            if frame >= 0:
                cap = cv2.VideoCapture(str(self.root / path))
                hw = (
                    int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                    int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                )
                cap.release()
            else:
                img = cv2.imread(str(self.root / path))
                if img is None:
                    raise FileNotFoundError(f"cannot read {self.root / path}")
                hw = img.shape[:2]
            self.cache[path] = hw
        return self.cache[path]


def fit_label_file(
    label_file: Path,
    store: Path,
    shared_root: Path,
    fitter: BodyFitter,
    batch: int = 64,
    limit: int = 0,
    log: Callable[[str], None] = print,
) -> tuple[np.ndarray, BodyFits]:
    """Fit the masked people of ``label_file`` (the first ``limit``, 0: all) into ``store``
    -> (label rows (N,) int64, their fits).

    Batches are consecutive masked rows, so video people are batched with their neighbouring
    frames (temporal links) and a resumed run makes the same batches. Seeds depend on the
    batch's first row only.
    """
    labels, _ = load_labels(label_file)
    todo = np.flatnonzero(labels.has_mask)
    if limit:
        todo = todo[:limit]
    sha = file_sha256(label_file)
    done_rows, parts = np.zeros(0, np.int64), []
    if store.is_file():
        done_rows, fits, meta = load_fits(store, label_file)
        if meta["config"] != config_record(fitter.config):
            raise RuntimeError(f"{store} was fitted with other settings; delete it to refit")
        parts.append(fits)
    sizes = ImageSizes(shared_root)
    start = len(done_rows)
    if start and not np.array_equal(done_rows, todo[:start]):
        raise RuntimeError(f"{store} does not follow {label_file}'s rows; delete it to refit")
    t0 = time.time()
    for b0 in range(start, len(todo), batch):
        rows = todo[b0 : b0 + batch]
        rng = np.random.default_rng(int(rows[0]))
        torch.manual_seed(int(rows[0]))
        ev = stack_evidence(
            [
                person_evidence(labels, r, sizes(str(labels.image[r]), int(labels.frame[r])), rng)
                for r in rows
            ]
        )
        fits = fitter.fit(ev, temporal_links(labels, rows))
        parts.append(fits)
        done_rows = np.concatenate([done_rows, rows])
        all_fits = concat_fits(parts)
        parts = [all_fits]
        summary = {
            "fitted": len(done_rows),
            "of": len(todo),
            "kept": int(all_fits.kept.sum()),
            "median_joint_error": float(np.median(all_fits.joint_error)),
            "median_mask_iou": float(np.median(all_fits.mask_iou)),
        }
        meta = {
            "label_file": label_file.name,
            "label_sha256": sha,
            "config": config_record(fitter.config),
            "summary": summary,
        }
        save_fits(store, done_rows, all_fits, meta)
        rate = (len(done_rows) - start) / max(time.time() - t0, 1e-6)
        log(f"{label_file.stem}: {summary} ({rate:.2f} people/s)")
    if not parts:
        raise ValueError(f"{label_file} has no person with a mask to fit")
    return done_rows, concat_fits(parts)
