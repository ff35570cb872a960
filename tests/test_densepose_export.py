"""DensePose output: the frame's IUV and person index equal what the renderer's fragments give,
the PNG dumps read back exactly in DensePose's convention, the iuv layer's styles show that
same IUV, and the CLI writes one IUV/INDS pair per frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from test_pipeline_layers import H, W, template_person

from meshpose_core.pipeline import DensePoseFrame, FrameResult, IuvSink, SinkError
from meshpose_core.pipeline.layers import (
    IUV_STYLES,
    LayerRenderer,
    RenderConfig,
    ordering_depth,
)
from meshpose_core.render import iuv_colormap, rasterize
from meshpose_core.topology import Topology


@pytest.fixture(scope="module")
def people():
    """Two overlapping people; the second, bigger one is nearer and hides part of the first."""
    return [template_person(3, W * 0.42, H / 2, 150), template_person(7, W * 0.58, H / 2, 210)]


def densepose(people, renderer: str = "cpu") -> DensePoseFrame:
    r = LayerRenderer(RenderConfig(layers=(), renderer=renderer, densepose=True))
    try:
        return r.densepose(people, W, H)
    finally:
        r.close()


def reference_fragments(people):
    """The whole frame rasterised directly, with the layers' pixel and depth conventions."""
    topo = Topology.load("high")
    meshes = []
    for p in people:
        v = p.vertices_high.astype(np.float32, copy=True)
        v[:, :2] += 0.5
        v[:, 2] = ordering_depth(v[:, 2], p, max(W, H))
        meshes.append((v, topo.faces))
    return rasterize(meshes, W, H)


def test_iuv_and_person_index_equal_the_fragments(people) -> None:
    topo = Topology.load("high")
    dp = densepose(people)
    frags = reference_fragments(people)
    assert dp.iuv.shape == (H, W, 3) and dp.iuv.dtype == np.uint8
    assert dp.person_index.shape == (H, W) and dp.person_index.dtype == np.uint8
    np.testing.assert_array_equal(dp.person_index, frags.mesh_id + 1)
    fg = frags.mesh_id >= 0
    assert set(np.unique(dp.person_index[fg])) == {1, 2}  # both people visible
    assert (dp.iuv[~fg] == 0).all()
    # every foreground pixel: I = the face's part, (U, V) = its corners' UVs blended by the
    # pixel's barycentrics, scaled to 0..255
    face = frags.face_id[fg]
    np.testing.assert_array_equal(dp.iuv[fg][:, 0], topo.face_part[face])
    uv = np.einsum("nk,nkc->nc", frags.bary[fg], topo.corner_part_uv[face])
    expected = np.rint(np.clip(uv, 0, 1) * 255)
    assert np.abs(dp.iuv[fg][:, 1:].astype(int) - expected).max() <= 1  # float32 rounding
    assert set(np.unique(dp.iuv[fg][:, 0])) <= set(range(1, 25))


def test_gl_renderer_gives_the_same_densepose(people) -> None:
    cpu, gl = densepose(people, "cpu"), densepose(people, "moderngl")
    assert (cpu.person_index != gl.person_index).mean() < 0.002  # edge ties only
    same = cpu.person_index == gl.person_index
    assert (cpu.iuv[same][:, 0] != gl.iuv[same][:, 0]).mean() < 0.002


def test_png_dumps_read_back_in_densepose_convention(people, tmp_path: Path) -> None:
    dp = densepose(people)
    result = FrameResult(4, 0.0, W, H, list(people), densepose=dp)
    with IuvSink(tmp_path / "iuv") as sink:
        iuv_path, inds_path = sink.write(result)
    assert iuv_path.name == "frame000004_IUV.png" and inds_path.name == "frame000004_INDS.png"
    np.testing.assert_array_equal(cv2.imread(str(iuv_path)), dp.iuv)  # blue = I, like DensePose
    inds = cv2.imread(str(inds_path), cv2.IMREAD_UNCHANGED)
    assert inds.dtype == np.uint8 and inds.ndim == 2
    np.testing.assert_array_equal(inds, dp.person_index)
    with pytest.raises(ValueError, match="densepose=True"):
        IuvSink(tmp_path / "iuv").write(FrameResult(5, 0.0, W, H, []))
    with pytest.raises(SinkError, match="folder"):
        IuvSink(tmp_path / "x.png")


@pytest.mark.parametrize("style", IUV_STYLES)
def test_iuv_layer_styles_show_the_exported_iuv(people, style: str) -> None:
    frame = np.full((H, W, 3), 90, np.uint8)
    r = LayerRenderer(
        RenderConfig(layers=(("iuv", 1.0),), renderer="cpu", iuv_mode=style, densepose=True)
    )
    try:
        out = r.render(frame, people)
        dp = r.densepose(people, W, H)
    finally:
        r.close()
    fg = dp.person_index > 0
    # the layer's painter colours from the unrounded U, V; the export rounds them to 1/255:
    # colours of the same pixel may differ by that rounding, parts (I only) not at all
    diff = np.abs(out[fg].astype(int) - iuv_colormap(dp.iuv, style)[fg])
    assert diff.max() <= (0 if style == "parts" else 1)
    np.testing.assert_array_equal(out[~fg], frame[~fg])


def test_unknown_iuv_style_is_refused() -> None:
    with pytest.raises(ValueError, match="IUV style"):
        LayerRenderer(RenderConfig(iuv_mode="rainbow"))


def test_no_people_gives_empty_images() -> None:
    dp = densepose([])
    assert not dp.iuv.any() and not dp.person_index.any()


def test_cli_writes_one_iuv_and_index_png_per_picture(tiny_model, tmp_path, monkeypatch) -> None:
    from meshpose_app.cli import main

    monkeypatch.setenv("MESHPOSE_CACHE", str(tmp_path / "cache"))
    images = Path(__file__).resolve().parents[1] / "assets" / "test_images"
    out = tmp_path / "iuv"
    args = ["--images", images, "--model", tiny_model, "--export-iuv", out, "--out", tmp_path / "a"]
    rc = main([str(a) for a in [*args, "--layers", "iuv", "--iuv-style", "parts"]])
    assert rc == 0
    for picture in sorted(images.glob("*.jpg")):
        h, w = cv2.imread(str(picture)).shape[:2]
        iuv = cv2.imread(str(out / f"{picture.stem}_IUV.png"))
        inds = cv2.imread(str(out / f"{picture.stem}_INDS.png"), cv2.IMREAD_UNCHANGED)
        assert iuv.shape == (h, w, 3) and inds.shape == (h, w)
        assert iuv[..., 0].max() <= 24 and ((iuv[..., 0] > 0) == (inds > 0)).all()
