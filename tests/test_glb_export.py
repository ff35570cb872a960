"""The GLB session export read back by loaders: one node per track, the split mesh's vertex
count, one morph target per frame seen that reproduces that frame's mesh, STEP weights and
visibility over the run's frames; the CLI writes it for a clip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from test_pipeline_layers import H, W, template_person

from meshpose_core.pipeline import FrameResult
from meshpose_core.pipeline.camera_space import CameraLifter, CameraSpaceConfig
from meshpose_core.pipeline.glb import CAMERA_TO_GLTF, GlbSink, SplitMesh
from meshpose_core.pipeline.sinks import SinkError
from meshpose_core.topology import Topology

pygltflib = pytest.importorskip("pygltflib")
FRAMES = 6


def person_at(track_id: int, frame: int):
    """A template person walking right by 4 px a frame, with camera-space meshes."""
    p = template_person(track_id, 80 + 4 * frame + 120 * (track_id - 1), H / 2, 150)
    low, high = CameraLifter(CameraSpaceConfig(True))(W, H, p.vertices, p.vertices_high)
    return replace(p, vertices_camera=low, vertices_high_camera=high)


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[Path, list[FrameResult]]:
    """Track 1 in every frame; track 2 only in frames 2-3."""
    results = []
    for f in range(FRAMES):
        people = [person_at(1, f)] + ([person_at(2, f)] if f in (2, 3) else [])
        results.append(FrameResult(f, f / 30, W, H, people))
    path = tmp_path_factory.mktemp("glb") / "session.glb"
    with GlbSink(path, fps=30.0) as sink:
        for r in results:
            sink.write(r)
    return path, results


def accessor(gltf, index: int) -> np.ndarray:
    a = gltf.accessors[index]
    view = gltf.bufferViews[a.bufferView]
    data = gltf.binary_blob()[view.byteOffset : view.byteOffset + view.byteLength]
    dtype = np.float32 if a.componentType == pygltflib.FLOAT else np.uint32
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[a.type]
    return np.frombuffer(data, dtype).reshape(a.count, width)


def test_glb_reads_back_with_every_frame_and_vertex(session) -> None:
    path, results = session
    gltf = pygltflib.GLTF2().load(str(path))
    split = SplitMesh.from_topology(Topology.load("high"))
    assert [n.name for n in gltf.nodes] == ["person_1", "person_2"]
    (anim,) = gltf.animations
    for node_index, track_id in enumerate((1, 2)):
        seen = [r for r in results if any(p.track_id == track_id for p in r.people)]
        prim = gltf.meshes[gltf.nodes[node_index].mesh].primitives[0]
        base = accessor(gltf, prim.attributes.POSITION)
        assert len(base) == len(split.source) == 7050  # 6890 vertices split at UV seams
        assert len(prim.targets) == len(seen)
        assert accessor(gltf, prim.indices).size == 3 * 13776
        uv = accessor(gltf, prim.attributes.TEXCOORD_0)
        assert uv.shape == (7050, 2) and uv.min() >= 0 and uv.max() <= 1
        for target, r in zip(prim.targets, seen, strict=True):
            p = next(p for p in r.people if p.track_id == track_id)
            frame = base + accessor(gltf, target["POSITION"])
            expected = (p.vertices_high_camera * CAMERA_TO_GLTF)[split.source]
            np.testing.assert_allclose(frame, expected, atol=1e-5)
        channels = {c.target.path: c for c in anim.channels if c.target.node == node_index}
        weights = anim.samplers[channels["weights"].sampler]
        times = accessor(gltf, weights.input)[:, 0]
        np.testing.assert_allclose(times, [r.index / 30 for r in seen], atol=1e-6)
        one_hot = accessor(gltf, weights.output).reshape(len(seen), len(seen))
        np.testing.assert_array_equal(one_hot, np.eye(len(seen)))
        assert weights.interpolation == "STEP"
        scale = anim.samplers[channels["scale"].sampler]
        assert accessor(gltf, scale.input).shape == (FRAMES, 1)
        shown = accessor(gltf, scale.output)[:, 0]
        present = [any(p.track_id == track_id for p in r.people) for r in results]
        np.testing.assert_array_equal(shown, np.float32(present))


def test_trimesh_loads_the_meshes(session) -> None:
    trimesh = pytest.importorskip("trimesh")  # a second, independent loader
    scene = trimesh.load(str(session[0]), force="scene", process=False)
    assert len(scene.geometry) == 2
    assert all(len(g.vertices) == 7050 and len(g.faces) == 13776 for g in scene.geometry.values())


def test_needs_camera_space_and_a_glb_path(tmp_path) -> None:
    with pytest.raises(SinkError, match=r"\.glb"):
        GlbSink(tmp_path / "a.gltf", 30.0)
    sink = GlbSink(tmp_path / "a.glb", 30.0)
    with pytest.raises(ValueError, match="camera-space"):
        sink.write(FrameResult(0, 0.0, W, H, [template_person(1, W / 2, H / 2, 150)]))
    sink.close()  # a run without people is still a valid file
    assert not pygltflib.GLTF2().load(str(tmp_path / "a.glb")).nodes


def test_cli_exports_a_clip(tiny_model, tmp_path, monkeypatch) -> None:
    from meshpose_app.cli import SAMPLE_CLIP, main

    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    clip = tmp_path / "clip.mp4"
    with av.open(str(SAMPLE_CLIP)) as src, av.open(str(clip), "w") as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream("libx264", rate=s_in.average_rate)
        s_out.width, s_out.height, s_out.pix_fmt = s_in.width, s_in.height, "yuv420p"
        for i, frame in enumerate(src.decode(s_in)):
            if i == 8:
                break
            dst.mux(s_out.encode(av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"))))
        dst.mux(s_out.encode(None))
    out = tmp_path / "run.glb"
    args = ["--video", clip, "--model", tiny_model, "--headless", "--layers", ""]
    assert main([str(a) for a in [*args, "--export-glb", out]]) == 0
    gltf = pygltflib.GLTF2().load(str(out))
    assert gltf.nodes, "the tiny model's pipeline tracks the runner"
    scale = gltf.animations[0].samplers[1]
    assert gltf.accessors[scale.input].count == 8  # every frame of the run
