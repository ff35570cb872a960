"""Stride-4 feature extractors: HRNet-W32 (L), ResNet-50 (S), MobileNetV2 x1.4 (XS)."""

from .decoder import DecoderConfig, SkipDecoder
from .hrnet import HRNetBackbone, HRNetConfig
from .mobilenet import MobileNetConfig, MobileNetV2Backbone
from .registry import BACKBONES, build_backbone
from .resnet import ResNetBackbone, ResNetConfig
from .weights import WeightsMismatchError, load_backbone_weights, save_backbone_weights

__all__ = [
    "BACKBONES",
    "DecoderConfig",
    "HRNetBackbone",
    "HRNetConfig",
    "MobileNetConfig",
    "MobileNetV2Backbone",
    "ResNetBackbone",
    "ResNetConfig",
    "SkipDecoder",
    "WeightsMismatchError",
    "build_backbone",
    "load_backbone_weights",
    "save_backbone_weights",
]
