"""The native sum behind RRF and DBSF (`_core.fuse`) against a plain Python fold of the same
lists: totals added in list order in float32, best first, ties and NaN in first-seen order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vqdb import _core


def reference(lists: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[int], list[float]]:
    totals: dict[int, np.float32] = {}  # insertion order: first seen
    for keys, scores in lists:
        for key, score in zip(keys.tolist(), scores):
            totals[key] = np.float32(totals.get(key, np.float32(0)) + score)
    seen = list(totals)

    def rank(key: int) -> tuple[int, float, int]:
        total = float(totals[key])
        return (1, 0.0, seen.index(key)) if math.isnan(total) else (0, -total, seen.index(key))

    ordered = sorted(seen, key=rank)
    return ordered, [float(totals[k]) for k in ordered]


@st.composite
def ranked_lists(draw: st.DrawFn) -> list[tuple[np.ndarray, np.ndarray]]:
    universe = draw(st.sampled_from([8, 40, 1 << 45]))  # few keys: many shared and tied
    lists = []
    for _ in range(draw(st.integers(0, 4))):
        keys = draw(st.lists(st.integers(0, universe - 1), max_size=30, unique=True))
        values = st.sampled_from([0.5, 0.25, 1.0, -1.0, np.nan]) | st.floats(-2, 2, width=32)
        scores = draw(st.lists(values, min_size=len(keys), max_size=len(keys)))
        lists.append((np.array(keys, dtype=np.int64), np.array(scores, dtype=np.float32)))
    return lists


@settings(max_examples=300, deadline=None)
@given(ranked_lists())
def test_fuse_matches_a_python_fold(lists: list[tuple[np.ndarray, np.ndarray]]) -> None:
    keys, totals = _core.fuse([k for k, _ in lists], [s for _, s in lists])
    want_keys, want_totals = reference(lists)
    assert keys.tolist() == want_keys
    np.testing.assert_array_equal(totals, np.array(want_totals, dtype=np.float32))


def test_fuse_refuses_mismatched_lists() -> None:
    one = np.array([1, 2], dtype=np.int64)
    with pytest.raises(ValueError, match="one scores array per keys array"):
        _core.fuse([one], [])
    with pytest.raises(ValueError, match="differ in length"):
        _core.fuse([one], [np.zeros(3, dtype=np.float32)])
    with pytest.raises(ValueError, match="smallest int64"):
        _core.fuse([np.array([np.iinfo(np.int64).min])], [np.zeros(1, dtype=np.float32)])
