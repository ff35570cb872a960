"""Body topology: the three mesh levels, their DensePose parts and UVs, landmarks, upsampling."""

from .parts import MIRROR_PART, NUM_PARTS, PART_NAMES, part_index
from .topology import (
    FORMAT_VERSION,
    KEYPOINT_NAMES,
    LEVEL_SIZES,
    LEVELS,
    NUM_COCO,
    Topology,
    TopologyError,
    Upsampling,
)

__all__ = [
    "FORMAT_VERSION",
    "KEYPOINT_NAMES",
    "LEVELS",
    "LEVEL_SIZES",
    "MIRROR_PART",
    "NUM_COCO",
    "NUM_PARTS",
    "PART_NAMES",
    "Topology",
    "TopologyError",
    "Upsampling",
    "part_index",
]
