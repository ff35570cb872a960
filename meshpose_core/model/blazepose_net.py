"""MediaPipe's BlazePose landmark network in PyTorch, built from its converted graph.

The only pretrained pose features we can get offline are the BlazePose landmark models
(Apache-2.0): an encoder-decoder trained on large real data whose decoder reaches stride 4
(64x64 from 256x256). ``tools/convert_blazepose.py`` turns a .tflite into a JSON list of
layers (execution order, inputs, TFLite semantics) and a safetensors file of weights; this
module rebuilds the network from them, so full and heavy load without model-specific code.

Use it as a backbone: ``BlazePoseNet.from_files(outputs=("features_s4",))`` builds only the
layers that feature map needs (no regression or segmentation heads). Input: (B, 3, H, W)
RGB in [0, 1], H and W multiples of 32 (256 as trained; 192 works for the feature maps).
Outputs are NCHW; the 1D heads (landmarks etc.) are only meaningful at 256x256.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from torch import Tensor, nn

from meshpose_core.resources import weights_path

FORMAT = "meshpose-blazepose-graph"
FORMAT_VERSION = 1
WEIGHTS_DIR = weights_path()
DEFAULT_WEIGHTS = WEIGHTS_DIR / "blazepose_full_backbone.safetensors"
STRIDE4 = "features_s4"


class BlazePoseNetError(RuntimeError):
    """The converted graph or weights are missing, corrupt or do not belong together."""


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (before, after) of one axis; the extra pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def activation_layer(name: str) -> nn.Module:
    layers = {"none": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6}
    if name not in layers:
        raise BlazePoseNetError(f"unknown activation {name!r}")
    return layers[name]()


class TfConv2d(nn.Conv2d):
    """Conv2d (grouped for depthwise) with TFLite padding and fused activation."""

    def __init__(self, spec: dict) -> None:
        kh, kw = spec["kernel"]
        stride = spec["stride"]
        # 'SAME' at stride 1 with an odd kernel is symmetric: let the conv pad it.
        static = spec["padding"] == "same" and stride == 1 and kh % 2 == 1 and kw % 2 == 1
        super().__init__(
            spec["in_channels"],
            spec["out_channels"],
            (kh, kw),
            stride=stride,
            padding=(kh // 2, kw // 2) if static else 0,
            groups=spec["groups"],
        )
        self.dynamic_same = spec["padding"] == "same" and not static
        self.act = activation_layer(spec["activation"])

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C', H', W'); TF's "same" (H' = ceil(H / stride)) or "valid"."""
        if self.dynamic_same:  # asymmetric for stride 2: depends on the input size
            top, bottom = same_padding(x.shape[2], self.kernel_size[0], self.stride[0])
            left, right = same_padding(x.shape[3], self.kernel_size[1], self.stride[1])
            x = F.pad(x, (left, right, top, bottom))
        return self.act(super().forward(x))


class TfAdd(nn.Module):
    def __init__(self, spec: dict) -> None:
        super().__init__()
        self.act = activation_layer(spec["activation"])

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """a, b (B, C, H, W) -> activation(a + b), same shape."""
        return self.act(a + b)


class TfPad(nn.Module):
    """Zero padding of height, width and channels (heavy pads channels on some residuals)."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        (top, bottom), (left, right), (front, back) = spec["pads"]
        self.pads = (left, right, top, bottom, front, back)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C + front + back, H + top + bottom, W + left + right)."""
        return F.pad(x, self.pads)


class TfResizeBilinear(nn.Module):
    """Integer upsampling; TFLite's half-pixel centres equal torch's align_corners=False."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self.scale = int(spec["scale"])
        self.align_corners = bool(spec["align_corners"])

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, scale * H, scale * W)."""
        size = (x.shape[2] * self.scale, x.shape[3] * self.scale)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=self.align_corners)


