"""DensePose's 24 body parts: names, order (the I index, 1-based) and left/right mirroring.

The order and meaning follow DensePose-COCO's I channel so that our IUV images read like
DensePose's: 0 is background, "right"/"left" are the person's own sides.
"""

from __future__ import annotations

import numpy as np

PART_NAMES: tuple[str, ...] = (
    "torso_back",  # 1
    "torso_front",  # 2
    "right_hand",  # 3
    "left_hand",  # 4
    "left_foot",  # 5
    "right_foot",  # 6
    "upper_leg_right_back",  # 7
    "upper_leg_left_back",  # 8
    "upper_leg_right_front",  # 9
    "upper_leg_left_front",  # 10
    "lower_leg_right_back",  # 11
    "lower_leg_left_back",  # 12
    "lower_leg_right_front",  # 13
    "lower_leg_left_front",  # 14
    "upper_arm_left_inside",  # 15
    "upper_arm_right_inside",  # 16
    "upper_arm_left_outside",  # 17
    "upper_arm_right_outside",  # 18
    "lower_arm_left_inside",  # 19
    "lower_arm_right_inside",  # 20
    "lower_arm_left_outside",  # 21
    "lower_arm_right_outside",  # 22
    "head_right",  # 23
    "head_left",  # 24
)
NUM_PARTS = len(PART_NAMES)


def part_index(name: str) -> int:
    """1-based DensePose I index of a part name."""
    return PART_NAMES.index(name) + 1


def _mirror_name(name: str) -> str:
    if "left" in name:
        return name.replace("left", "right")
    if "right" in name:
        return name.replace("right", "left")
    return name


# MIRROR_PART[i] is the I index of part i seen in a horizontally mirrored body (0 -> 0).
MIRROR_PART: np.ndarray = np.array(
    [0] + [part_index(_mirror_name(n)) for n in PART_NAMES], dtype=np.int64
)
