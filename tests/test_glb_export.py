"""The GLB session export read back by loaders: one node per track, the split mesh's vertex
count, one morph target per frame seen that reproduces that frame's mesh, STEP weights and
visibility over the run's frames; the CLI writes it for a clip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from test_pipeline_layers import H, W, template_person

from meshpose_core.pipeline import FrameResult
from meshpose_core.pipeline.camera_space import CameraLifter, CameraSpaceConfig
from meshpose_core.pipeline.glb import CAMERA_TO_GLTF, SKIN_RGB, GlbSink, SplitMesh
from meshpose_core.pipeline.sinks import SinkError
from meshpose_core.topology import Topology

pygltflib = pytest.importorskip("pygltflib")
FRAMES = 6
pytestmark = pytest.mark.usefixtures("every_mesh_drawn")  # random-init meshes (conftest)


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
    split = SplitMesh.body()
    assert [n.name for n in gltf.nodes] == ["person_1", "person_2"]
    (anim,) = gltf.animations
    for node_index, track_id in enumerate((1, 2)):
        seen = [r for r in results if any(p.track_id == track_id for p in r.people)]
        prim = gltf.meshes[gltf.nodes[node_index].mesh].primitives[0]
        base = accessor(gltf, prim.attributes.POSITION)
        assert len(base) == len(split.source)  # the 6890 vertices split at UV seams
        np.testing.assert_array_equal(np.unique(split.source), np.arange(6890))
        assert len(prim.targets) == len(seen)
        assert accessor(gltf, prim.indices).size == 3 * 13776
        uv = accessor(gltf, prim.attributes.TEXCOORD_0)
        assert uv.shape == (len(split.source), 2) and uv.min() >= 0 and uv.max() <= 1
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


def test_outfits_dress_the_bodies(tmp_path) -> None:
    """A texture garment becomes the body's material, a mesh garment a child node posed on
    the body by its binding in every frame."""
    from meshpose_core.tryon import load_outfits, pose_binding
    from meshpose_core.tryon.binding import body_scale, surface_area
    from meshpose_core.tryon.posing import TORSO_PARTS

    outfits = load_outfits([("striped_tshirt", "flared_skirt")])
    path = tmp_path / "dressed.glb"
    frames = [person_at(1, f) for f in range(3)]
    with GlbSink(path, 30.0, outfits) as sink:
        for f, p in enumerate(frames):
            sink.write(FrameResult(f, f / 30, W, H, [p]))
    gltf = pygltflib.GLTF2().load(str(path))
    body, skirt = gltf.nodes
    assert skirt.name == "person_1_flared_skirt" and body.children == [1]
    material = gltf.materials[gltf.meshes[body.mesh].primitives[0].material]
    image = gltf.images[gltf.textures[material.pbrMetallicRoughness.baseColorTexture.index].source]
    view = gltf.bufferViews[image.bufferView]
    png = gltf.binary_blob()[view.byteOffset : view.byteOffset + view.byteLength]
    atlas = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    tee = outfits[0][0].texture.levels[0]  # premultiplied RGBA: the t-shirt over skin
    assert atlas.shape == (*tee.shape[:2], 4) and (atlas[..., 3] == 255).all()
    rgb = atlas[..., 2::-1]
    assert (rgb[tee[..., 3] == 0] == SKIN_RGB).all()
    painted = tee[..., 3] == 255
    np.testing.assert_array_equal(rgb[painted], tee[painted][:, :3])
    prim = gltf.meshes[skirt.mesh].primitives[0]
    assert gltf.materials[prim.material].doubleSided
    garment = outfits[0][1]
    split = SplitMesh.from_corners(garment.faces, garment.corner_uv)
    topo = Topology.load("high")
    torso = topo.faces[np.isin(topo.face_part, TORSO_PARTS)]
    rest = surface_area(topo.vertices, torso)
    base = accessor(gltf, prim.attributes.POSITION)
    for target, p in zip(prim.targets, frames, strict=True):
        v = p.vertices_high_camera
        expected, _ = pose_binding(garment.binding, v, topo.faces, body_scale(v, torso, rest))
        np.testing.assert_allclose(
            base + accessor(gltf, target["POSITION"]),
            (expected * CAMERA_TO_GLTF)[split.source],
            atol=1e-5,
        )


def test_trimesh_loads_the_meshes(session) -> None:
    trimesh = pytest.importorskip("trimesh")  # a second, independent loader
    scene = trimesh.load(str(session[0]), force="scene", process=False)
    assert len(scene.geometry) == 2
    n = len(SplitMesh.body().source)
    assert all(len(g.vertices) == n and len(g.faces) == 13776 for g in scene.geometry.values())


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
    dress = ["--garment", "striped_tshirt+crossbody_bag"]
    assert main([str(a) for a in [*args, *dress, "--export-glb", out]]) == 0
    gltf = pygltflib.GLTF2().load(str(out))
    assert gltf.nodes, "the tiny model's pipeline tracks the runner"
    assert gltf.nodes[1].name == f"{gltf.nodes[0].name}_crossbody_bag"
    assert gltf.materials and gltf.images
    scale = gltf.animations[0].samplers[1]
    assert gltf.accessors[scale.input].count == 8  # every frame of the run
