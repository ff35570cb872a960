"""Convert a BlazePose landmark model (.tflite) into our PyTorch graph: JSON + safetensors.

Build-time only (needs the PyPI ``tflite`` package to read the flatbuffer). The JSON lists the
layers in execution order with their inputs and TFLite semantics (padding mode, stride, fused
activation, resize flags); ``meshpose_core.model.blazepose_net.BlazePoseNet`` builds itself
from it, so the full and heavy models both convert without model-specific code. Weights are
stored in PyTorch layout (OIHW) and in their source precision: the models keep them as fp16
behind DEQUANTIZE ops, so fp16 storage is lossless.

Usage:
    python tools/convert_blazepose.py assets/blazepose/pose_landmark_full.tflite \\
        weights/blazepose_full_backbone
writes ``weights/blazepose_full_backbone.json`` and ``.safetensors``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tflite
import torch
from safetensors.torch import save_file

FORMAT = "meshpose-blazepose-graph"
FORMAT_VERSION = 1
INPUT_NAME = "image"
ACTIVATIONS = {
    tflite.ActivationFunctionType.NONE: "none",
    tflite.ActivationFunctionType.RELU: "relu",
    tflite.ActivationFunctionType.RELU6: "relu6",
}
PADDINGS = {tflite.Padding.SAME: "same", tflite.Padding.VALID: "valid"}
TENSOR_DTYPES = {
    tflite.TensorType.FLOAT32: np.float32,
    tflite.TensorType.FLOAT16: np.float16,
    tflite.TensorType.INT32: np.int32,
}
# Graph outputs of the BlazePose landmark models, told apart by their shape (batch dropped).
OUTPUT_NAMES = {
    (195,): "landmarks",  # 39 x (x, y, z, visibility, presence) in input pixels
    (1,): "pose_flag",  # probability that a person is in the crop
    (256, 256, 1): "segmentation",  # logits
    (64, 64, 39): "heatmap",
    (117,): "world_landmarks",  # 39 x (x, y, z) metres, hip-centred
}
NODE_PREFIX = {"resize_bilinear": "up", "max_pool": "pool"}  # otherwise the op name


class ConversionError(RuntimeError):
    """The model uses an op or option this converter (and BlazePoseNet) does not implement."""


@dataclass(frozen=True)
class TfliteOp:
    """One operator of the flatbuffer, with its options table left to the handlers."""

    index: int
    name: str  # BuiltinOperator name, e.g. "CONV_2D"
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    raw: Any  # tflite.Operator


class TfliteReader:
    """Tensors, constants and operators of the single subgraph of a .tflite file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.model = tflite.Model.GetRootAsModel(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise ConversionError("expected a single-subgraph model")
        self.graph = self.model.Subgraphs(0)
        op_names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.ops = []
        for i in range(self.graph.OperatorsLength()):
            op = self.graph.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            self.ops.append(
                TfliteOp(
                    i,
                    op_names[builtin],
                    tuple(int(t) for t in op.InputsAsNumpy()),
                    tuple(int(t) for t in op.OutputsAsNumpy()),
                    op,
                )
            )
        # DEQUANTIZE only turns fp16 constants into fp32 ones: read through it.
        self.dequantized = {
            op.outputs[0]: op.inputs[0] for op in self.ops if op.name == "DEQUANTIZE"
        }

    def shape(self, tensor: int) -> tuple[int, ...]:
        t = self.graph.Tensors(tensor)
        return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()

    def constant(self, tensor: int) -> np.ndarray:
        """Value of a constant tensor (fp16 behind a DEQUANTIZE stays fp16)."""
        tensor = self.dequantized.get(tensor, tensor)
        t = self.graph.Tensors(tensor)
        buffer = self.model.Buffers(t.Buffer())
        if buffer.Offset() > 1:  # large models keep buffers after the flatbuffer
            raw = self.data[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            raw = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
        if not raw:
            raise ConversionError(f"tensor {tensor} is not a constant")
        dtype = TENSOR_DTYPES.get(t.Type())
        if dtype is None:
            raise ConversionError(f"tensor {tensor} has unsupported type {t.Type()}")
        return np.frombuffer(raw, dtype=dtype).reshape(self.shape(tensor))

    def options(self, op: TfliteOp, cls: type) -> Any:
        table = op.raw.BuiltinOptions()
        opts = cls()
        opts.Init(table.Bytes, table.Pos)
        return opts


def activation(code: int) -> str:
    if code not in ACTIVATIONS:
        raise ConversionError(f"unsupported fused activation {code}")
    return ACTIVATIONS[code]


Converted = tuple[dict, dict[str, np.ndarray]]  # node description, weights by short key


def convert_conv(reader: TfliteReader, op: TfliteOp) -> Converted:
    """CONV_2D / DEPTHWISE_CONV_2D: NHWC kernels to torch OIHW (depthwise: groups = C)."""
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    opts = reader.options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
    if opts.DilationHFactor() != 1 or opts.DilationWFactor() != 1:
        raise ConversionError(f"op {op.index}: dilated convolutions are not supported")
    if opts.StrideH() != opts.StrideW():
        raise ConversionError(f"op {op.index}: anisotropic strides are not supported")
    if depthwise and opts.DepthMultiplier() != 1:
        raise ConversionError(f"op {op.index}: depth multiplier != 1 is not supported")
    kernel = reader.constant(op.inputs[1])
    in_channels = reader.shape(op.inputs[0])[-1]
    # depthwise (1, kh, kw, C) -> (C, 1, kh, kw); regular (O, kh, kw, I) -> (O, I, kh, kw)
    weight = kernel.transpose(3, 0, 1, 2) if depthwise else kernel.transpose(0, 3, 1, 2)
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    bias = reader.constant(op.inputs[2]) if has_bias else np.zeros(weight.shape[0], weight.dtype)
    node = {
        "op": "conv",
        "in_channels": in_channels,
        "out_channels": int(weight.shape[0]),
        "kernel": [int(weight.shape[2]), int(weight.shape[3])],
        "stride": int(opts.StrideH()),
        "padding": PADDINGS[opts.Padding()],
        "groups": in_channels if depthwise else 1,
        "activation": activation(opts.FusedActivationFunction()),
    }
    return node, {"weight": np.ascontiguousarray(weight), "bias": bias}


def convert_add(reader: TfliteReader, op: TfliteOp) -> Converted:
    if reader.shape(op.inputs[0]) != reader.shape(op.inputs[1]):
        raise ConversionError(f"op {op.index}: broadcasting ADD is not supported")
    opts = reader.options(op, tflite.AddOptions)
    return {"op": "add", "activation": activation(opts.FusedActivationFunction())}, {}


def convert_pad(reader: TfliteReader, op: TfliteOp) -> Converted:
    (n0, n1), (top, bottom), (left, right), (c0, c1) = reader.constant(op.inputs[1]).tolist()
    if n0 or n1:
        raise ConversionError(f"op {op.index}: padding the batch is not supported")
    return {"op": "pad", "pads": [[top, bottom], [left, right], [c0, c1]]}, {}


def convert_resize(reader: TfliteReader, op: TfliteOp) -> Converted:
    """Stored as an integer scale (not TFLite's fixed size) so other input sizes work."""
    opts = reader.options(op, tflite.ResizeBilinearOptions)
    in_hw, out_hw = reader.shape(op.inputs[0])[1:3], reader.shape(op.outputs[0])[1:3]
    scale = out_hw[0] // in_hw[0]
    if out_hw != (in_hw[0] * scale, in_hw[1] * scale):
        raise ConversionError(f"op {op.index}: resize {in_hw}->{out_hw} is no integer scale")
    if not opts.AlignCorners() and not opts.HalfPixelCenters():
        raise ConversionError(f"op {op.index}: legacy (asymmetric) resize is not supported")
    node = {"op": "resize_bilinear", "scale": scale, "align_corners": bool(opts.AlignCorners())}
    return node, {}


def convert_max_pool(reader: TfliteReader, op: TfliteOp) -> Converted:
    opts = reader.options(op, tflite.Pool2DOptions)
    if opts.StrideH() != opts.StrideW() or opts.FusedActivationFunction():
        raise ConversionError(f"op {op.index}: unsupported max-pool options")
    node = {
        "op": "max_pool",
        "kernel": [int(opts.FilterHeight()), int(opts.FilterWidth())],
        "stride": int(opts.StrideH()),
        "padding": PADDINGS[opts.Padding()],
    }
    return node, {}


def convert_reshape(reader: TfliteReader, op: TfliteOp) -> Converted:
    return {"op": "reshape", "shape": list(reader.shape(op.outputs[0])[1:])}, {}


def convert_logistic(reader: TfliteReader, op: TfliteOp) -> Converted:
    return {"op": "sigmoid"}, {}


CONVERTERS = {
    "CONV_2D": convert_conv,
    "DEPTHWISE_CONV_2D": convert_conv,
    "ADD": convert_add,
    "PAD": convert_pad,
    "RESIZE_BILINEAR": convert_resize,
    "MAX_POOL_2D": convert_max_pool,
    "RESHAPE": convert_reshape,
    "LOGISTIC": convert_logistic,
}


def name_features(nodes: list[dict], outputs: dict[str, str]) -> dict[str, str]:
    """Name the decoder's feature maps by stride, walking up from the heatmap head.

    ``features_s4`` feeds the heatmap conv; each ``features_s{k}`` is the sum of the
    upsampled ``features_s{2k}`` and a skip connection.
    """
    by_name = {n["name"]: n for n in nodes}
    names = {"features_s4": by_name[outputs["heatmap"]]["inputs"][0]}
    stride, current = 4, names["features_s4"]
    while by_name.get(current, {}).get("op") == "add":
        ups = [
            i
            for i in by_name[current]["inputs"]
            if by_name.get(i, {}).get("op") == "resize_bilinear"
        ]
        if len(ups) != 1:
            break
        stride, current = stride * by_name[ups[0]]["scale"], by_name[ups[0]]["inputs"][0]
        names[f"features_s{stride}"] = current
    return names


def convert(data: bytes, source_name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """The whole model -> (graph description, weights keyed like BlazePoseNet's state dict)."""
    reader = TfliteReader(data)
    graph_inputs = [int(t) for t in reader.graph.InputsAsNumpy()]
    if len(graph_inputs) != 1:
        raise ConversionError("expected a single image input")
    input_shape = reader.shape(graph_inputs[0])
    producer = {graph_inputs[0]: INPUT_NAME}
    nodes: list[dict] = []
    weights: dict[str, torch.Tensor] = {}
    for op in reader.ops:
        if op.name == "DEQUANTIZE":
            continue
        if op.name not in CONVERTERS:
            raise ConversionError(f"op {op.index}: {op.name} is not supported")
        spec, params = CONVERTERS[op.name](reader, op)
        name = f"{NODE_PREFIX.get(spec['op'], spec['op'])}{len(nodes):03d}"
        activations = [t for t in op.inputs if t >= 0 and t in producer]
        node = {"name": name, "inputs": [producer[t] for t in activations], **spec}
        node["shape_at_input_size"] = list(reader.shape(op.outputs[0])[1:])  # NHWC, no batch
        nodes.append(node)
        producer[op.outputs[0]] = name
        weights.update(
            {f"layers.{name}.{k}": torch.from_numpy(v.copy()) for k, v in params.items()}
        )
    outputs = {}
    for tensor in reader.graph.OutputsAsNumpy():
        key = reader.shape(int(tensor))[1:]
        if key not in OUTPUT_NAMES:
            raise ConversionError(f"unexpected graph output of shape {key}")
        outputs[OUTPUT_NAMES[key]] = producer[int(tensor)]
    outputs.update(name_features(nodes, outputs))
    graph = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "source": source_name,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "input": {
            "name": INPUT_NAME,
            "size": list(input_shape[1:3]),
            "channels": "RGB",
            "range": [0.0, 1.0],
            "divisible_by": 32,
        },
        "outputs": outputs,
        "nodes": nodes,
    }
    return graph, weights


def graph_to_json(graph: dict) -> str:
    """Readable JSON: one line per node, so the graph diffs and greps well."""
    head = {k: v for k, v in graph.items() if k != "nodes"}
    text = json.dumps(head, indent=1)[:-2]
    nodes = ",\n  ".join(json.dumps(node) for node in graph["nodes"])
    return f'{text},\n "nodes": [\n  {nodes}\n ]\n}}\n'


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tflite", type=Path, help="pose_landmark_{lite,full,heavy}.tflite")
    parser.add_argument("out", type=Path, help="output path without suffix")
    args = parser.parse_args(argv)
    data = args.tflite.read_bytes()
    graph, weights = convert(data, args.tflite.name)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "source": graph["source"],
        "source_sha256": graph["source_sha256"],
    }
    save_file(weights, str(args.out.with_suffix(".safetensors")), metadata=metadata)
    args.out.with_suffix(".json").write_text(graph_to_json(graph))
    params = sum(w.numel() for w in weights.values())
    print(f"{args.tflite.name}: {len(graph['nodes'])} layers, {params / 1e6:.2f} M parameters")
    print(f"named tensors: {', '.join(graph['outputs'])}")


if __name__ == "__main__":
    main()
