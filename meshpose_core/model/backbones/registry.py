"""Backbones by name: ``build_backbone("mobilenet_v2", width=1.4)``.

Every backbone maps (B, 3, H, W) to a stride-4 feature map (B, out_channels, H/4, W/4) and
exposes ``out_channels`` and ``stride`` so heads can be built without knowing which it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from torch import nn

from ..config import config_replace
from .blazepose import BlazePoseBackbone, BlazePoseBackboneConfig
from .hrnet import HRNetBackbone, HRNetConfig
from .mobilenet import MobileNetConfig, MobileNetV2Backbone
from .resnet import ResNetBackbone, ResNetConfig

# name -> (config dataclass, module class); MeshPose-L / -S / -XS, then the pretrained
# BlazePose-full encoder-decoder (an XS-sized alternative with real-image features).
BACKBONES: Mapping[str, tuple[type, Callable[[Any], nn.Module]]] = MappingProxyType(
    {
        "hrnet_w32": (HRNetConfig, HRNetBackbone),
        "resnet50": (ResNetConfig, ResNetBackbone),
        "mobilenet_v2": (MobileNetConfig, MobileNetV2Backbone),
        "blazepose_full": (BlazePoseBackboneConfig, BlazePoseBackbone),
    }
)


def build_backbone(name: str, **cfg: Any) -> nn.Module:
    """A freshly initialised backbone; ``cfg`` overrides fields of its config dataclass
    (nested dicts override nested configs field by field)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    config_cls, module_cls = BACKBONES[name]
    return module_cls(config_replace(config_cls(), cfg))
