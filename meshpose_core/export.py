"""ONNX export of MeshPose: normalised crops -> (vertices, visibility[, iuv]).

    python -m meshpose_core.export --model xs --out model.onnx [--iuv] [--random-init]

The graph holds the network and its decoding (argsoftmaxes, visibility fusion and, with
--iuv, the barycentric UV decoder); upsampling and keypoints run after it in ``Finisher``,
shared with the PyTorch path.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from meshpose_core.model.checkpoint import CheckpointError, load_checkpoint, resolve_weights
from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.inference import drop_zero_rows, fold_batchnorm
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.topology import Topology

# Bumped whenever the exported graph changes for the same weights: keys the ONNX cache.
EXPORT_VERSION = 2


class ExportWrapper(nn.Module):
    """forward + decode with the topology as constants, for tracing."""

    def __init__(self, net: MeshPoseNet, want_iuv: bool) -> None:
        super().__init__()
        self.net = net
        self.want_iuv = want_iuv
        self.topology = TopologyArrays.from_topology(Topology.load("low"), torch.device("cpu"))

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net.decode(self.net(crops), self.topology, self.want_iuv)
        if self.want_iuv:
            return out["vertices"], out["visibility"], out["iuv"]
        return out["vertices"], out["visibility"]


def export_onnx(net: MeshPoseNet, out: Path, want_iuv: bool = False, opset: int = 17) -> Path:
    """Write ``out`` with a dynamic batch axis; returns the path."""
    net = fold_batchnorm(net.eval())
    drop_zero_rows(net)
    wrapper = ExportWrapper(net, want_iuv).eval()
    h, w = net.cfg.input_size
    names = ["vertices", "visibility"] + (["iuv"] if want_iuv else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is the one that needs no onnxscript; it warns it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)  # constant-folding notes of the tracer
        torch.onnx.export(
            wrapper,
            (torch.randn(1, 3, h, w),),
            str(out),
            input_names=["crops"],
            output_names=names,
            dynamic_axes={"crops": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=opset,
            dynamo=False,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export MeshPose to ONNX.")
    ap.add_argument("--model", default="xs", help="xs | s | l (shipped weights) or a checkpoint")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--iuv", action="store_true", help="include the dense IUV output")
    ap.add_argument(
        "--random-init",
        action="store_true",
        help="export the untrained architecture of a preset (for benchmarks and tests)",
    )
    args = ap.parse_args(argv)
    try:
        if args.random_init:
            net = MeshPoseNet(MeshPoseConfig.preset(args.model))
        else:
            net, _ = load_checkpoint(resolve_weights(args.model))
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = export_onnx(net, args.out, args.iuv)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
