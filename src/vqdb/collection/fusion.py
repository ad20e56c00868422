"""Fusing ranked lists, as Qdrant's `fusion` queries do over the results of their prefetches.

- RRF (reciprocal rank fusion): a point scores sum over lists of 1 / ((rank + 1) / w + k - 1),
  rank counted from 0, w the list's weight (default 1), k 2 unless given.
- DBSF (distribution-based score fusion): each list's scores are mapped to [0, 1] between its
  mean -/+ 3 sample standard deviations (a single point scores 0.5), then summed per point.

Both rank the fused points by their new score, higher first, computed in float32 as Qdrant's.
A list is a sequence of (key, score) pairs, best first; keys identify points to the caller.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

DEFAULT_RRF_K = 2

Key = TypeVar("Key", bound=Hashable)
Scores = npt.NDArray[np.float32]
_ZERO, _ONE = np.float32(0), np.float32(1)  # Qdrant fuses in float32: so do its scores here


def rrf(
    lists: Sequence[Sequence[tuple[Key, float]]],
    k: int = DEFAULT_RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[Key, float]]:
    if weights is not None and len(weights) != len(lists):
        raise ValueError(
            "Number of weights in RRF should match number of pre-fetches: got "
            f"{len(weights)}, expected {len(lists)}"
        )
    parts = []
    for ranked, weight in zip(lists, weights or [1.0] * len(lists)):
        w = np.float32(weight)
        rank = np.arange(1, len(ranked) + 1, dtype=np.float32)
        score = _ONE / (rank / w + np.float32(k) - _ONE) if w > 0 else np.zeros_like(rank)
        parts.append(([key for key, _ in ranked], score.astype(np.float32)))
    return _summed(parts)


def dbsf(lists: Sequence[Sequence[tuple[Key, float]]]) -> list[tuple[Key, float]]:
    parts = []
    for ranked in lists:
        scores = np.array([score for _, score in ranked], dtype=np.float32)
        parts.append(([key for key, _ in ranked], _normalized(scores)))
    return _summed(parts)


def _summed(parts: list[tuple[list[Key], Scores]]) -> list[tuple[Key, float]]:
    """Each point's scores added in list order (float32), ranked best first; ties keep the
    order in which the points were first seen."""
    position: dict[Key, int] = {}
    for keys, _ in parts:
        for key in keys:
            position.setdefault(key, len(position))
    total = np.zeros(len(position), dtype=np.float32)
    for keys, scores in parts:
        np.add.at(total, np.fromiter((position[k] for k in keys), np.int64, len(keys)), scores)
    order = np.argsort(-total, kind="stable")
    keys = list(position)
    return [(keys[i], score) for i, score in zip(order.tolist(), total[order].tolist())]


def _normalized(scores: Scores) -> Scores:
    if scores.shape[0] < 2:
        return np.full(scores.shape, 0.5, dtype=np.float32)
    mean, spread = scores.mean(), np.float32(3) * scores.std(ddof=1)
    low, high = mean - spread, mean + spread
    if low == high:
        return np.full(scores.shape, 0.5, dtype=np.float32)
    normalized: Scores = (scores - low) / (high - low)
    return normalized
