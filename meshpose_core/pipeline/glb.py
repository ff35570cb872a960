"""One glTF 2.0 binary (.glb) per run: every tracked person as an animated mesh, dressed.

Each track is a node with the 6890-vertex body mesh (split at UV seams, ``TEXCOORD_0`` in the
try-on texture atlas's layout) and one morph target per frame it was seen in; the animation
``meshpose`` switches the targets' weights with STEP interpolation at the frames' times (the
mesh-cache scheme Blender imports as shape keys and three.js plays with ``AnimationMixer``),
and scales the node to 0 while the person is not tracked. With outfits (``--garment``) the
body's material is the outfit's texture garments painted on a neutral skin tone, and every
mesh garment is a child node animated the same way, posed on the body by its binding (the
garment layer's geometry, without its hem lag). Positions are the camera-space meshes
(``camera_space``: metres) in glTF's frame (x right, y up, z toward the viewer): the camera
is the origin and people stand where they were. The document is built with ``pygltflib`` at
``close``: the meshes stay in memory until then (~110 KB per person and frame; a 10 s clip
of one person at 30 fps gives a ~33 MB file).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from meshpose_core.topology import Topology
from meshpose_core.tryon import Garment, MeshGarment, OutfitCycle, TextureGarment, shared_library
from meshpose_core.tryon.binding import body_scale, pose_binding, surface_area
from meshpose_core.tryon.posing import TORSO_PARTS

from .output_paths import finish, partial_path
from .results import FrameResult
from .sinks import Sink, SinkError, _parent_ready

# OpenCV camera frame (x right, y down, z forward) -> glTF (x right, y up, z backward)
CAMERA_TO_GLTF = np.array([1.0, -1.0, -1.0], np.float32)
SKIN_RGB = np.array([224, 190, 165], np.float32)  # under the texture garments


@dataclass(frozen=True)
class SplitMesh:
    """A mesh with a vertex per distinct (vertex, UV) corner, as glTF needs: source (N,)
    the original vertex of each glTF vertex, uv (N, 2) glTF texture coordinates (v down),
    faces (F, 3) uint32."""

    source: np.ndarray
    uv: np.ndarray
    faces: np.ndarray

    @classmethod
    def from_corners(cls, faces: np.ndarray, corner_uv: np.ndarray) -> SplitMesh:
        """faces (F, 3) and corner_uv (F, 3, 2) with v up (the atlas convention)."""
        uv_ids, uv_index = np.unique(corner_uv.reshape(-1, 2).round(6), axis=0, return_inverse=True)
        corners = np.stack([np.asarray(faces).reshape(-1), uv_index.reshape(-1)], axis=1)
        unique, corner_vertex = np.unique(corners, axis=0, return_inverse=True)
        uv = uv_ids[unique[:, 1]] * np.float32([1, -1]) + np.float32([0, 1])
        return cls(
            source=unique[:, 0],
            uv=uv.astype(np.float32),
            faces=corner_vertex.reshape(-1, 3).astype(np.uint32),
        )

    @classmethod
    def body(cls) -> SplitMesh:
        """The high body mesh with the try-on atlas's (seam-repaired) UVs."""
        return cls.from_corners(Topology.load("high").faces, shared_library().atlas.corner_uv)


@dataclass
class _Track:
    outfit: int  # index into the sink's outfits (-1: none)
    frames: list[int] = field(default_factory=list)  # run frame numbers (0-based, in order)
    vertices: list[np.ndarray] = field(default_factory=list)  # (6890, 3) glTF metres
    garments: list[list[np.ndarray]] = field(default_factory=list)  # per mesh garment, per frame


