"""Per backbone: parameters, MACs, CPU latency (torch and onnxruntime, batch 1 and 8) and, on
a CUDA machine, GPU latency and throughput — network plus vertex decoding, optionally IUV."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from meshpose_core.export import export_onnx
from meshpose_core.model.decoding import TopologyArrays
from meshpose_core.model.inference import keep_freed_memory, prepare_for_inference
from meshpose_core.model.meshpose import MeshPoseConfig, MeshPoseNet
from meshpose_core.resources import asset_path
from meshpose_core.timing import time_call
from meshpose_core.topology import Topology


def count_macs(net: nn.Module, input_size: tuple[int, int]) -> int:
    """Multiply-accumulates of one forward pass at batch 1 (convolutions and linear layers)."""
    total = 0

    def hook(module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            per_out = module.in_channels // module.groups * int(np.prod(module.kernel_size))
            total += out.numel() * per_out
        elif isinstance(module, nn.Linear):
            total += out.numel() * module.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in net.modules()
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear))
    ]
    with torch.no_grad():
        net.eval()(torch.zeros(1, 3, *input_size))
    for h in handles:
        h.remove()
    return total


@dataclass
class ModelFigures:
    preset: str
    backbone: str
    input_size: tuple[int, int]
    params_m: float
    gmacs: float
    cpu_ms: dict[str, float]  # "torch b1", "torch b8", "onnx b1", "onnx b8": ms per crop
    gpu: dict[str, float]  # "b1 ms", "b32 crops/s" (empty without CUDA)


def bench_preset(name: str, batches: tuple[int, ...], want_iuv: bool, threads: int) -> ModelFigures:
    cfg = MeshPoseConfig.preset(name)
    net = MeshPoseNet(cfg).eval()
    params = sum(p.numel() for p in net.parameters()) / 1e6
    gmacs = count_macs(net, cfg.input_size) / 1e9
    topo = TopologyArrays.from_topology(Topology.load("low"), torch.device("cpu"))
    cpu: dict[str, float] = {}
    torch.set_num_threads(threads)
    cpu_net = prepare_for_inference(MeshPoseNet(cfg))
    with torch.inference_mode():
        for b in batches:
            x = torch.randn(b, 3, *cfg.input_size).contiguous(memory_format=torch.channels_last)
            lat = time_call(
                lambda x=x: cpu_net.predict(x, topo, want_iuv),
                rounds=3,
                iters=5 if b == 1 else 2,
                warmup=2,
            )
            cpu[f"torch b{b}"] = lat.best_round_ms / b
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(MeshPoseNet(cfg), Path(tmp) / "m.onnx", want_iuv)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        for b in batches:
            x = np.random.default_rng(0).uniform(0, 255, (b, *cfg.input_size, 3))
            x = x.astype(np.float32)  # the export takes pixels
            lat = time_call(
                lambda x=x: sess.run(None, {"crops": x}),
                rounds=3,
                iters=5 if b == 1 else 2,
                warmup=2,
            )
            cpu[f"onnx b{b}"] = lat.best_round_ms / b
    gpu: dict[str, float] = {}
    if torch.cuda.is_available():
        dev = torch.device("cuda")
        gnet = MeshPoseNet(cfg).to(dev).eval()
        gtopo = TopologyArrays.from_topology(Topology.load("low"), dev)

        def run(x: torch.Tensor) -> None:
            with torch.autocast("cuda", dtype=torch.float16):
                gnet.predict(x, gtopo, want_iuv)
            torch.cuda.synchronize()

        with torch.inference_mode():
            for b in (1, 32):
                x = torch.randn(b, 3, *cfg.input_size, device=dev)
                lat = time_call(lambda x=x: run(x), rounds=3, iters=10, warmup=5)
                if b == 1:
                    gpu["b1 ms"] = lat.best_round_ms
                else:
                    gpu["b32 crops/s"] = 1000 * b / lat.best_round_ms
    return ModelFigures(name, cfg.backbone, cfg.input_size, params, gmacs, cpu, gpu)


def run(presets: list[str], batches: tuple[int, ...], want_iuv: bool, threads: int) -> None:
    keep_freed_memory()
    print(
        f"# MeshPose network + decoding{' + IUV' if want_iuv else ''}, CPU threads {threads}"
        f"{', GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else ''}"
    )
    for name in presets:
        f = bench_preset(name, batches, want_iuv, threads)
        cpu = "  ".join(f"{k} {v:6.1f}" for k, v in f.cpu_ms.items())
        gpu = "  ".join(f"{k} {v:.1f}" for k, v in f.gpu.items()) or "no GPU"
        print(
            f"{f.preset:>2} {f.backbone:<12} {f.input_size[0]}x{f.input_size[1]}  "
            f"params {f.params_m:5.2f}M  MACs {f.gmacs:5.2f}G  CPU ms/crop: {cpu}  GPU: {gpu}",
            flush=True,
        )


def run_backends(model: str, threads: int) -> dict[str, float]:
    """Batch-1 ``infer`` ms (normalisation + network + decoding) of trained weights on every
    CPU backend that can run them, next to BlazePose-full's landmark model on LiteRT (crop
    input in both); prints and returns the figures."""
    from ai_edge_litert.interpreter import Interpreter

    from meshpose_core.model.checkpoint import file_sha256
    from meshpose_core.pipeline.network import cache_dir, cached_onnx, model_path, tflite_for
    from meshpose_core.predictor import LiteRtMeshPose, MeshPose, OnnxMeshPose

    keep_freed_memory()
    weights = model_path(model)
    sha, directory = file_sha256(weights), cache_dir(None)
    runners = {
        "torch": MeshPose.from_pretrained(weights, "cpu"),
        "onnxruntime": OnnxMeshPose(cached_onnx(weights, False, directory, sha), threads),
    }
    tflite = tflite_for(weights, directory, sha)
    if tflite is not None:
        runners["litert"] = LiteRtMeshPose(tflite, threads)
    figures = {}
    for name, runner in runners.items():
        # as the pipeline does: torch's own threads only for torch (idle OpenMP threads spin
        # against the other runtimes' threads)
        torch.set_num_threads(threads if name == "torch" else 1)
        crop = np.random.default_rng(0).integers(0, 256, (1, *runner.input_size, 3), np.uint8)
        lat = time_call(lambda r=runner, c=crop: r.infer(c), rounds=5, iters=20, warmup=5)
        figures[f"MeshPose {weights.stem} {name}"] = lat.best_round_ms
    landmark = asset_path("blazepose", "pose_landmark_full.tflite")
    interp = Interpreter(model_path=str(landmark), num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    image = np.random.default_rng(0).random(inp["shape"], np.float32)

    def blazepose() -> None:
        interp.set_tensor(inp["index"], image)
        interp.invoke()

    figures["BlazePose-full landmark litert"] = time_call(
        blazepose, rounds=5, iters=20, warmup=5
    ).best_round_ms
    print(f"# batch-1 crop -> vertices, CPU threads {threads} (best round's median ms)")
    for name, ms in figures.items():
        print(f"{name:<48} {ms:6.2f} ms")
    return figures
