"""Versioned .npz files (topology, body model, poses, labels): one reader and writer with
clear errors, never unpickling."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class AssetError(RuntimeError):
    """An asset file is missing, corrupt, incomplete or of another format version."""


def write_npz(path: Path, format_version: int, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays (any shape, compressed) plus ``format_version``; creates the parent
    folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, format_version=np.int32(format_version), **arrays)


def read_npz(
    path: Path,
    format_version: int,
    rebuild_hint: str,
    error: type[Exception] = AssetError,
) -> dict[str, np.ndarray]:
    """Every array (any shape) of a versioned npz; raises ``error`` (with ``rebuild_hint``)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path} not found ({rebuild_hint})")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile/ValueError/OSError all mean "not a valid npz"
        raise error(f"{path} is unreadable or corrupt: {exc} ({rebuild_hint})") from exc
    version = int(data.get("format_version", -1))
    if version != format_version:
        raise error(
            f"{path} has format version {version}, this code reads version {format_version} "
            f"({rebuild_hint}, or update the code)"
        )
    return data


def require(data: dict[str, np.ndarray], path: Path, *keys: str) -> list[np.ndarray]:
    """The named arrays (any shape), or AssetError naming the first missing one."""
    missing = [k for k in keys if k not in data]
    if missing:
        raise AssetError(f"{path} lacks field {missing[0]!r}")
    return [data[k] for k in keys]
