"""Teacher-label filters (``data.real.quality``): mask cleaning, duplicates, side conflicts."""

from __future__ import annotations

import numpy as np

from meshpose_core.data.real.joints import flip_joint_order
from meshpose_core.data.real.quality import (
    duplicates,
    keep_components_at_points,
    nearest_person_only,
    teacher_agreement,
)


def test_mask_cleaning_keeps_the_persons_components() -> None:
    mask = np.zeros((32, 32), bool)
    mask[2:10, 2:10] = True
    mask[20:30, 20:30] = True
    kept = keep_components_at_points(mask, np.array([[5.0, 5.0]]))
    assert kept[2:10, 2:10].all() and not kept[20:30, 20:30].any()


def test_mask_pixels_go_to_the_nearest_skeleton() -> None:
    own = np.tile([[8.0, 0.0]], (17, 1)) + np.linspace(0, 1, 17)[:, None] * [0.0, 31.0]
    rival = own + np.array([16.0, 0.0])
    mask = np.ones((32, 32), bool)
    out = nearest_person_only(mask, own, [rival])
    assert out[:, :16].all() and not out[:, 17:].any()


def test_duplicates_and_side_conflicts() -> None:
    base = np.random.default_rng(1).uniform(0, 100, (17, 2))
    people = np.stack([base, base + 2.0, base + 60.0])
    valid = np.ones((3, 17), bool)
    assert duplicates(people, valid, np.array([0.9, 0.8, 0.7]), 0.1).tolist() == [
        False,
        True,
        False,
    ]
    agree, conflict = teacher_agreement(base, base, valid[0], 100.0)
    assert agree == 1.0 and not conflict
    swapped = flip_joint_order(base)
    agree, conflict = teacher_agreement(swapped, base, valid[0], 100.0)
    assert conflict
