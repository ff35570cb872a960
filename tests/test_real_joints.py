"""Joint conventions (``data.real.joints``): every keypoint format mapped to COCO by joint name,
and the left/right flip order."""

from __future__ import annotations

import numpy as np
import pytest

from meshpose_core.data.real.joints import (
    AIC_TO_COCO,
    BLAZEPOSE_TO_COCO,
    COCO_FLIP,
    COCO_NAMES,
    LSP_TO_COCO,
    MPII_TO_COCO,
    flip_joint_order,
    map_to_coco,
)

LSP_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)  # fmt: skip

MPII_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
    "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)  # fmt: skip

AIC_NAMES = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
    "left_ankle", "head_top", "neck",
)  # fmt: skip

BLAZEPOSE_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb",
    "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip


@pytest.mark.parametrize(
    ("mapping", "names"),
    [
        (LSP_TO_COCO, LSP_NAMES),
        (MPII_TO_COCO, MPII_NAMES),
        (AIC_TO_COCO, AIC_NAMES),
        (BLAZEPOSE_TO_COCO, BLAZEPOSE_NAMES),
    ],
)
def test_mappings_pick_the_same_named_joint(
    mapping: tuple[int, ...], names: tuple[str, ...]
) -> None:
    for coco, src in enumerate(mapping):
        if src >= 0:
            assert names[src] == COCO_NAMES[coco]
    defined = {COCO_NAMES[c] for c, s in enumerate(mapping) if s >= 0}
    assert defined == set(names) & set(COCO_NAMES)  # nothing mappable is left out


def test_blazepose_indices_as_documented() -> None:
    assert BLAZEPOSE_TO_COCO == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def test_flip_order_swaps_sides_and_is_an_involution() -> None:
    assert COCO_FLIP[0] == 0
    for i, j in enumerate(COCO_FLIP):
        assert COCO_FLIP[j] == i
        if COCO_NAMES[i].startswith("left_"):
            assert COCO_NAMES[j] == "right_" + COCO_NAMES[i][5:]
    values = np.arange(17.0)[:, None]
    assert flip_joint_order(values)[5, 0] == 6 and flip_joint_order(values)[16, 0] == 15


def test_map_to_coco_fill() -> None:
    values, defined = map_to_coco(np.ones((2, 14, 3)), LSP_TO_COCO, fill=-1.0)
    assert values.shape == (2, 17, 3) and defined.sum() == 12
    assert (values[:, :5] == -1).all() and (values[:, 5:] == 1).all()
