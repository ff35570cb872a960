"""Garments by name: the shipped ones in ``assets/garments``, or any file or image given.

``GarmentLibrary`` keeps what loading needs (the body atlas, its island masks) and the
garments already loaded, so one library per application loads each garment once
(``shared_library()`` is that one library, for the CLI's checks and the pipeline's layer
alike). The functions ``list_garments`` / ``load_garment`` make a throw-away library.

A garment is given as a shipped name (``flared_skirt``), a path to a ``.npz`` mesh garment or
to an atlas-layout image, or ``IMAGE@REGION`` for a plain image placed on a body region
(``logo.png@chest``; regions in ``regions.REGIONS``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from meshpose_core.resources import asset_path

from ..topology import Topology
from .atlas import BodyAtlas
from .garment import (
    Garment,
    GarmentError,
    TextureGarment,
    UnknownGarment,
    read_mesh_garment,
    read_rgba,
    texel_density,
)
from .regions import REGIONS, Region, place_on_region
from .texture import Texture, fill_gutter

GARMENT_DIR = asset_path("garments")
TEMPLATE_NAME = "uv_template"  # the painting guide, not a garment
GUTTER_FRACTION = 0.04  # how far (of the texture size) island texels are copied outward
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


class GarmentLibrary:
    """Loads garments for one body topology (the high level)."""

    def __init__(self, directory: Path | None = None, topology: Topology | None = None) -> None:
        self.directory = Path(directory) if directory is not None else GARMENT_DIR
        self.topology = topology or Topology.load("high")
        self._atlas: BodyAtlas | None = None
        self._face_maps: dict[tuple[int, int], np.ndarray] = {}
        self._loaded: dict[tuple[object, ...], Garment] = {}

    @property
    def atlas(self) -> BodyAtlas:
        if self._atlas is None:
            self._atlas = BodyAtlas.from_topology(self.topology)
        return self._atlas

    def names(self) -> list[str]:
        """Names of the garments in the library's directory, sorted."""
        if not self.directory.is_dir():
            return []
        names = {
            p.stem
            for p in self.directory.iterdir()
            if p.suffix in (".npz", ".png") and p.stem != TEMPLATE_NAME
        }
        return sorted(names)

    def _resolve(self, name_or_path: str | Path) -> Path:
        path = Path(name_or_path)
        if path.suffix:
            return path
        for suffix in (".npz", ".png"):
            candidate = self.directory / f"{path.name}{suffix}"
            if candidate.is_file() and path.name != TEMPLATE_NAME:
                return candidate
        available = ", ".join(self.names()) or "none"
        raise UnknownGarment(
            f"unknown garment {str(name_or_path)!r}; available: {available} "
            "(or give a path to a .npz garment, an atlas image, or IMAGE@REGION)"
        )

    def load(self, spec: str | Path) -> Garment:
        """A shipped garment by name, a ``.npz`` mesh garment or an atlas image by path, or
        ``IMAGE@REGION``: a plain image placed on a body region (``from_image``)."""
        image, region = split_region(spec)
        path = self._resolve(image)
        # the file's time and size are part of the key: an image edited since is read again
        stat = path.stat() if path.is_file() else None
        key = (path.resolve(), region, stat and (stat.st_mtime_ns, stat.st_size))
        if key not in self._loaded:
            if region is not None:
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    raise GarmentError(f"{spec}: only an image can be placed on a region")
                self._loaded[key] = self.from_image(path, region, name=f"{path.stem}@{region}")
            elif path.suffix == ".npz":
                self._loaded[key] = read_mesh_garment(path, self.topology.num_faces)
            elif path.suffix.lower() in IMAGE_SUFFIXES:
                self._loaded[key] = self.texture_garment(path.stem, read_rgba(path))
            else:
                raise GarmentError(
                    f"garment file {path}: unknown kind (use .npz or an image: "
                    f"{', '.join(IMAGE_SUFFIXES)})"
                )
        return self._loaded[key]

    def face_map(self, width: int, height: int) -> np.ndarray:
        """(H, W) int32 body face per atlas texel at one texture size (cached)."""
        if (width, height) not in self._face_maps:
            self._face_maps[(width, height)] = self.atlas.face_map(width, height)
        return self._face_maps[(width, height)]

    def texture_garment(self, name: str, rgba: np.ndarray) -> TextureGarment:
        """An atlas-layout RGBA image (H, W, 4) uint8 -> garment (gutter padded, mipmapped,
        with the set of body faces it paints)."""
        h, w = rgba.shape[:2]
        fmap = self.face_map(w, h)
        island = (fmap >= 0) & ~self.atlas.repaired[np.maximum(fmap, 0)]
        padded = fill_gutter(rgba, island, GUTTER_FRACTION * max(w, h))
        topo = self.topology
        density = texel_density(topo.vertices, topo.faces, self.atlas.corner_uv, (w, h))
        faces = painted_faces(fmap, padded[..., 3] > 0, topo.faces)
        return TextureGarment(
            name=name,
            texture=Texture.from_rgba(padded, density),
            faces=faces,
            vertices=np.unique(topo.faces[faces]),
        )

    def from_image(
        self,
        image: str | Path | np.ndarray,
        region: str | Region = "chest",
        width_fraction: float = 0.7,
        size: tuple[int, int] = (1024, 1024),
        name: str | None = None,
    ) -> TextureGarment:
        """A plain image (path or (h, w, 3|4) uint8 RGB[A]) placed on a body region.

        Regions: ``REGIONS`` names (chest, belly, back, left/right_sleeve, left/right_thigh)
        or a ``Region``. The image keeps its aspect; its alpha (if any) is kept.
        """
        if isinstance(region, str):
            if region not in REGIONS:
                raise GarmentError(
                    f"unknown region {region!r}; choose one of {', '.join(sorted(REGIONS))}"
                )
            region = REGIONS[region]
        if isinstance(image, (str, Path)):
            label = name or Path(image).stem
            rgba = read_rgba(Path(image))
        else:
            label = name or "image"
            rgba = _as_rgba(np.asarray(image))
        placed = place_on_region(rgba, region, self.topology, self.atlas, size, width_fraction)
        return self.texture_garment(label, placed)


