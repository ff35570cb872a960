"""The detection benchmark's scoring on hand-made photos: one-to-one matching best score
first, recall and precision for people >= 100 px and all, crowd regions, BlazePose's
hip-point rule (the real photos are in ../shared, not needed here)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from meshpose_core.bench.detection_bench import (
    AnnotatedImage,
    DetectorFigures,
    PipelineFigures,
    centre_inside,
    detection_affinity,
    lost_where,
    match_greedy,
    on_crowd,
    score_detections,
    score_pipeline,
)
from meshpose_core.detection import Detection

TALL = np.array([10.0, 10.0, 60.0, 160.0])  # 150 px tall
SMALL = np.array([200.0, 10.0, 230.0, 60.0])  # 50 px tall
CROWD = np.array([[300.0, 0.0, 400.0, 100.0]])


def image() -> AnnotatedImage:
    return AnnotatedImage(Path("x.jpg"), np.stack([TALL, SMALL]), ((), ()), CROWD)


def box_detection(box: np.ndarray, score: float) -> Detection:
    return Detection(box=box, score=score, person_box=box)


def test_matching_is_one_to_one_best_score_first() -> None:
    affinity = np.array([[0.6, 0.7], [0.9, 0.0], [0.8, 0.0]])
    np.testing.assert_array_equal(match_greedy(affinity, 0.5), [1, 0, -1])
    assert match_greedy(np.zeros((0, 2)), 0.5).shape == (0,)


def test_recall_and_precision_count_tall_people_crowds_and_duplicates() -> None:
    im = image()
    dets = [
        box_detection(TALL + 2, 0.9),  # the tall person
        box_detection(TALL - 3, 0.8),  # a second box on them: a false positive
        box_detection(SMALL, 0.7),  # the small person: not counted in the >= 100 px figures
        box_detection(CROWD[0] + 10, 0.6),  # on a crowd region, unmatched: not counted
        box_detection(np.array([500.0, 0, 550, 120]), 0.5),  # nobody there
    ]
    figures = DetectorFigures("t")
    affinity, threshold = detection_affinity(dets, im)
    taken = score_detections(figures, im, affinity, threshold, on_crowd(dets, im))
    np.testing.assert_array_equal(taken, [0, -1, 1, -1, -1])
    assert (figures.every.people, figures.every.found, figures.every.detections) == (2, 2, 4)
    assert figures.every.recall() == 1.0 and figures.every.precision() == 0.5
    assert (figures.tall.people, figures.tall.found, figures.tall.detections) == (1, 1, 3)
    assert figures.tall.precision() == 1 / 3


def test_blazepose_detections_match_by_hip_point_inside_the_box() -> None:
    im = image()
    hips = np.array(
        [[[35.0, 100.0], [0, 0], [0, 0], [0, 0]], [[120.0, 50.0], [0, 0], [0, 0], [0, 0]]]
    )
    dets = [
        Detection(box=np.zeros(4), score=0.9 - 0.1 * i, keypoints=k) for i, k in enumerate(hips)
    ]
    affinity, threshold = detection_affinity(dets, im)
    np.testing.assert_array_equal(match_greedy(affinity, threshold), [0, -1])
    # of two overlapping boxes holding the point, the one whose centre is nearer (in box
    # heights) takes it
    side_by_side = np.array([[0.0, 0.0, 100.0, 200.0], [80.0, 0.0, 180.0, 200.0]])
    assert centre_inside(np.array([[95.0, 100.0]]), side_by_side).argmax() == 1


def test_lost_people_are_told_apart_by_where_they_were_lost() -> None:
    people = np.array(
        [
            [0.0, 0.0, 50.0, 150.0],  # found
            [100.0, 0.0, 150.0, 150.0],  # no detection
            [200.0, 0.0, 250.0, 150.0],  # detected, no mesh anywhere near
            [300.0, 0.0, 350.0, 150.0],  # detected, a mesh drawn shorter than the person
        ]
    )
    detections = people[[0, 2, 3]] + 2.0
    meshes = np.array([[1.0, 1.0, 50.0, 150.0], [305.0, 40.0, 345.0, 120.0]])
    found = np.array([True, False, False, False])
    assert lost_where(people, detections, meshes, found) == (1, 1, 1)
    assert lost_where(people, detections[:0], meshes[:0], found) == (3, 0, 0)


def mesh_on(box: np.ndarray) -> SimpleNamespace:
    """A stand-in for a ``PersonResult`` whose mesh's box (pixel centres + 0.5) is ``box``."""
    corners = np.array([box[:2], box[2:]]) - 0.5
    return SimpleNamespace(vertices_high=np.concatenate([corners, np.zeros((2, 1))], axis=1))


def test_pipeline_precision_counts_meshes_as_the_detector_precision_counts_detections() -> None:
    im = image()
    people = [
        mesh_on(TALL + 2),  # the tall person
        mesh_on(TALL - 3),  # a second mesh on them: matches nobody (one to one)
        mesh_on(SMALL),  # the small person: not counted in the >= 100 px figures
        mesh_on(CROWD[0] + 10),  # on a crowd region, matching nobody: not counted
        mesh_on(np.array([500.0, 0, 550, 120])),  # nobody there
    ]
    figures = PipelineFigures()
    score_pipeline(figures, im, people, np.zeros((0, 3), int), 640, 480, lambda p: False)
    assert (figures.every.people, figures.every.found, figures.every.detections) == (2, 2, 4)
    assert figures.every.precision() == 0.5
    assert (figures.tall.people, figures.tall.found, figures.tall.detections) == (1, 1, 3)
    assert figures.tall.recall() == 1.0 and figures.tall.precision() == 1 / 3
    assert figures.meshes == 5
