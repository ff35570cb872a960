"""Garment types and their files.

Two kinds:

* ``TextureGarment``: an RGBA image laid out on the body's texture atlas
  (``assets/garments/uv_template.png`` shows the layout). It is drawn on the body surface
  itself, so it needs no geometry: a print, leggings, a logo. File: any image cv2 reads
  (PNG with alpha; without alpha the whole body is painted).
* ``MeshGarment``: its own triangle mesh bound to the high-level body (``binding``), with a
  texture on its own UVs: a skirt, a coat, a bag. File: ``.npz`` (format below), written by
  ``tools/build_garments.py``.

Errors are ``GarmentError`` with a one-line message naming the file and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .binding import SurfaceBinding, surface_area
from .texture import Texture

FORMAT_VERSION = 1
MIN_TEXTURE_SIZE = 16


class GarmentError(ValueError):
    """An unknown garment name or an unreadable / invalid garment file (one-line message)."""


class UnknownGarment(GarmentError):  # noqa: N818 - a GarmentError, named for what it is
    """A garment name that is neither shipped nor a path (a usage error, not a bad file)."""


@dataclass(frozen=True, eq=False)
class TextureGarment:
    """Paint on the body atlas. texture: premultiplied mip pyramid of the atlas image;
    faces: (F,) bool, the body faces it paints (the others are skipped per frame);
    vertices: the body vertex indices of those faces (its screen extent)."""

    name: str
    texture: Texture
    faces: np.ndarray
    vertices: np.ndarray


@dataclass(frozen=True, eq=False)
class MeshGarment:
    """A mesh bound to the body.

    rest_vertices (N, 3) float32 metres on the rest template; faces (G, 3) int32 (outward
    counter-clockwise); corner_uv (G, 3, 2) float32 into ``texture``; binding: N vertices;
    lag_weight (N,) float32 in [0, 1]: how much secondary-motion lag each vertex takes
    (0 where it is held by the body, 1 at a free hem).
    """

    name: str
    rest_vertices: np.ndarray
    faces: np.ndarray
    corner_uv: np.ndarray
    binding: SurfaceBinding
    lag_weight: np.ndarray
    texture: Texture


Garment = TextureGarment | MeshGarment


def texel_density(
    vertices: np.ndarray, faces: np.ndarray, corner_uv: np.ndarray, size: tuple[int, int]
) -> float:
    """Median texels per metre of a textured mesh, vertices (V, 3) metres, faces (F, 3),
    corner_uv (F, 3, 2) in [0, 1], at texture ``size`` (width, height)."""
    uv = np.asarray(corner_uv, np.float64) * np.asarray(size, np.float64)
    d1, d2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    a_uv = 0.5 * np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0])
    tri = np.asarray(vertices, np.float64)[faces]
    a3 = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    ok = a3 > 0
    return float(np.median(np.sqrt(a_uv[ok] / a3[ok])))


def read_rgba(path: Path) -> np.ndarray:
    """An image file -> (H, W, 4) uint8 straight-alpha RGBA; GarmentError if unreadable."""
    if not path.is_file():
        raise GarmentError(f"garment image not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise GarmentError(f"cannot read garment image {path}: not an image file cv2 can decode")
    if img.dtype == np.uint16:
        img = (img // 257).astype(np.uint8)
    if img.dtype != np.uint8:
        raise GarmentError(f"garment image {path} has unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGBA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGBA)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    if min(img.shape[:2]) < MIN_TEXTURE_SIZE:
        raise GarmentError(
            f"garment image {path} is {img.shape[1]}x{img.shape[0]}; at least "
            f"{MIN_TEXTURE_SIZE} px a side is needed"
        )
    return img


def write_rgba(path: Path, rgba: np.ndarray) -> None:
    """(H, W, 4) uint8 RGBA -> PNG."""
    if not cv2.imwrite(str(path), cv2.cvtColor(np.asarray(rgba, np.uint8), cv2.COLOR_RGBA2BGRA)):
        raise GarmentError(f"cannot write {path}")


def save_mesh_garment(
    path: Path,
    name: str,
    rest_vertices: np.ndarray,
    faces: np.ndarray,
    corner_uv: np.ndarray,
    binding: SurfaceBinding,
    lag_weight: np.ndarray,
    texture_rgba: np.ndarray,
    body_faces: int,
) -> None:
    """Write a mesh garment file: rest_vertices (N, 3) metres, faces (F, 3), corner_uv
    (F, 3, 2), lag_weight (N,), texture_rgba (H, W, 4) uint8 straight alpha, binding for a
    body of ``body_faces`` faces."""
    np.savez_compressed(
        path,
        format_version=np.int32(FORMAT_VERSION),
        kind="mesh",
        name=name,
        body_faces=np.int32(body_faces),
        rest_vertices=np.asarray(rest_vertices, np.float32),
        faces=np.asarray(faces, np.int32),
        corner_uv=np.asarray(corner_uv, np.float32),
        anchor_face=binding.face,
        anchor_bary=binding.bary,
        anchor_offset=binding.offset,
        anchor_normal=binding.normal,
        anchor_weight=binding.weight,
        lag_weight=np.asarray(lag_weight, np.float32),
        texture=np.asarray(texture_rgba, np.uint8),
    )


def _check_mesh_arrays(path: Path, d: dict[str, np.ndarray], body_faces: int) -> None:
    n = len(d["rest_vertices"])
    g = len(d["faces"])
    shapes = {
        "rest_vertices": (n, 3),
        "faces": (g, 3),
        "corner_uv": (g, 3, 2),
        "anchor_bary": (*d["anchor_face"].shape, 3),
        "anchor_offset": (*d["anchor_face"].shape, 3),
        "anchor_normal": (*d["anchor_face"].shape, 3),
        "anchor_weight": d["anchor_face"].shape,
        "lag_weight": (n,),
    }
    for key, shape in shapes.items():
        if d[key].shape != shape:
            raise GarmentError(f"garment file {path}: {key} has shape {d[key].shape}, not {shape}")
    if d["anchor_face"].ndim != 2 or len(d["anchor_face"]) != n:
        raise GarmentError(f"garment file {path}: anchor_face must be (N, K) with N = {n}")
    if int(d["body_faces"]) != body_faces:
        raise GarmentError(
            f"garment file {path} is bound to a body of {int(d['body_faces'])} faces, this "
            f"topology has {body_faces}; rebuild it with tools/build_garments.py"
        )
    if g and (d["faces"].min() < 0 or d["faces"].max() >= n):
        raise GarmentError(f"garment file {path}: face index out of range")
    if d["anchor_face"].min() < 0 or d["anchor_face"].max() >= body_faces:
        raise GarmentError(f"garment file {path}: anchor face out of range")
    tex = d["texture"]
    if tex.ndim != 3 or tex.shape[2] != 4 or min(tex.shape[:2]) < MIN_TEXTURE_SIZE:
        raise GarmentError(f"garment file {path}: texture must be (H, W, 4), got {tex.shape}")


def read_mesh_garment(path: Path, body_faces: int) -> MeshGarment:
    """Load a ``.npz`` mesh garment bound to a body of ``body_faces`` faces."""
    if not path.is_file():
        raise GarmentError(f"garment file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile / ValueError / OSError: all mean "not a valid npz"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GarmentError(f"garment file {path} is unreadable or corrupt: {reason}") from exc
    version = int(d.get("format_version", -1))
    if version != FORMAT_VERSION:
        raise GarmentError(
            f"garment file {path} has format version {version}, this code reads "
            f"{FORMAT_VERSION}; rebuild it with tools/build_garments.py"
        )
    required = [
        "name", "rest_vertices", "faces", "corner_uv", "anchor_face", "anchor_bary",
        "anchor_offset", "anchor_normal", "anchor_weight", "lag_weight", "texture", "body_faces",
    ]  # fmt: skip
    missing = [k for k in required if k not in d]
    if missing:
        raise GarmentError(f"garment file {path} lacks {', '.join(missing)}")
    _check_mesh_arrays(path, d, body_faces)
    rest = d["rest_vertices"].astype(np.float32)
    faces = d["faces"].astype(np.int32)
    uv = d["corner_uv"].astype(np.float32)
    tex = d["texture"].astype(np.uint8)
    density = texel_density(rest, faces, uv, (tex.shape[1], tex.shape[0]))
    if not np.isfinite(density) or surface_area(rest, faces) <= 0:
        raise GarmentError(f"garment file {path}: degenerate mesh or UVs")
    return MeshGarment(
        name=str(d["name"]),
        rest_vertices=rest,
        faces=faces,
        corner_uv=uv,
        binding=SurfaceBinding(
            face=d["anchor_face"].astype(np.int32),
            bary=d["anchor_bary"].astype(np.float32),
            offset=d["anchor_offset"].astype(np.float32),
            normal=d["anchor_normal"].astype(np.float32),
            weight=d["anchor_weight"].astype(np.float32),
        ),
        lag_weight=d["lag_weight"].astype(np.float32),
        texture=Texture.from_rgba(tex, density),
    )
