"""Person detection: YOLOX-Nano (boxes) and MediaPipe BlazePose's SSD (anchors, decoding,
NMS, ROI), chosen by name (``person_detector``) or by the picture (``auto_detector``)."""

from .anchors import SsdAnchorConfig, generate_anchors, pose_detector_anchors
from .auto_detector import AutoPersonDetector, is_close_up
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
from .nms import MergedDetections, hard_nms, weighted_nms
from .person_detector import (
    AUTO_DETECTOR,
    DEFAULT_PERSON_DETECTOR,
    PERSON_DETECTORS,
    PersonDetector,
    create_person_detector,
    resolve_person_detector,
)
from .roi import RotatedRoi, roi_from_keypoints
from .yolox import YoloxConfig, YoloxDetector, decode_yolox, yolox_grids

__all__ = [
    "AUTO_DETECTOR",
    "DEFAULT_DETECTOR_PATH",
    "DEFAULT_PERSON_DETECTOR",
    "KEYPOINT_NAMES",
    "PERSON_DETECTORS",
    "AutoPersonDetector",
    "BlazePoseDetector",
    "Detection",
    "DetectorConfig",
    "DetectorError",
    "Letterbox",
    "MergedDetections",
    "PersonDetector",
    "RotatedRoi",
    "SsdAnchorConfig",
    "YoloxConfig",
    "YoloxDetector",
    "create_person_detector",
    "decode_regressors",
    "decode_yolox",
    "generate_anchors",
    "hard_nms",
    "is_close_up",
    "letterbox",
    "pose_detector_anchors",
    "resolve_person_detector",
    "roi_from_keypoints",
    "sigmoid_scores",
    "weighted_nms",
    "yolox_grids",
]