class _Blob:
    """The binary chunk: arrays appended 4-byte aligned, one buffer view and accessor each
    (SCALAR arrays 1-D, vectors (count, n)); PNG images one buffer view each."""

    def __init__(self, gltf: Any) -> None:
        self.gltf, self.size = gltf, 0
        self.parts: list[bytes] = []

    def _view(self, data: bytes, target: int | None = None) -> int:
        import pygltflib as g

        self.gltf.bufferViews.append(
            g.BufferView(buffer=0, byteOffset=self.size, byteLength=len(data), target=target)
        )
        pad = -len(data) % 4
        self.parts.append(data + b"\0" * pad)
        self.size += len(data) + pad
        return len(self.gltf.bufferViews) - 1

    def add(
        self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False
    ) -> int:
        import pygltflib as g

        view = self._view(np.ascontiguousarray(array).tobytes(), target)
        component = {np.dtype(np.float32): g.FLOAT, np.dtype(np.uint32): g.UNSIGNED_INT}
        flat = array.reshape(len(array), -1)
        self.gltf.accessors.append(
            g.Accessor(
                bufferView=view,
                componentType=component[array.dtype],
                count=len(array),
                type=kind,
                min=flat.min(0).tolist() if bounds else None,
                max=flat.max(0).tolist() if bounds else None,
            )
        )
        return len(self.gltf.accessors) - 1

    def texture(self, rgba: np.ndarray) -> int:
        """(H, W, 4) uint8 straight-alpha RGBA -> a glTF texture index (embedded PNG)."""
        import pygltflib as g

        ok, png = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
        if not ok:
            raise SinkError("cannot encode a garment texture as PNG")
        gltf = self.gltf
        gltf.images.append(g.Image(bufferView=self._view(png.tobytes()), mimeType="image/png"))
        if not gltf.samplers:
            gltf.samplers.append(g.Sampler(magFilter=g.LINEAR, minFilter=g.LINEAR_MIPMAP_LINEAR))
        gltf.textures.append(g.Texture(source=len(gltf.images) - 1, sampler=0))
        return len(gltf.textures) - 1

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def straight_rgba(premultiplied: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 premultiplied RGBA -> straight alpha."""
    p = premultiplied.astype(np.float32)
    a = p[..., 3:4]
    rgb = np.where(a > 0, p[..., :3] * 255.0 / np.maximum(a, 1.0), 0.0)
    return np.concatenate([np.clip(np.rint(rgb), 0, 255), p[..., 3:4]], -1).astype(np.uint8)


def dressed_skin(textures: Sequence[TextureGarment]) -> np.ndarray:
    """The texture garments of an outfit painted in order over ``SKIN_RGB``: (H, W, 4)
    uint8 opaque RGBA in the atlas layout (at the first garment's size)."""
    base = textures[0].texture.levels[0]
    h, w = base.shape[:2]
    rgba = np.zeros((h, w, 4), np.float32)
    for g in textures:
        s = g.texture.levels[0]
        if s.shape[:2] != (h, w):
            s = cv2.resize(s, (w, h), interpolation=cv2.INTER_AREA)
        s = s.astype(np.float32)
        rgba = s + rgba * (1.0 - s[..., 3:4] / 255.0)
    rgb = rgba[..., :3] + SKIN_RGB * (1.0 - rgba[..., 3:4] / 255.0)
    out = np.concatenate([rgb, np.full((h, w, 1), 255.0, np.float32)], -1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class GlbSink(Sink):
    """``--export-glb PATH``: collects every person's camera-space mesh (and mesh garments)
    per frame and writes the animated .glb at ``close`` (under ``output_paths.partial_path``,
    renamed when complete: a complete file or none). outfits: the loaded garments of
    ``RenderConfig.outfits``; person k in order of appearance wears outfit k mod n, as in
    the garment layer."""

    def __init__(
        self, path: str | Path, fps: float, outfits: Sequence[Sequence[Garment]] = ()
    ) -> None:
        try:  # fail at the start, not at the end of a long run
            import pygltflib  # noqa: F401
        except ImportError:
            raise SinkError(
                "--export-glb needs the pygltflib package: pip install pygltflib "
                "(or pip install 'meshpose-live[export]')"
            ) from None
        self.path = Path(path)
        if self.path.suffix.lower() != ".glb":
            raise SinkError(f"--export-glb needs a .glb file, got {self.path}")
        _parent_ready(self.path)
        self.fps = fps if fps > 0 else 30.0
        self.outfits = tuple(tuple(o) for o in outfits)
        self._cycle = OutfitCycle()
        topo = Topology.load("high")
        self._faces = topo.faces
        self._torso = topo.faces[np.isin(topo.face_part, TORSO_PARTS)]
        self._rest_area = surface_area(topo.vertices, self._torso)
        self._frames = 0
        self._tracks: dict[int, _Track] = {}
        self._closed = False

    def _mesh_garments(self, track: _Track) -> list[MeshGarment]:
        if track.outfit < 0:
            return []
        return [g for g in self.outfits[track.outfit] if isinstance(g, MeshGarment)]

    def write(self, result: FrameResult) -> None:
        frame = self._frames
        self._frames += 1
        ids = [p.track_id for p in result.people]
        outfit = self._cycle.assign(ids, len(self.outfits)) if self.outfits else [-1] * len(ids)
        for p, k in zip(result.people, outfit, strict=True):
            v = p.vertices_high_camera
            if v is None:
                raise ValueError("the GLB export needs camera-space meshes (CameraSpaceConfig)")
            track = self._tracks.setdefault(p.track_id, _Track(k))
            track.frames.append(frame)
            track.vertices.append(v * CAMERA_TO_GLTF)
            garments = self._mesh_garments(track)
            if garments:
                scale = body_scale(v, self._torso, self._rest_area)
                if not track.garments:
                    track.garments = [[] for _ in garments]
                for g, poses in zip(garments, track.garments, strict=True):
                    gv, _ = pose_binding(g.binding, v, self._faces, scale)
                    poses.append(gv * CAMERA_TO_GLTF)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        times = np.arange(self._frames, dtype=np.float32) / np.float32(self.fps)
        gltf = _Document(self.outfits).build(self._tracks, times, self._mesh_garments)
        partial = partial_path(self.path)
        try:
            gltf.save_binary(str(partial))
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        finish(partial, self.path)


class _Document:
    """Builds the pygltflib document of a run's tracks."""

    def __init__(self, outfits: Sequence[Sequence[Garment]]) -> None:
        import pygltflib as g

        self.g = g
        self.outfits = outfits
        self.gltf = g.GLTF2(
            asset=g.Asset(generator="MeshPose Live", version="2.0"),
            scene=0,
            scenes=[g.Scene(nodes=[])],
            buffers=[g.Buffer()],
        )
        self.blob = _Blob(self.gltf)
        self.animation = g.Animation(name="meshpose", samplers=[], channels=[])
        self._body_material: dict[int, int | None] = {}
        self._garment_material: dict[int, int] = {}

    def build(self, tracks: dict[int, _Track], times: np.ndarray, mesh_garments: Any) -> Any:
        """tracks: track id -> its frames and meshes; times (T,) seconds of the run's frames;
        mesh_garments(track) -> the track's mesh garments (the order of ``track.garments``)."""
        g, gltf, blob = self.g, self.gltf, self.blob
        body = SplitMesh.body()
        shared = (blob.add(body.faces.reshape(-1), "SCALAR", g.ELEMENT_ARRAY_BUFFER),)
        shared += (blob.add(body.uv, "VEC2", g.ARRAY_BUFFER),)
        run_times = blob.add(times, "SCALAR", bounds=True) if len(times) else None
        for track_id, track in sorted(tracks.items()):
            name = f"person_{track_id}"
            keys = blob.add(times[track.frames], "SCALAR", bounds=True)
            node = self._animated_node(
                name, body, shared, track.vertices, self._body_material_of(track.outfit), keys
            )
            gltf.scenes[0].nodes.append(node)
            shown = np.zeros(len(times), bool)
            shown[track.frames] = True
            gltf.nodes[node].scale = [float(shown[0])] * 3
            scale = np.repeat(shown.astype(np.float32)[:, None], 3, axis=1)
            self._channel(node, "scale", run_times, blob.add(scale, "VEC3"))
            for garment, poses in zip(mesh_garments(track), track.garments, strict=True):
                split = SplitMesh.from_corners(garment.faces, garment.corner_uv)
                faces_uv = (
                    blob.add(split.faces.reshape(-1), "SCALAR", g.ELEMENT_ARRAY_BUFFER),
                    blob.add(split.uv, "VEC2", g.ARRAY_BUFFER),
                )
                child = self._animated_node(
                    f"{name}_{garment.name}",
                    split,
                    faces_uv,
                    poses,
                    self._garment_material_of(garment),
                    keys,
                )
                gltf.nodes[node].children.append(child)
        if self.animation.channels:
            gltf.animations.append(self.animation)
        data = blob.bytes()
        gltf.buffers[0].byteLength = len(data)
        gltf.set_binary_blob(data)
        return gltf

    def _animated_node(
        self,
        name: str,
        split: SplitMesh,
        faces_uv: tuple[int, int],
        frames: list[np.ndarray],
        material: int | None,
        keys: int,
    ) -> int:
        """A node whose mesh shows ``frames[k]`` (original vertices) at key time k: the first
        frame as the base positions, every frame a morph target, one-hot STEP weights."""
        g, blob = self.g, self.blob
        base = frames[0][split.source]
        targets = [
            {"POSITION": blob.add(v[split.source] - base, "VEC3", g.ARRAY_BUFFER, bounds=True)}
            for v in frames
        ]
        position = blob.add(base, "VEC3", g.ARRAY_BUFFER, bounds=True)
        primitive = g.Primitive(
            attributes=g.Attributes(POSITION=position, TEXCOORD_0=faces_uv[1]),
            indices=faces_uv[0],
            targets=targets,
            material=material,
        )
        n = len(frames)
        self.gltf.meshes.append(
            g.Mesh(name=name, primitives=[primitive], weights=[1.0] + [0.0] * (n - 1))
        )
        self.gltf.nodes.append(g.Node(name=name, mesh=len(self.gltf.meshes) - 1, children=[]))
        node = len(self.gltf.nodes) - 1
        one_hot = np.eye(n, dtype=np.float32).reshape(-1)
        self._channel(node, "weights", keys, blob.add(one_hot, "SCALAR"))
        return node

    def _body_material_of(self, outfit: int) -> int | None:
        """The body's material for an outfit: its texture garments over skin (None without
        any: the loader's default material)."""
        if outfit not in self._body_material:
            textures = (
                [x for x in self.outfits[outfit] if isinstance(x, TextureGarment)]
                if outfit >= 0
                else []
            )
            material = None
            if textures:
                texture = self.blob.texture(dressed_skin(textures))
                material = self._material(f"outfit_{outfit}", texture, "OPAQUE", False)
            self._body_material[outfit] = material
        return self._body_material[outfit]

    def _garment_material_of(self, garment: MeshGarment) -> int:
        key = id(garment)
        if key not in self._garment_material:
            texture = self.blob.texture(straight_rgba(garment.texture.levels[0]))
            self._garment_material[key] = self._material(garment.name, texture, "MASK", True)
        return self._garment_material[key]

    def _material(self, name: str, texture: int, alpha_mode: str, double_sided: bool) -> int:
        g = self.g
        self.gltf.materials.append(
            g.Material(
                name=name,
                pbrMetallicRoughness=g.PbrMetallicRoughness(
                    baseColorTexture=g.TextureInfo(index=texture),
                    metallicFactor=0.0,
                    roughnessFactor=0.9,
                ),
                alphaMode=alpha_mode,
                alphaCutoff=0.5 if alpha_mode == "MASK" else None,
                doubleSided=double_sided,
            )
        )
        return len(self.gltf.materials) - 1

    def _channel(self, node: int, path: str, times: int | None, values: int) -> None:
        """A STEP-interpolated channel animating ``path`` of ``node``."""
        g, animation = self.g, self.animation
        animation.samplers.append(
            g.AnimationSampler(input=times, output=values, interpolation="STEP")
        )
        target = g.AnimationChannelTarget(node=node, path=path)
        animation.channels.append(
            g.AnimationChannel(sampler=len(animation.samplers) - 1, target=target)
        )
