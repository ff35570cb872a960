"""Fit stores: body parameters per labelled person, one compressed .npz per label file.

A store holds parameters, not vertices (about 0.4 KB a person), names the label file and its
SHA-256 (a store never silently pairs with relabelled data), records the fit settings, and is
rewritten atomically after every batch, so an interrupted run resumes at the next batch with
the same results it would have had (batches are fixed by the label file's order).

Arrays (N fitted people): ``row`` (N,) int32 index into the label file, then the fields of
``BodyFits``; ``meta`` JSON: format_version, label_file, label_sha256, config, summary.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import fields
from pathlib import Path

import numpy as np

from .fitter import BodyFits

FORMAT_VERSION = 1


class FitStoreError(RuntimeError):
    """A fit store that does not belong to its label file, or of another format."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_fits(path: Path, rows: np.ndarray, fits: BodyFits, meta: dict) -> None:
    """Write ``fits`` of label ``rows`` (N,) atomically (temporary file in the same folder,
    then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f.name: getattr(fits, f.name) for f in fields(BodyFits)}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            row=rows.astype(np.int32),
            meta=np.array(json.dumps({"format_version": FORMAT_VERSION, **meta})),
            **arrays,
        )
    os.replace(tmp, path)


def load_fits(path: Path, label_file: Path | None = None) -> tuple[np.ndarray, BodyFits, dict]:
    """-> (label rows (N,) int64, fits, meta); with ``label_file``, refuse a store made from
    other labels."""
    with np.load(path) as d:
        meta = json.loads(str(d["meta"]))
        if meta.get("format_version") != FORMAT_VERSION:
            raise FitStoreError(
                f"{path}: fit store format {meta.get('format_version')}, expected "
                f"{FORMAT_VERSION}; refit with tools/fit_real_frames.py"
            )
        if label_file is not None and meta["label_sha256"] != file_sha256(label_file):
            raise FitStoreError(
                f"{path} was fitted to another version of {label_file}; refit with "
                f"tools/fit_real_frames.py (it resumes only on unchanged labels)"
            )
        fits = BodyFits(**{f.name: d[f.name] for f in fields(BodyFits)})
        return d["row"].astype(np.int64), fits, meta


def concat_fits(parts: list[BodyFits]) -> BodyFits:
    return BodyFits(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(BodyFits)}
    )


def select_fits(fits: BodyFits, index: np.ndarray) -> BodyFits:
    """The fits at ``index`` ((M,) int indices or (N,) bool), every field alike."""
    return BodyFits(**{f.name: getattr(fits, f.name)[index] for f in fields(BodyFits)})
