"""onnxruntime session options shared by every ONNX model run on the CPU (the MeshPose
network's export and the YOLOX person detector)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime


def cpu_session_options(threads: int) -> onnxruntime.SessionOptions:
    """``threads`` intra-op threads, one inter-op, and idle threads that sleep instead of
    spinning: spinning ones starve decoding, rendering and encoding between calls (measured
    33 vs 15-20 FPS end to end on a busy 2-core box)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