def split_region(spec: str | Path) -> tuple[str | Path, str | None]:
    """``"logo.png@chest"`` -> ("logo.png", "chest"); anything else -> (spec, None). Only a
    known region name after the last ``@`` counts (a file name may contain ``@``)."""
    text = str(spec)
    head, sep, tail = text.rpartition("@")
    if sep and head and tail in REGIONS:
        return head, tail
    return spec, None


def painted_faces(face_map: np.ndarray, painted: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(F,) bool: faces with a painted texel, grown by one ring (faces smaller than a texel
    and bilinear footprints across face borders are not missed)."""
    hit = np.zeros(len(faces), bool)
    hit[face_map[painted & (face_map >= 0)]] = True
    touched = np.zeros(int(faces.max()) + 1, bool)
    touched[faces[hit].reshape(-1)] = True
    return touched[faces].any(axis=1)


def _as_rgba(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4):
        raise GarmentError(
            f"image must be (h, w, 3 or 4) uint8 RGB[A], got {image.shape} {image.dtype}"
        )
    if image.shape[2] == 4:
        return image
    return np.concatenate([image, np.full((*image.shape[:2], 1), 255, np.uint8)], axis=2)


@functools.cache
def shared_library() -> GarmentLibrary:
    """The process's library of the shipped garments: whoever loads a garment through it
    (the CLI's check, the pipeline's garment layer) loads it once. Not thread-safe: load
    from one thread (the rendering thread, or before it starts)."""
    return GarmentLibrary()


def list_garments(directory: Path | None = None) -> list[str]:
    """Names of the shipped garments (or of those in ``directory``)."""
    return GarmentLibrary(directory).names()


def load_garment(name_or_path: str | Path, library: GarmentLibrary | None = None) -> Garment:
    """A garment by name or path; ``GarmentError`` (one line) if unknown or invalid."""
    return (library or GarmentLibrary()).load(name_or_path)
