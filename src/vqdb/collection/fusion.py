"""Fusing ranked lists, as Qdrant's `fusion` queries do over the results of their prefetches.

- RRF (reciprocal rank fusion): a point scores sum over lists of 1 / ((rank + 1) / w + k - 1),
  rank counted from 0, w the list's weight (default 1), k 2 unless given.
- DBSF (distribution-based score fusion): each list's scores are mapped to [0, 1] between its
  mean -/+ 3 sample standard deviations (a single point scores 0.5), then summed per point.

Both rank the fused points by their new score, higher first, computed in float32 as Qdrant's.
A list is an array of int64 keys, best first (with its scores for DBSF); keys name points to
the caller.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from vqdb import _core

DEFAULT_RRF_K = 2

Keys = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
_ONE = np.float32(1)  # Qdrant fuses in float32: so do its scores here


def rrf(
    lists: Sequence[Keys], k: int = DEFAULT_RRF_K, weights: Sequence[float] | None = None
) -> tuple[Keys, Scores]:
    if weights is None and type(k) is int and k >= 1:  # the usual call: nothing to check
        return _summed(lists, [_rrf_scores(keys.shape[0], k, 1.0) for keys in lists])
    # numbers' ABCs: Python's and numpy's scalars alike (bool is an Integral too: refused)
    integral = type(k) is int or (not isinstance(k, bool) and isinstance(k, numbers.Integral))
    if not integral or k < 1:
        raise ValueError(f"rrf k must be an integer of at least 1, got {k!r}")
    if weights is not None and (
        not isinstance(weights, Sequence)
        or isinstance(weights, str)
        or not all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in weights)
    ):
        raise ValueError(f"rrf weights must be a list of numbers, got {weights!r}")
    if weights is not None and len(weights) != len(lists):
        raise ValueError(
            "Number of weights in RRF should match number of pre-fetches: got "
            f"{len(weights)}, expected {len(lists)}"
        )
    scores = [
        _rrf_scores(keys.shape[0], int(k), float(weight))
        for keys, weight in zip(lists, weights or [1.0] * len(lists))
    ]
    return _summed(lists, scores)


@functools.lru_cache(maxsize=256)
def _rrf_scores(n: int, k: int, weight: float) -> Scores:
    """The RRF score of ranks 0..n-1: the same few (limit, k, weight) every query, so kept."""
    w = np.float32(weight)
    rank = np.arange(1, n + 1, dtype=np.float32)
    score = _ONE / (rank / w + np.float32(k) - _ONE) if w > 0 else np.zeros_like(rank)
    kept: Scores = score.astype(np.float32)
    kept.flags.writeable = False  # shared by every query that asks for it
    return kept


def dbsf(lists: Sequence[Keys], scores: Sequence[Scores]) -> tuple[Keys, Scores]:
    return _summed(lists, [_normalized(s.astype(np.float32)) for s in scores])


def _summed(lists: Sequence[Keys], scores: Sequence[Scores]) -> tuple[Keys, Scores]:
    """Each point's scores added in list order (float32), ranked best first; ties keep the
    order in which the points were first seen. A point is in a list at most once."""
    return _core.fuse(list(lists), list(scores))  # nanobind converts what is not float32


def _normalized(scores: Scores) -> Scores:
    if scores.shape[0] < 2:
        return np.full(scores.shape, 0.5, dtype=np.float32)
    mean, spread = scores.mean(), np.float32(3) * scores.std(ddof=1)
    low, high = mean - spread, mean + spread
    if low == high:
        return np.full(scores.shape, 0.5, dtype=np.float32)
    normalized: Scores = (scores - low) / (high - low)
    return normalized
