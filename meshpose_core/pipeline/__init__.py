"""Real-time pipeline: source -> detector/tracker -> crops -> network -> upsampling -> layers
-> sinks, one module per stage (see docs/pipeline.md).

    from meshpose_core.pipeline import Pipeline, PipelineConfig, VideoSource
    with VideoSource("clip.mp4") as source, Pipeline(PipelineConfig()) as pipe:
        for result in pipe.run(source):
            result.people  # track_id, box, keypoints, vertices (image px), ...
"""

from .crops import CropConfig, crop_transform, invert_affine, to_image_px, warp_crops
from .engine import Pipeline, PipelineConfig, results_at
from .layers import LAYERS, LayerRenderer, RenderConfig, parse_layers
from .motion import MotionGate, MotionGateConfig
from .network import ModelUnavailable, Network, NetworkConfig
from .results import STAGES, DensePoseFrame, FrameResult, PersonResult
from .sinks import ImageSink, IuvSink, JsonSink, NpzSink, ObjSink, SinkError, VideoSink
from .smoothing import MeshSmoother, OneEuroFilter, SmoothingConfig
from .sources import (
    CameraOptions,
    Frame,
    ImageSource,
    Source,
    SourceError,
    VideoSource,
    WebcamSource,
    open_source,
)
from .tracker import Tracker, TrackerConfig

__all__ = [
    "LAYERS",
    "STAGES",
    "CameraOptions",
    "CropConfig",
    "DensePoseFrame",
    "Frame",
    "FrameResult",
    "ImageSink",
    "ImageSource",
    "IuvSink",
    "JsonSink",
    "LayerRenderer",
    "MeshSmoother",
    "ModelUnavailable",
    "MotionGate",
    "MotionGateConfig",
    "Network",
    "NetworkConfig",
    "NpzSink",
    "ObjSink",
    "OneEuroFilter",
    "PersonResult",
    "Pipeline",
    "PipelineConfig",
    "RenderConfig",
    "SinkError",
    "SmoothingConfig",
    "Source",
    "SourceError",
    "Tracker",
    "TrackerConfig",
    "VideoSink",
    "VideoSource",
    "WebcamSource",
    "crop_transform",
    "invert_affine",
    "open_source",
    "parse_layers",
    "results_at",
    "to_image_px",
    "warp_crops",
]
