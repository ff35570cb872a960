"""ONNX and LiteRT (TFLite) export of MeshPose: crop pixels -> (vertices, visibility[, iuv]).

    python -m meshpose_core.export --out model.onnx [--model xs_bp] [--iuv]
    python -m meshpose_core.export --model xs --random-init --out xs.onnx  # untrained preset
    python -m meshpose_core.export --model xs_bp --format tflite --out weights/x.tflite

The graph takes (B, H, W, 3) float RGB pixels 0..255 (the pipeline's crops, only cast) and
holds their normalisation, the network and its decoding (argsoftmaxes, visibility fusion and, with
--iuv, the barycentric UV decoder); upsampling and keypoints run after it in ``Finisher``,
shared with the PyTorch path.

The TFLite file runs on LiteRT's XNNPACK CPU kernels, as BlazePose does: measured on two
cores, XS-BP batch 1 3.0 ms vs 5.6 ms in onnxruntime (XNNPACK's threads scale far better on
this small graph). Converting needs ``litert-torch`` (requirements-convert.txt: heavy, a
developer tool); running needs only ``ai-edge-litert``. A sidecar ``<file>.json`` records the
weights' SHA-256 and ``EXPORT_VERSION``, so the pipeline uses the file only with the weights
it was made from.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

from meshpose_core.model.checkpoint import (
    DEFAULT_MODEL,
    PRESET_NAMES,
    CheckpointError,
    file_sha256,
    load_checkpoint,
    resolve_weights,
)
from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.inference import drop_zero_rows, fold_batchnorm
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet, normalise_pixels
from meshpose_core.topology import Topology

# Bumped whenever the exported graph changes for the same weights: keys the ONNX cache and
# the TFLite sidecar. 3: pixels (B, H, W, 3) in, normalised in the graph. 4: the VertexPose
# prior as a matrix product (score maps made row-major, no transpose before the softmax).
# 5: the argsoftmax cell grid a constant (one XNNPACK partition instead of two).
# 6: the foreground output (B, 1, H/4, W/4), which the finishing step fits the outline to.
EXPORT_VERSION = 6


class ExportWrapper(nn.Module):
    """Pixels -> normalise -> forward -> decode, with the topology as constants, for
    tracing."""

    def __init__(self, net: MeshPoseNet, want_iuv: bool) -> None:
        super().__init__()
        self.net = net
        self.want_iuv = want_iuv
        self.topology = TopologyArrays.from_topology(Topology.load("low"), torch.device("cpu"))

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """pixels (B, H, W, 3) float RGB 0..255 -> vertices (B, 518, 3) crop px, visibility
        (B, 518) in [0, 1], foreground (B, 1, H/4, W/4) in [0, 1] (rank 4: LiteRT's outputs
        are told apart by rank) and, with ``want_iuv``, iuv (B, 3, H/4, W/4)
        (``DecodedMesh``)."""
        out = self.net.decode(self.net(normalise_pixels(pixels)), self.topology, self.want_iuv)
        mesh = (out.vertices, out.visibility, out.foreground[:, None])
        return (*mesh, out.iuv) if out.iuv is not None else mesh


def export_onnx(net: MeshPoseNet, out: Path, want_iuv: bool = False, opset: int = 17) -> Path:
    """Write ``out`` with a dynamic batch axis; returns the path."""
    net = fold_batchnorm(net.eval())
    drop_zero_rows(net)
    wrapper = ExportWrapper(net, want_iuv).eval()
    h, w = net.cfg.input_size
    names = ["vertices", "visibility", "foreground"] + (["iuv"] if want_iuv else [])
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is the one that needs no onnxscript; it warns it is legacy
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)  # constant-folding notes of the tracer
        torch.onnx.export(
            wrapper,
            (torch.rand(1, h, w, 3) * 255,),
            str(out),
            input_names=["crops"],
            output_names=names,
            dynamic_axes={"crops": {0: "batch"}, **{n: {0: "batch"} for n in names}},
            opset_version=opset,
            dynamo=False,
        )
    return out


class ConverterUnavailable(RuntimeError):  # noqa: N818 - reads as a state
    """litert-torch (the PyTorch -> TFLite converter) is not installed."""


def export_tflite(net: MeshPoseNet, out: Path, weights_sha256: str | None = None) -> Path:
    """Write ``out`` (batch 1, mesh outputs only) and, given the weights' SHA-256, the sidecar
    ``out.json`` that ``tflite_sidecar_matches`` checks; returns the path."""
    try:
        import litert_torch
    except ImportError as exc:
        raise ConverterUnavailable(
            "TFLite export needs litert-torch: pip install -r requirements-convert.txt"
        ) from exc
    net = fold_batchnorm(net.eval())
    drop_zero_rows(net)
    wrapper = ExportWrapper(net, want_iuv=False).eval()
    h, w = net.cfg.input_size
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        litert_torch.convert(wrapper, (torch.rand(1, h, w, 3) * 255,)).export(str(out))
    if weights_sha256 is not None:
        meta = {
            "weights_sha256": weights_sha256,
            "export_version": EXPORT_VERSION,
            # not in the graph (the predictors' finishing step widens): a .tflite run on its
            # own still draws the outline its weights were fitted with
            "outline_scales": list(net.cfg.outline_scales),
        }
        sidecar(out).write_text(json.dumps(meta, indent=1) + "\n")
    return out


def sidecar(tflite: Path) -> Path:
    return tflite.with_name(tflite.name + ".json")


def sidecar_outline_scales(tflite: Path) -> tuple[float, ...]:
    """The outline scales the sidecar records; () when it has none (or there is none)."""
    try:
        meta = json.loads(sidecar(tflite).read_text())
        return tuple(float(s) for s in meta.get("outline_scales", ()))
    except (OSError, ValueError, TypeError, AttributeError):
        return ()


def tflite_sidecar_matches(tflite: Path, weights_sha256: str) -> bool:
    """Whether ``tflite`` was exported, by this code's graph, from weights with this hash."""
    try:
        meta = json.loads(sidecar(tflite).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(meta, dict)
        and meta.get("weights_sha256") == weights_sha256
        and meta.get("export_version") == EXPORT_VERSION
        and tflite.is_file()
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export MeshPose to ONNX or TFLite (LiteRT).")
    ap.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"{' | '.join(PRESET_NAMES)} (weights/meshpose_<name>.safetensors; only "
        f"{DEFAULT_MODEL} ships) or a checkpoint path",
    )
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--format", choices=("onnx", "tflite"), default="onnx")
    ap.add_argument("--iuv", action="store_true", help="include the dense IUV output")
    ap.add_argument(
        "--random-init",
        action="store_true",
        help="export the untrained architecture of a preset (for benchmarks and tests)",
    )
    args = ap.parse_args(argv)
    sha = None
    try:
        if args.random_init:
            net = MeshPoseNet(MeshPoseConfig.preset(args.model))
        else:
            weights = resolve_weights(args.model)
            net, _ = load_checkpoint(weights)
            sha = file_sha256(weights)
    except (CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.format == "tflite":
        if args.iuv:
            print("error: the TFLite export has no IUV output (use ONNX)", file=sys.stderr)
            return 2
        try:
            path = export_tflite(net, args.out, sha)
        except ConverterUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        path = export_onnx(net, args.out, args.iuv)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