class TfMaxPool2d(nn.Module):
    def __init__(self, spec: dict) -> None:
        super().__init__()
        self.kernel = tuple(spec["kernel"])
        self.stride = int(spec["stride"])
        self.same = spec["padding"] == "same"

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, C, H', W'); TF's "same" (H' = ceil(H / stride)) or "valid"."""
        if self.same:  # TF ignores padded cells: pad with -inf
            top, bottom = same_padding(x.shape[2], self.kernel[0], self.stride)
            left, right = same_padding(x.shape[3], self.kernel[1], self.stride)
            x = F.pad(x, (left, right, top, bottom), value=float("-inf"))
        return F.max_pool2d(x, self.kernel, self.stride)


class TfReshape(nn.Module):
    """Reshape in TFLite's NHWC element order (batch kept)."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self.shape = tuple(spec["shape"])

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, *shape), read in NHWC order."""
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], *self.shape)


class TfSigmoid(nn.Module):
    def __init__(self, spec: dict) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        """Logistic of any shape."""
        return torch.sigmoid(x)


LAYERS: dict[str, type[nn.Module]] = {
    "conv": TfConv2d,
    "add": TfAdd,
    "pad": TfPad,
    "resize_bilinear": TfResizeBilinear,
    "max_pool": TfMaxPool2d,
    "reshape": TfReshape,
    "sigmoid": TfSigmoid,
}


def required_nodes(nodes: Sequence[dict], targets: Iterable[str]) -> list[dict]:
    """The nodes (in execution order) that the target node names depend on."""
    by_name = {n["name"]: n for n in nodes}
    needed: set[str] = set()
    stack = list(targets)
    while stack:
        name = stack.pop()
        if name in by_name and name not in needed:
            needed.add(name)
            stack.extend(by_name[name]["inputs"])
    return [n for n in nodes if n["name"] in needed]


class BlazePoseNet(nn.Module):
    """Graph-executing port of a BlazePose landmark model.

    ``forward(image)`` returns a dict of the requested named tensors, NCHW:
    ``features_s4`` (B, 48, H/4, W/4) for full, ``features_s8/s16/s32`` (decoder),
    ``heatmap`` (B, 39, H/4, W/4), ``segmentation`` (B, 1, H, W) logits, and at 256x256
    ``landmarks`` (B, 195) = 39 x (x, y, z, visibility logit, presence logit) in input px,
    ``world_landmarks`` (B, 117) and ``pose_flag`` (B, 1).
    """

    def __init__(self, graph: dict, outputs: Sequence[str] | None = None) -> None:
        super().__init__()
        if graph.get("format") != FORMAT or graph.get("format_version") != FORMAT_VERSION:
            raise BlazePoseNetError(
                f"graph is not {FORMAT} version {FORMAT_VERSION} (re-run convert_blazepose.py)"
            )
        named = graph["outputs"]
        self.output_names = tuple(outputs) if outputs is not None else tuple(named)
        unknown = [o for o in self.output_names if o not in named]
        if unknown:
            raise BlazePoseNetError(f"unknown outputs {unknown}; available: {sorted(named)}")
        self._targets = {o: named[o] for o in self.output_names}
        nodes = required_nodes(graph["nodes"], self._targets.values())
        unsupported = {n["op"] for n in nodes} - LAYERS.keys()
        if unsupported:
            raise BlazePoseNetError(f"graph uses unsupported ops {sorted(unsupported)}")
        self.layers = nn.ModuleDict({n["name"]: LAYERS[n["op"]](n) for n in nodes})
        self._plan = [(n["name"], tuple(n["inputs"])) for n in nodes]
        self.input_name = graph["input"]["name"]
        self.multiple = int(graph["input"]["divisible_by"])
        shapes = {n["name"]: n["shape_at_input_size"] for n in graph["nodes"]}
        self.channels = {o: shapes[t][-1] for o, t in self._targets.items()}
        self.source = graph["source"]

    @classmethod
    def from_files(
        cls, weights_path: Path | str = DEFAULT_WEIGHTS, outputs: Sequence[str] | None = None
    ) -> BlazePoseNet:
        """Load ``<name>.safetensors`` and its graph ``<name>.json``; weights become fp32."""
        weights_path = Path(weights_path)
        graph_path = weights_path.with_suffix(".json")
        for path in (weights_path, graph_path):
            if not path.is_file():
                raise BlazePoseNetError(
                    f"{path} not found (create it with tools/convert_blazepose.py)"
                )
        try:
            graph = json.loads(graph_path.read_text())
            with safe_open(str(weights_path), framework="pt") as f:
                metadata = f.metadata() or {}
                state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (not a dict)
        except (OSError, ValueError, SafetensorError) as exc:
            raise BlazePoseNetError(f"cannot read {weights_path} / {graph_path}: {exc}") from exc
        if metadata.get("source_sha256") != graph.get("source_sha256"):
            raise BlazePoseNetError(f"{weights_path} and {graph_path} come from different models")
        net = cls(graph, outputs)
        wanted = net.state_dict().keys()
        try:
            net.load_state_dict({k: state[k].float() for k in wanted}, strict=True)
        except (KeyError, RuntimeError) as exc:
            raise BlazePoseNetError(f"{weights_path} does not fit its graph: {exc}") from exc
        return net

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """(B, 3, H, W) RGB in [0, 1] -> {output name: tensor}."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, H, W) image batch, got {tuple(image.shape)}")
        if image.shape[2] % self.multiple or image.shape[3] % self.multiple:
            raise ValueError(
                f"image height and width must be multiples of {self.multiple}, "
                f"got {tuple(image.shape[2:])}"
            )
        env = {self.input_name: image}
        for name, inputs in self._plan:
            env[name] = self.layers[name](*(env[i] for i in inputs))
        return {o: env[t] for o, t in self._targets.items()}
