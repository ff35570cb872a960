"""DensePose over the whole person (``render/foreground_fill.py``): crop masks resampled onto
the frame, uncovered mask pixels taking their nearest mesh pixel's surface point within reach,
and the iuv layer and DensePose output of the pipeline covering the person's foreground."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from test_pipeline_layers import H, W, template_person

from meshpose_core.pipeline.layers import LayerRenderer, RenderConfig, parse_layers
from meshpose_core.render.foreground_fill import (
    fill_to_foregrounds,
    filled_fragments,
    foreground_masks,
)
from meshpose_core.render.raster import Fragments


def test_a_crop_mask_lands_where_its_cells_are_in_the_frame() -> None:
    fg = np.zeros((12, 12), np.float32)
    fg[3:6, 4:7] = 1.0  # cells centred at crop px 4 j + 1.5: x 17.5..25.5, y 13.5..21.5
    shift = np.array([[1.0, 0.0, 30.0], [0.0, 1.0, 5.0]])  # crop px -> image px
    mask = foreground_masks([fg, fg], [np.eye(2, 3), shift], 4.0, (0, 60, 0, 80))
    assert mask.shape == (2, 60, 80)
    ys, xs = np.nonzero(mask[0])
    # bilinear between cell centres: above 0.5 up to half a cell past the outer centres
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 23, 16, 27)
    np.testing.assert_array_equal(np.argwhere(mask[1]), np.argwhere(mask[0]) + np.array([5, 30]))
    # a rectangle of the frame sees the same mask, cut to it
    part = foreground_masks([fg], [shift], 4.0, (10, 30, 40, 80))[0]
    np.testing.assert_array_equal(part, mask[1, 10:30, 40:80])


def fragments_row(mesh: list[int]) -> Fragments:
    """One row of pixels: mesh id per pixel, face id = 100 + column, bary marks the column."""
    n = len(mesh)
    bary = np.zeros((1, n, 3), np.float32)
    bary[0, :, 0] = np.arange(n)
    return Fragments(
        mesh_id=np.array([mesh], np.int32),
        face_id=np.where(np.array([mesh]) >= 0, 100 + np.arange(n), -1).astype(np.int32),
        bary=bary,
        depth=np.where(np.array([mesh]) >= 0, 1.0, np.inf).astype(np.float32),
    )


def test_uncovered_mask_pixels_take_the_nearest_own_mesh_pixel_within_reach() -> None:
    frags = fragments_row([0, 0, 0, -1, -1, -1, -1, 1, 1, -1])
    masks = np.zeros((2, 1, 10), bool)
    masks[0, 0, :7] = True  # person 0 reaches past its mesh to column 6
    masks[1, 0, 4:] = True  # person 1's mask overlaps person 0's at columns 4..6
    out = filled_fragments(frags, masks, reach=[2.0, 5.0])
    # person 0 fills columns 3, 4 from its edge pixel 2 (5, 6 are beyond reach); person 1
    # fills 5, 6 from its pixel 7 and column 9 from 8; column 4 stays person 0's
    np.testing.assert_array_equal(out.mesh_id[0], [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(
        out.face_id[0], [100, 101, 102, 102, 102, 107, 107, 107, 108, 108]
    )
    np.testing.assert_array_equal(out.bary[0, :, 0], [0, 1, 2, 2, 2, 7, 7, 7, 8, 8])
    assert np.isfinite(out.depth).all()
    assert (frags.mesh_id[0, 3:7] == -1).all()  # the input is left as it was


def test_nothing_is_filled_without_a_foreground_or_a_reach() -> None:
    frags = fragments_row([0, -1, -1])
    mesh = np.array([[0.0, 0.0], [0.0, 50.0]])  # a person 50 px tall
    same, reach = fill_to_foregrounds(frags, (0, 1, 0, 3), [None], [np.eye(2, 3)], [mesh], 0.1, 4)
    assert same is frags and reach.tolist() == [0.0]
    same, _ = fill_to_foregrounds(
        frags, (0, 1, 0, 3), [np.ones((2, 2), np.float32)], [np.eye(2, 3)], [mesh], 0.0, 4
    )
    assert same is frags


def test_the_iuv_layer_and_densepose_cover_the_persons_foreground() -> None:
    person = template_person(1, W / 2, H / 2, 160)
    # the network's mask: the mesh's box (crop = frame here), wider than the thin body
    fg = np.zeros((H // 4, W // 4), np.float32)
    x0, y0, x1, y1 = (
        person.vertices_high[:, :2].min(0).tolist() + person.vertices_high[:, :2].max(0).tolist()
    )
    fg[int(y0 / 4) : int(y1 / 4), int(x0 / 4) : int(x1 / 4)] = 1.0
    person = replace(person, foreground=fg)
    frame = np.full((H, W, 3), 90, np.uint8)
    covered = {}
    for reach in (0.0, 0.1):
        config = RenderConfig(
            layers=parse_layers("iuv:1"), renderer="cpu", densepose=True, iuv_fill_reach=reach
        )
        renderer = LayerRenderer(config)
        try:
            drawn = (renderer.render(frame, [person]) != frame).any(axis=2)
            dp = renderer.densepose([person], W, H)
        finally:
            renderer.close()
        assert ((dp.iuv[..., 0] > 0) == (dp.person_index > 0)).all()
        covered[reach] = (drawn.sum(), (dp.person_index > 0).sum())
    # filled: more of the person is labelled, in the layer as in the DensePose output
    assert covered[0.1][0] > 1.2 * covered[0.0][0]
    assert covered[0.1][1] > 1.2 * covered[0.0][1]


def test_the_reach_is_a_fraction_of_the_height_in_view() -> None:
    """A close-up's mesh guesses the body far below the frame: its reach is measured on what
    the rectangle shows of it, not on the guessed whole."""
    row = fragments_row([0, 1, -1])
    frags = Fragments(  # rows 0..99 of the frame
        *(np.repeat(a, 100, axis=0) for a in (row.mesh_id, row.face_id, row.bary, row.depth))
    )
    fg = [np.ones((2, 2), np.float32)]
    inside = np.array([[0.0, 10.0], [0.0, 60.0]])  # 50 px tall, all in rows 0..99
    below = np.array([[0.0, 10.0], [0.0, 900.0]])  # from row 10 to far below row 99
    _, reach = fill_to_foregrounds(
        frags, (0, 100, 0, 3), fg * 2, [np.eye(2, 3)] * 2, [inside, below], 0.1, 4
    )
    np.testing.assert_allclose(reach, [5.0, 0.1 * (99.5 - 10.0)])
