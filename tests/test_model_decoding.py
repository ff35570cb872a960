"""Decoding of MeshPose outputs: argsoftmaxes, bin ranges, visibility fusion, dense IUV."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from meshpose_core.model.decoding import (
    TopologyArrays,
    argsoftmax_1d,
    bin_centers,
    bin_ranges,
    cell_grid,
    cell_to_pixel,
    decode_iuv,
    decode_uv_barycentric,
    decode_uv_closest_vertex,
    decode_uv_global_average,
    fuse_visibility,
    pixel_to_cell,
    spatial_argsoftmax,
)

# Octahedron: 0 +x, 1 -x, 2 +y, 3 -y, 4 +z, 5 -z; faces counter-clockwise from outside.
FACES = torch.tensor(
    [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
)
FACE_PART = torch.tensor([2, 2, 1, 1, 23, 23, 5, 5])
VERTEX_PART = torch.tensor([2, 1, 2, 1, 2, 23])
VERTEX_UV = torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8], [0.9, 0.1], [0.2, 0.9]])
# Distinct per-corner UVs so a wrong face or corner shows up.
CORNER_UV = torch.arange(8 * 3 * 2, dtype=torch.float32).reshape(8, 3, 2) / 48.0
PEAK = 30.0  # softmax([30, 0, ...]) puts all but ~1e-13 of the mass on the peak


def one_pixel_scores(values: dict[int, float], num_vertices: int = 6) -> torch.Tensor:
    """(1, V, 1, 1) scores: the given vertex logits, 0 elsewhere."""
    s = torch.zeros(1, num_vertices, 1, 1)
    for v, val in values.items():
        s[0, v, 0, 0] = val
    return s


def topology() -> TopologyArrays:
    return TopologyArrays(FACES, CORNER_UV, FACE_PART, VERTEX_PART, VERTEX_UV)


# --- positions --------------------------------------------------------------------------------


def test_cell_pixel_round_trip_is_exact() -> None:
    cells = torch.arange(-3, 50, dtype=torch.float32)
    for stride in (1, 2, 4, 8):
        pixels = cell_to_pixel(cells, stride)
        assert torch.equal(pixel_to_cell(pixels, stride), cells)
    # Stride-4 cell 0 covers pixels 0..3, centre 1.5; the crop's first pixel centre is 0.
    assert cell_to_pixel(torch.tensor(0.0), 4).item() == 1.5
    assert pixel_to_cell(torch.tensor(-0.5), 4).item() == -0.5  # crop edge = grid edge


def test_spatial_argsoftmax_recovers_peaks_per_vertex() -> None:
    h, w, stride = 6, 8, 4
    peaks = [(0, 0), (5, 7), (2, 3)]  # (row, col) per vertex
    scores = torch.zeros(2, len(peaks), h, w)
    for v, (i, j) in enumerate(peaks):
        scores[:, v, i, j] = 100.0
    xy = spatial_argsoftmax(scores, 1.0, stride)
    assert xy.shape == (2, 3, 2)
    expected = torch.tensor(
        [[(j + 0.5) * stride - 0.5, (i + 0.5) * stride - 0.5] for i, j in peaks]
    )
    torch.testing.assert_close(xy, expected.expand(2, -1, -1), atol=1e-4, rtol=0)
    # Round trip: the continuous grid position of the decoded pixel is the peak cell.
    cells = pixel_to_cell(xy[0], stride)
    torch.testing.assert_close(cells, torch.tensor(peaks, dtype=torch.float32).flip(-1))


def test_spatial_argsoftmax_splits_mass_and_beta_sharpens() -> None:
    scores = torch.zeros(1, 1, 4, 4)
    scores[0, 0, 1, 1] = scores[0, 0, 1, 2] = 50.0  # equal mass on two horizontal neighbours
    # stride 2: cells at x = 2.5 and 4.5, row 1 at y = 2.5
    xy = spatial_argsoftmax(scores, 1.0, 2)
    torch.testing.assert_close(xy[0, 0], torch.tensor([3.5, 2.5]), atol=1e-4, rtol=0)

    soft = torch.zeros(1, 1, 5, 5)
    soft[0, 0, 0, 0] = 1.0  # a weak corner peak: low beta is pulled to the centre
    target = cell_to_pixel(torch.tensor([0.0, 0.0]), 4)
    errors = [(spatial_argsoftmax(soft, b, 4)[0, 0] - target).norm().item() for b in (1, 5, 50)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-3
    assert errors[0] > 5.0  # the uniform background really dominates at beta 1


def test_argsoftmax_1d_recovers_peak_bins() -> None:
    bins, lo, hi = 64, -10.0, 53.0  # spacing exactly 1
    logits = torch.zeros(1, 3, bins)
    for v, k in enumerate((0, 17, bins - 1)):
        logits[0, v, k] = 100.0
    torch.testing.assert_close(argsoftmax_1d(logits, lo, hi), torch.tensor([[-10.0, 7.0, 53.0]]))
    halfway = torch.zeros(1, 1, bins)
    halfway[0, 0, 4] = halfway[0, 0, 5] = 100.0
    assert argsoftmax_1d(halfway, lo, hi).item() == pytest.approx(-5.5, abs=1e-4)
    uniform = torch.zeros(1, 1, bins)
    assert argsoftmax_1d(uniform, lo, hi).item() == pytest.approx((lo + hi) / 2, abs=1e-4)


def test_bin_ranges_and_first_last_bin_centres() -> None:
    width, height, bins = 192, 160, 64
    ranges = bin_ranges(width, height)
    assert ranges == {"x": (-192.0, 384.0), "y": (-160.0, 480.0), "z": (-384.0, 384.0)}
    like = torch.zeros(1)
    for lo, hi in ranges.values():
        centres = bin_centers(lo, hi, bins, like)
        assert centres[0].item() == lo and centres[-1].item() == hi
        step = torch.full((bins - 1,), (hi - lo) / (bins - 1))
        torch.testing.assert_close(centres.diff(), step, atol=1e-4, rtol=1e-5)
        first, last = torch.zeros(1, 1, bins), torch.zeros(1, 1, bins)
        first[..., 0] = last[..., -1] = 100.0
        assert argsoftmax_1d(first, lo, hi).item() == pytest.approx(lo, abs=1e-3)
        assert argsoftmax_1d(last, lo, hi).item() == pytest.approx(hi, abs=1e-3)


def test_fuse_visibility_blends_per_vertex() -> None:
    vp = torch.tensor([[[10.0, 20.0], [10.0, 20.0], [10.0, 20.0]]])
    reg = torch.tensor([[[30.0, 0.0], [30.0, 0.0], [30.0, 0.0]]])
    w = torch.tensor([[1.0, 0.0, 0.25]])
    fused = fuse_visibility(vp, reg, w)
    torch.testing.assert_close(fused, torch.tensor([[[10.0, 20.0], [30.0, 0.0], [25.0, 5.0]]]))


# --- dense IUV --------------------------------------------------------------------------------


def test_barycentric_peak_on_one_vertex_returns_its_corner_uv() -> None:
    # Face 5 = (1, 2, 5): most mass on vertex 2 (its corner 1), a little on the other two
    # corners so face 5 is the unique best face.
    scores = one_pixel_scores({2: PEAK, 1: PEAK / 2, 5: PEAK / 2})
    iuv = decode_uv_barycentric(scores, FACES, CORNER_UV, FACE_PART)
    assert iuv.shape == (1, 3, 1, 1)
    assert iuv[0, 0, 0, 0].item() == FACE_PART[5].item()
    torch.testing.assert_close(iuv[0, 1:, 0, 0], CORNER_UV[5, 1], atol=1e-5, rtol=0)


def test_barycentric_interpolates_between_two_vertices() -> None:
    # Mass split 3:1 between vertices 0 and 3 of face 7 = (0, 3, 5); vertex 5 breaks the tie
    # with face 3 = (3, 0, 4) while taking a negligible share.
    scores = one_pixel_scores({0: PEAK + math.log(3.0), 3: PEAK, 5: PEAK - 12})
    iuv = decode_uv_barycentric(scores, FACES, CORNER_UV, FACE_PART)
    assert iuv[0, 0, 0, 0].item() == FACE_PART[7].item()
    expected = 0.75 * CORNER_UV[7, 0] + 0.25 * CORNER_UV[7, 1]
    torch.testing.assert_close(iuv[0, 1:, 0, 0], expected, atol=1e-4, rtol=0)


def test_barycentric_matches_per_pixel_reference() -> None:
    torch.manual_seed(0)
    scores = torch.randn(2, 6, 3, 4) * 3
    iuv = decode_uv_barycentric(scores, FACES, CORNER_UV, FACE_PART)
    q = torch.softmax(scores, dim=1)
    for b in range(2):
        for i in range(3):
            for j in range(4):
                p = q[b, :, i, j]
                f = int(torch.argmax(p[FACES].sum(1)))
                bary = p[FACES[f]] / p[FACES[f]].sum()
                torch.testing.assert_close(iuv[b, 1:, i, j], bary @ CORNER_UV[f])
                assert iuv[b, 0, i, j].item() == FACE_PART[f].item()


def test_closest_vertex_takes_the_argmax_vertex() -> None:
    scores = torch.zeros(1, 6, 1, 2)
    scores[0, 3, 0, 0] = 5.0
    scores[0, 5, 0, 1] = 5.0
    iuv = decode_uv_closest_vertex(scores, VERTEX_PART, VERTEX_UV)
    torch.testing.assert_close(iuv[0, :, 0, 0], torch.tensor([1.0, 0.7, 0.8]))
    torch.testing.assert_close(iuv[0, :, 0, 1], torch.tensor([23.0, 0.2, 0.9]))


def test_global_average_averages_within_the_argmax_part_only() -> None:
    # Vertices 0 and 2 (part 2) share the mass equally; vertex 3 (part 1) is almost as likely
    # but must not enter the average.
    scores = one_pixel_scores({0: PEAK, 2: PEAK, 3: PEAK - 0.5})
    iuv = decode_uv_global_average(scores, VERTEX_PART, VERTEX_UV)
    assert iuv[0, 0, 0, 0].item() == 2.0
    torch.testing.assert_close(iuv[0, 1:, 0, 0], (VERTEX_UV[0] + VERTEX_UV[2]) / 2)


def test_global_average_matches_reference() -> None:
    torch.manual_seed(1)
    scores = torch.randn(2, 6, 2, 3) * 2
    iuv = decode_uv_global_average(scores, VERTEX_PART, VERTEX_UV)
    q = torch.softmax(scores, dim=1)
    for b in range(2):
        for i in range(2):
            for j in range(3):
                p = q[b, :, i, j]
                part = VERTEX_PART[torch.argmax(p)]
                m = VERTEX_PART.eq(part).float() * p
                torch.testing.assert_close(iuv[b, 1:, i, j], m @ VERTEX_UV / m.sum())
                assert iuv[b, 0, i, j].item() == part.item()


@pytest.mark.parametrize("method", ["barycentric", "closest_vertex", "global_average"])
def test_decode_iuv_masks_background(method: str) -> None:
    torch.manual_seed(2)
    scores = torch.randn(2, 6, 4, 5)
    fg = torch.randn(2, 1, 4, 5)
    iuv = decode_iuv(scores, fg, topology(), method)
    assert iuv.shape == (2, 3, 4, 5)
    bg = (fg < 0).expand_as(iuv)
    assert bool(bg.any()) and bool((~bg).any())
    assert torch.all(iuv[bg] == 0)
    parts = iuv[:, 0][fg[:, 0] >= 0]
    assert torch.all((parts >= 1) & (parts <= 24))
    assert torch.all(parts == parts.round())
    assert torch.all((iuv[:, 1:] >= 0) & (iuv[:, 1:] <= 1))


def test_decode_iuv_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown UV decoder"):
        decode_iuv(torch.zeros(1, 6, 1, 1), torch.ones(1, 1, 1, 1), topology(), "nearest")  # type: ignore[arg-type]


def test_topology_arrays_from_numpy_topology() -> None:
    topo = SimpleNamespace(
        faces=FACES.numpy().astype(np.int32),
        corner_part_uv=CORNER_UV.numpy(),
        face_part=FACE_PART.numpy(),
        vertex_part=VERTEX_PART.numpy(),
        vertex_part_uv=VERTEX_UV.numpy().astype(np.float64),
    )
    arrays = TopologyArrays.from_topology(topo)
    assert arrays.faces.dtype == torch.int64 and arrays.vertex_part_uv.dtype == torch.float32
    assert torch.equal(arrays.faces, FACES)
    torch.testing.assert_close(arrays.vertex_part_uv, VERTEX_UV)


def test_cell_grid_is_the_cell_centres_in_row_major_order() -> None:
    grid = cell_grid(3, 5, 4)
    assert grid.shape == (15, 2) and grid.dtype == torch.float32
    xs = cell_to_pixel(torch.arange(5.0), 4)
    ys = cell_to_pixel(torch.arange(3.0), 4)
    torch.testing.assert_close(grid, torch.stack((xs.repeat(3), ys.repeat_interleave(5)), 1))


def test_facing_camera_is_the_2d_winding_averaged_per_vertex() -> None:
    """Clockwise in image coordinates (y down) shows a face's outside: +1; the mirror image
    of the same mesh faces away: -1; a vertex shared by one of each sits at 0."""
    from meshpose_core.model.decoding import facing_camera, vertex_face_table

    faces = np.array([[0, 1, 2], [1, 3, 2]])
    table, weights = vertex_face_table(faces, 5)  # vertex 4 has no face
    np.testing.assert_array_equal(table, [[0, 2], [0, 1], [0, 1], [1, 2], [2, 2]])
    np.testing.assert_allclose(weights, [[1, 0], [0.5, 0.5], [0.5, 0.5], [1, 0], [0, 0]])
    mean = (torch.from_numpy(table), torch.from_numpy(weights))
    xy = torch.tensor([[[0.0, 0.0], [0.0, 10.0], [10.0, 0.0], [10.0, 10.0], [5.0, 5.0]]])
    # face 0: (0,0) -> (0,10) -> (10,0): cross = 0*0 - 10*10 < 0, clockwise on screen
    front = facing_camera(xy, torch.from_numpy(faces), *mean)
    np.testing.assert_allclose(front[0, :4].numpy(), 1.0, atol=1e-6)
    mirrored = xy * torch.tensor([-1.0, 1.0])
    np.testing.assert_allclose(facing_camera(mirrored, torch.from_numpy(faces), *mean)[0, :4], -1)
    bent = xy.clone()
    bent[0, 3] = torch.tensor([-10.0, 5.0])  # fold face 1 over to the other side
    got = facing_camera(bent, torch.from_numpy(faces), *mean)[0]
    np.testing.assert_allclose(got[[0, 3]].numpy(), [1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(got[[1, 2]].numpy(), 0.0, atol=1e-6)
    assert got[4] == 0
