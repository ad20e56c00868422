"""Ranked.merged: the answers of several segments to a batch of queries, one ranked list per
query, against a plain Python sort of the same points."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vqdb.collection.ranked import Ranked


def answers(rng: np.random.Generator, queries: int, segments: int, ties: bool) -> list:
    """(position, offsets, scores) per segment: (queries, k) with -1 / NaN padding at the end
    of some rows, scores drawn from few values when `ties`."""
    found = []
    for s in range(segments):
        k = int(rng.integers(0, 6))
        offsets = np.stack([rng.permutation(50)[:k] for _ in range(queries)]).reshape(queries, k)
        scores = (
            rng.choice([0.25, 0.5, 1.0], size=(queries, k)) if ties else rng.random((queries, k))
        ).astype(np.float32)
        for q in range(queries):
            pad = int(rng.integers(0, k + 1))
            offsets[q, k - pad :] = -1
            scores[q, k - pad :] = np.nan
        found.append((int(rng.integers(0, 8)) if s else s, offsets.astype(np.int64), scores))
    return found


def expected(found: list, q: int, ascending: bool, threshold: float | None, wanted: int) -> list:
    points = [
        (float(sc[q, j]), s, int(o[q, j]))
        for s, o, sc in found
        for j in range(o.shape[1])
        if o[q, j] >= 0
    ]
    if threshold is not None:
        points = [p for p in points if (p[0] <= threshold if ascending else p[0] >= threshold)]
    points.sort(key=lambda p: (p[0] if ascending else -p[0], p[1], p[2]))
    return points[:wanted]


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    queries=st.integers(1, 5),
    segments=st.integers(0, 4),
    ties=st.booleans(),
    ascending=st.booleans(),
    threshold=st.sampled_from([None, 0.3, 0.5]),
    wanted=st.integers(1, 12),
)
def test_merged_ranks_each_query(
    seed: int,
    queries: int,
    segments: int,
    ties: bool,
    ascending: bool,
    threshold: float | None,
    wanted: int,
) -> None:
    rng = np.random.default_rng(seed)
    found = answers(rng, queries, segments, ties)
    segments: list = [f"segment {s}" for s in range(8)]  # what a hit names by position
    positions, offsets, scores = ([f[i] for f in found] for i in range(3))
    ranked = Ranked.merged(
        positions, offsets, scores, queries, segments, ascending, threshold, wanted
    )
    assert len(ranked) == queries
    for q, r in enumerate(ranked):
        got = list(zip(r.scores.tolist(), r.where.tolist(), r.offsets.tolist()))
        assert got == expected(found, q, ascending, threshold, wanted)
        # the hits a page reads: iterated, indexed and sliced, the same points
        hits = [(score, s, segments[s], offset) for score, s, offset in got]
        assert list(r) == hits
        assert [r[i] for i in range(len(r))] == hits
        assert list(r[1:3]) == hits[1:3]
