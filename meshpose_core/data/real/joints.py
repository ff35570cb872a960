"""Keypoint conventions of the real datasets we read, each mapped onto COCO-17.

Every mapping is a tuple of 17 source indices (``-1``: the format has no such joint) in the
COCO order of ``meshpose_core.topology.KEYPOINT_NAMES``. "left"/"right" always mean the
person's own side (COCO's convention); each source below was checked to use it too (LSP:
see ``lsp.py``; BlazePose: MediaPipe's landmark list, verified against COCO ground truth).
"""

from __future__ import annotations

import numpy as np

from meshpose_core.topology import KEYPOINT_NAMES, NUM_COCO

COCO_NAMES: tuple[str, ...] = KEYPOINT_NAMES[:NUM_COCO]
# The 12 limb joints (shoulders to ankles): what LSP, MPII and AIC share with COCO.
LIMB_JOINTS: tuple[int, ...] = tuple(range(5, NUM_COCO))


def mirror_name(name: str) -> str:
    """'left_x' <-> 'right_x'; unsided names unchanged."""
    for a, b in (("left_", "right_"), ("right_", "left_")):
        if name.startswith(a):
            return b + name[len(a) :]
    return name


# COCO_FLIP[i]: the joint that takes joint i's place when the image is mirrored.
COCO_FLIP: tuple[int, ...] = tuple(COCO_NAMES.index(mirror_name(n)) for n in COCO_NAMES)

# LSP-14: R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder,
# L shoulder, L elbow, L wrist, neck, head top.
LSP_TO_COCO: tuple[int, ...] = (-1, -1, -1, -1, -1, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0)
# MPII-16: R ankle, R knee, R hip, L hip, L knee, L ankle, pelvis, thorax, upper neck,
# head top, R wrist, R elbow, R shoulder, L shoulder, L elbow, L wrist.
MPII_TO_COCO: tuple[int, ...] = (-1, -1, -1, -1, -1, 13, 12, 14, 11, 15, 10, 3, 2, 4, 1, 5, 0)
# AI Challenger-14: R shoulder, R elbow, R wrist, L shoulder, L elbow, L wrist, R hip, R knee,
# R ankle, L hip, L knee, L ankle, head top, neck.
AIC_TO_COCO: tuple[int, ...] = (-1, -1, -1, -1, -1, 3, 0, 4, 1, 5, 2, 9, 6, 10, 7, 11, 8)
# PoseTrack18 uses the COCO layout but slots 1 and 2 hold head_bottom and head_top.
POSETRACK_TO_COCO: tuple[int, ...] = (0, -1, -1, *range(3, NUM_COCO))
COCO_TO_COCO: tuple[int, ...] = tuple(range(NUM_COCO))
# BlazePose-33 (MediaPipe pose landmarks): 0 nose, 2 left eye, 5 right eye, 7 left ear,
# 8 right ear, 11/12 shoulders, 13/14 elbows, 15/16 wrists, 23/24 hips, 25/26 knees,
# 27/28 ankles (odd = left up to the wrists, then 23.. alternate left, right).
BLAZEPOSE_TO_COCO: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

# COCO's skeleton (0-based): the limbs, torso, and face-to-shoulder links.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
    (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)  # fmt: skip


def map_to_coco(
    values: np.ndarray, mapping: tuple[int, ...], fill: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Reorder per-joint values into COCO-17.

    values (..., K, C) in the source order -> (values (..., 17, C), defined (17,) bool); joints
    the source lacks are ``fill``.
    """
    index = np.asarray(mapping)
    defined = index >= 0
    out = np.full((*values.shape[:-2], NUM_COCO, values.shape[-1]), fill, dtype=values.dtype)
    out[..., defined, :] = values[..., index[defined], :]
    return out, defined


def flip_joint_order(values: np.ndarray) -> np.ndarray:
    """(..., 17, C) -> the same joints relabelled for a mirrored image (left <-> right)."""
    return values[..., list(COCO_FLIP), :]
