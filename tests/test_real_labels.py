"""The label store (``data.real.labels``): rows, packed masks and metadata round-trip."""
# ruff: noqa: F811  (fixtures imported from real_helpers)

from __future__ import annotations

from pathlib import Path

import numpy as np
from real_helpers import PEOPLE, label_file  # noqa: F401

from meshpose_core.data.real.labels import load_labels, pack_mask, unpack_mask


def test_label_store_round_trip(label_file: Path) -> None:
    labels, meta = load_labels(label_file)
    assert meta == {"source": "fixture"} and len(labels) == len(PEOPLE) == 4
    assert labels.keypoints.shape == (4, 17, 2) and labels.mask.shape == (4, 2048)
    assert labels.has_mask.tolist() == [True, False, True, True]
    m = unpack_mask(labels.mask[0])
    assert m.shape == (128, 128) and 0.05 < m.mean() < 0.5
    np.testing.assert_array_equal(unpack_mask(pack_mask(m)), m)
