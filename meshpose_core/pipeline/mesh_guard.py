"""Which predicted meshes the pipeline may draw: one person, one mesh, and only whole meshes.

Two failure modes of tracking through crowds show as wrong meshes: two tracks that drift onto
the same person draw two meshes over one body, and a crop holding two people can give a mesh
joining them or stretched across the frame. ``accepted_meshes`` rejects both: a mesh whose
worst edge is stretched more than ``max_stretch`` body heights beyond the template's
(``topology.integrity.edge_stretch``), and of two meshes whose tight boxes (the vertices'
extent) overlap by more than ``duplicate_iou`` the later one (tracks come oldest first, so
the person keeps the id they had). The pipeline does not draw them: a broken mesh's track
is detected again, a duplicate's track is dropped. With the guard on, the pipeline also
withholds a mesh the tracker rejects (elsewhere than its track, another size, unsure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meshpose_core.topology.integrity import STRETCH_LIMIT, mesh_stretch

from .tracker import iou_matrix


@dataclass(frozen=True)
class MeshGuardConfig:
    enabled: bool = True
    max_stretch: float = STRETCH_LIMIT  # body heights an edge may exceed the template's by
    # two meshes' tight boxes overlapping more than this cover one person. Measured on the
    # annotated photos (132 pairs of meshes on different people): 95 % below 0.12, the
    # largest 0.66 (a person half behind another); two tracks on one person see nearly the
    # same crop, so their meshes' boxes nearly coincide
    duplicate_iou: float = 0.7
    # a mesh the tracker does not steer with is still drawn where the frame cuts the body
    # and its part in view overlaps the track's by this much (``Pipeline._drawn_unsteered``)
    in_view_iou: float = 0.5


def duplicate_meshes(boxes: np.ndarray, duplicate_iou: float) -> np.ndarray:
    """(N, 4) mesh boxes, oldest track first -> (N,) bool: the box overlaps an earlier kept
    box by more than ``duplicate_iou`` (IoU), i.e. that person already has a mesh."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    duplicate = np.zeros(len(boxes), bool)
    if len(boxes) < 2:  # one person, the usual case: nothing to compare
        return duplicate
    iou = iou_matrix(boxes, boxes)
    for i in range(len(boxes)):
        earlier = np.flatnonzero(~duplicate[:i])
        duplicate[i] = bool((iou[i, earlier] > duplicate_iou).any())
    return duplicate


def accepted_meshes(
    vertices: np.ndarray, boxes: np.ndarray, config: MeshGuardConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(N, V, 3) meshes in image px and their (N, 4) tight boxes, oldest track first ->
    (broken (N,) bool, duplicate (N,) bool); a broken mesh is not compared for duplicates."""
    n = len(vertices)
    if not config.enabled or n == 0:
        return np.zeros(n, bool), np.zeros(n, bool)
    broken = np.array([not mesh_stretch(v) <= config.max_stretch for v in vertices])
    duplicate = np.zeros(n, bool)
    whole = np.flatnonzero(~broken)
    duplicate[whole] = duplicate_meshes(np.asarray(boxes)[whole], config.duplicate_iou)
    return broken, duplicate
