"""Person detection: MediaPipe BlazePose SSD detector, its anchors, decoding, NMS and ROI."""

from .anchors import SsdAnchorConfig, generate_anchors, pose_detector_anchors
from .blazepose_detector import (
    DEFAULT_DETECTOR_PATH,
    KEYPOINT_NAMES,
    BlazePoseDetector,
    Detection,
    DetectorConfig,
    DetectorError,
)
from .decode import decode_regressors, sigmoid_scores
from .letterbox import Letterbox, letterbox
from .nms import MergedDetections, weighted_nms
from .roi import RotatedRoi, roi_from_keypoints

__all__ = [
    "DEFAULT_DETECTOR_PATH",
    "KEYPOINT_NAMES",
    "BlazePoseDetector",
    "Detection",
    "DetectorConfig",
    "DetectorError",
    "Letterbox",
    "MergedDetections",
    "RotatedRoi",
    "SsdAnchorConfig",
    "decode_regressors",
    "generate_anchors",
    "letterbox",
    "pose_detector_anchors",
    "roi_from_keypoints",
    "sigmoid_scores",
    "weighted_nms",
]
