"""The MeshPose network (backbones, heads) and the decoding of its outputs (pure torch)."""

from .backbones import BACKBONES, build_backbone, load_backbone_weights, save_backbone_weights
from .decoding import (
    UV_DECODERS,
    TopologyArrays,
    argsoftmax_1d,
    bin_ranges,
    cell_to_pixel,
    decode_iuv,
    decode_uv_barycentric,
    decode_uv_closest_vertex,
    decode_uv_global_average,
    fuse_visibility,
    mask_background,
    pixel_to_cell,
    spatial_argsoftmax,
    vertex_posterior,
)
from .heads import RegressionHead, RegressionHeadConfig, VertexPoseHead, VertexPoseHeadConfig
from .inference import fold_batchnorm, keep_freed_memory, prepare_for_inference
from .meshpose import IMAGE_MEAN, IMAGE_STD, MeshPoseConfig, MeshPoseNet
from .outputs import DecodedMesh, RawOutputs

__all__ = [
    "BACKBONES",
    "IMAGE_MEAN",
    "IMAGE_STD",
    "UV_DECODERS",
    "DecodedMesh",
    "MeshPoseConfig",
    "MeshPoseNet",
    "RawOutputs",
    "RegressionHead",
    "RegressionHeadConfig",
    "TopologyArrays",
    "VertexPoseHead",
    "VertexPoseHeadConfig",
    "argsoftmax_1d",
    "bin_ranges",
    "build_backbone",
    "cell_to_pixel",
    "decode_iuv",
    "decode_uv_barycentric",
    "decode_uv_closest_vertex",
    "decode_uv_global_average",
    "fold_batchnorm",
    "fuse_visibility",
    "keep_freed_memory",
    "load_backbone_weights",
    "mask_background",
    "pixel_to_cell",
    "prepare_for_inference",
    "save_backbone_weights",
    "spatial_argsoftmax",
    "vertex_posterior",
]
