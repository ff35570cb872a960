"""One glTF 2.0 binary (.glb) per run: every tracked person as an animated mesh.

Each track is a node with the 6890-vertex mesh (split at UV seams into 7050 glTF vertices,
``TEXCOORD_0`` from the texture atlas, ``meshpose_core.tryon.atlas``'s layout) and one morph
target per frame it was seen in; the animation ``meshpose`` switches the targets' weights with
STEP interpolation at the frames' timestamps (the mesh-cache scheme Blender imports as shape
keys and three.js plays with ``AnimationMixer``), and scales the node to 0 while the person
is not tracked. Positions are the camera-space meshes (``camera_space``: metres) turned into
glTF's frame (x right, y up, z toward the viewer), so the scene's origin is the camera and
people stand where they were. The file is assembled with ``pygltflib`` at ``close``: the
meshes are kept in memory until then (~83 KB per person and frame; a 10 s clip of one person
at 30 fps gives a ~26 MB file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from meshpose_core.topology import Topology

from .results import FrameResult
from .sinks import Sink, SinkError, _parent_ready

# OpenCV camera frame (x right, y down, z forward) -> glTF (x right, y up, z backward)
CAMERA_TO_GLTF = np.array([1.0, -1.0, -1.0], np.float32)


@dataclass(frozen=True)
class SplitMesh:
    """The high mesh with a vertex per distinct (vertex, UV) corner: source (N,) high-mesh
    vertex of each glTF vertex, uv (N, 2) glTF texture coordinates (v down), faces (F, 3)."""

    source: np.ndarray
    uv: np.ndarray
    faces: np.ndarray

    @classmethod
    def from_topology(cls, topo: Topology) -> SplitMesh:
        uv_ids, uv_index = np.unique(
            topo.corner_atlas_uv.reshape(-1, 2).round(6), axis=0, return_inverse=True
        )
        corners = np.stack([topo.faces.reshape(-1), uv_index.reshape(-1)], axis=1)
        unique, corner_vertex = np.unique(corners, axis=0, return_inverse=True)
        uv = uv_ids[unique[:, 1]] * np.float32([1, -1]) + np.float32([0, 1])
        return cls(
            source=unique[:, 0],
            uv=uv.astype(np.float32),
            faces=corner_vertex.reshape(-1, 3).astype(np.uint32),
        )


@dataclass
class _Track:
    frames: list[int] = field(default_factory=list)  # run frame numbers (0-based, in order)
    vertices: list[np.ndarray] = field(default_factory=list)  # (6890, 3) glTF metres


class _Blob:
    """The binary chunk: arrays appended 4-byte aligned, one buffer view and accessor each
    (SCALAR arrays 1-D, vectors (count, n))."""

    def __init__(self, gltf: Any) -> None:
        self.gltf, self.size = gltf, 0
        self.parts: list[bytes] = []

    def add(
        self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False
    ) -> int:
        import pygltflib as g

        data = np.ascontiguousarray(array).tobytes()
        self.gltf.bufferViews.append(
            g.BufferView(buffer=0, byteOffset=self.size, byteLength=len(data), target=target)
        )
        pad = -len(data) % 4
        self.parts.append(data + b"\0" * pad)
        self.size += len(data) + pad
        component = {np.dtype(np.float32): g.FLOAT, np.dtype(np.uint32): g.UNSIGNED_INT}
        self.gltf.accessors.append(
            g.Accessor(
                bufferView=len(self.gltf.bufferViews) - 1,
                componentType=component[array.dtype],
                count=len(array),
                type=kind,
                min=array.reshape(len(array), -1).min(0).tolist() if bounds else None,
                max=array.reshape(len(array), -1).max(0).tolist() if bounds else None,
            )
        )
        return len(self.gltf.accessors) - 1

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class GlbSink(Sink):
    """``--export-glb PATH``: collects every person's camera-space mesh per frame and writes
    the animated .glb at ``close`` (through a temporary file: a complete file or none)."""

    def __init__(self, path: str | Path, fps: float) -> None:
        try:  # fail at the start, not at the end of a long run
            import pygltflib  # noqa: F401
        except ImportError:
            raise SinkError(
                "--export-glb needs the pygltflib package: pip install pygltflib "
                "(or pip install 'meshpose-live[export]')"
            ) from None

        self.path = _parent_ready(Path(path))
        if self.path.suffix.lower() != ".glb":
            raise SinkError(f"--export-glb needs a .glb file, got {self.path}")
        self.fps = fps if fps > 0 else 30.0
        self._times: list[float] = []
        self._tracks: dict[int, _Track] = {}
        self._closed = False

    def write(self, result: FrameResult) -> None:
        frame = len(self._times)
        self._times.append(frame / self.fps)
        for p in result.people:
            if p.vertices_high_camera is None:
                raise ValueError("the GLB export needs camera-space meshes (CameraSpaceConfig)")
            track = self._tracks.setdefault(p.track_id, _Track())
            track.frames.append(frame)
            track.vertices.append(p.vertices_high_camera * CAMERA_TO_GLTF)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        gltf = build_gltf(self._tracks, np.asarray(self._times, np.float32))
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            gltf.save_binary(str(tmp))
            os.replace(tmp, self.path)
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc


def build_gltf(tracks: dict[int, _Track], times: np.ndarray) -> Any:
    """The pygltflib document of ``tracks`` (track id -> frames and meshes) over the run's
    frame ``times`` (seconds)."""
    import pygltflib as g

    split = SplitMesh.from_topology(Topology.load("high"))
    gltf = g.GLTF2(
        asset=g.Asset(generator="MeshPose Live", version="2.0"),
        scene=0,
        scenes=[g.Scene(nodes=[])],
        buffers=[g.Buffer()],
    )
    blob = _Blob(gltf)
    faces = blob.add(split.faces.reshape(-1), "SCALAR", g.ELEMENT_ARRAY_BUFFER)
    uv = blob.add(split.uv, "VEC2", g.ARRAY_BUFFER)
    animation = g.Animation(name="meshpose", samplers=[], channels=[])
    run_times = blob.add(times, "SCALAR", bounds=True) if len(times) else None
    for track_id, track in sorted(tracks.items()):
        base = track.vertices[0][split.source]
        targets = [
            {"POSITION": blob.add(v[split.source] - base, "VEC3", g.ARRAY_BUFFER, bounds=True)}
            for v in track.vertices
        ]
        primitive = g.Primitive(
            attributes=g.Attributes(
                POSITION=blob.add(base, "VEC3", g.ARRAY_BUFFER, bounds=True), TEXCOORD_0=uv
            ),
            indices=faces,
            targets=targets,
        )
        n = len(track.frames)
        gltf.meshes.append(
            g.Mesh(
                name=f"person_{track_id}", primitives=[primitive], weights=[1.0] + [0.0] * (n - 1)
            )
        )
        shown = np.zeros(len(times), bool)
        shown[track.frames] = True
        gltf.nodes.append(
            g.Node(
                name=f"person_{track_id}",
                mesh=len(gltf.meshes) - 1,
                scale=[1.0] * 3 if shown[0] else [0.0] * 3,
            )
        )
        node = len(gltf.nodes) - 1
        gltf.scenes[0].nodes.append(node)
        weights = np.eye(n, dtype=np.float32).reshape(-1)  # frame k: target k alone
        keys = blob.add(times[track.frames], "SCALAR", bounds=True)
        _channel(animation, node, "weights", keys, blob.add(weights, "SCALAR"))
        scale = np.repeat(shown.astype(np.float32)[:, None], 3, axis=1)
        _channel(animation, node, "scale", run_times, blob.add(scale, "VEC3"))
    if animation.channels:
        gltf.animations.append(animation)
    data = blob.bytes()
    gltf.buffers[0].byteLength = len(data)
    gltf.set_binary_blob(data)
    return gltf


def _channel(animation: Any, node: int, path: str, times: int | None, values: int) -> None:
    """A STEP-interpolated channel animating ``path`` of ``node``."""
    import pygltflib as g

    animation.samplers.append(g.AnimationSampler(input=times, output=values, interpolation="STEP"))
    target = g.AnimationChannelTarget(node=node, path=path)
    animation.channels.append(
        g.AnimationChannel(sampler=len(animation.samplers) - 1, target=target)
    )
