"""Fusing ranked lists, as Qdrant's `fusion` queries do over the results of their prefetches.

- RRF (reciprocal rank fusion): a point scores sum over lists of 1 / (rank / w + k - 1), rank
  counted from 1, w the list's weight (default 1; 0 or less: no score), k 2 unless given.
- DBSF (distribution-based score fusion): each list's scores are mapped to [0, 1] between its
  mean -/+ 3 sample standard deviations (a single point scores 0.5), then summed per point.

Both rank the fused points by their new score, higher first, computed in float32 as Qdrant's.
A list is an array of int64 keys, best first (with its scores for DBSF); keys name points to
the caller.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from vqdb.native import _core

DEFAULT_RRF_K = 2

Keys = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]


class Fusion(NamedTuple):
    """A fusion query, checked: RRF with its k and one weight per list, or DBSF."""

    kind: str  # "rrf" or "dbsf"
    k: int = DEFAULT_RRF_K
    weights: tuple[float, ...] | None = None  # None: 1 for every list

    def weights_of(self, lists: int) -> tuple[float, ...]:
        return self.weights or (1.0,) * lists


def of_query(q: Mapping[str, Any], lists: int) -> Fusion:
    """The fusion a query asks for over `lists` prefetches: {"fusion": "rrf" | "dbsf"} or
    {"rrf": {"k", "weights"}} (ValueError says what is wrong)."""
    if q.get("fusion") == "rrf":  # the usual one first
        return _RRF
    if q.get("fusion") == "dbsf":
        return _DBSF
    spec = q.get("rrf")
    if not isinstance(spec, Mapping):
        raise ValueError(f"unknown fusion {q!r}: expected rrf or dbsf")
    k = spec.get("k")
    return checked_rrf(DEFAULT_RRF_K if k is None else k, spec.get("weights"), lists)


def checked_rrf(k: Any, weights: Any, lists: int) -> Fusion:
    """RRF's k and weights as a query gives them, checked for `lists` lists."""
    # numbers' ABCs: Python's and numpy's scalars alike (bool is an Integral too: refused)
    integral = type(k) is int or (not isinstance(k, bool) and isinstance(k, numbers.Integral))
    if not integral or k < 1:
        raise ValueError(f"rrf k must be an integer of at least 1, got {k!r}")
    if k >= 2**64:  # Qdrant's k is a u64
        raise ValueError(f"rrf k must be below 2^64, got {k!r}")
    if weights is not None and (
        not isinstance(weights, Sequence)
        or isinstance(weights, str)
        or not all(isinstance(w, numbers.Real) and not isinstance(w, bool) for w in weights)
    ):
        raise ValueError(f"rrf weights must be a list of numbers, got {weights!r}")
    if weights is not None and len(weights) != lists:
        raise ValueError(
            "Number of weights in RRF should match number of pre-fetches: got "
            f"{len(weights)}, expected {lists}"
        )
    return Fusion("rrf", int(k), None if weights is None else tuple(float(w) for w in weights))


_RRF, _DBSF = Fusion("rrf"), Fusion("dbsf")


def fused(fusion: Fusion, lists: Sequence[Keys], scores: Sequence[Scores]) -> tuple[Keys, Scores]:
    """The lists (with their scores, which only DBSF reads) fused as `fusion` says."""
    if fusion.kind == "dbsf":
        return dbsf(lists, scores)
    weights = fusion.weights_of(len(lists))
    return _summed(
        lists, [_rrf_scores(keys.shape[0], fusion.k, w) for keys, w in zip(lists, weights)]
    )


def rrf(
    lists: Sequence[Keys], k: int = DEFAULT_RRF_K, weights: Sequence[float] | None = None
) -> tuple[Keys, Scores]:
    return fused(checked_rrf(k, weights, len(lists)), lists, ())


@functools.lru_cache(maxsize=256)
def _rrf_scores(n: int, k: int, weight: float) -> Scores:
    """The RRF scores of ranks 1..n, by cpp/query/fusion.cpp (which the native fusion of leaves
    uses too): the same few (limit, k, weight) every query, so kept."""
    kept: Scores = _core.rrf_scores(n, float(k), weight)
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
