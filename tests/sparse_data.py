"""Random sparse vectors for the tests, and the exact answers numpy gives for them."""

from __future__ import annotations

from typing import Any

import numpy as np

from vqdb.index.sparse_vectors import SparseVectors


def random_sparse(n: int, vocabulary: int = 30_000, nnz: int = 50, seed: int = 0) -> SparseVectors:
    """n rows of about `nnz` unique Zipf-distributed terms (a few very common, most rare),
    sorted by term, as `SparseVectors.parse` leaves them."""
    rng = np.random.default_rng(seed)
    draws = rng.poisson(nnz * 1.6, size=n)  # repeats of the common terms collapse
    row = np.repeat(np.arange(n, dtype=np.int64), draws)
    terms = (rng.zipf(1.2, size=row.shape[0]) - 1) % vocabulary
    keys = np.unique(row * vocabulary + terms)
    row, terms = keys // vocabulary, keys % vocabulary
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    values = rng.random(terms.shape[0]).astype(np.float32) + np.float32(0.01)
    return SparseVectors(indptr, terms.astype(np.uint32), values)


def as_json(batch: SparseVectors) -> list[dict[str, Any]]:
    return [batch[i].tolist() for i in range(len(batch))]


def exact_scores(
    data: SparseVectors, query: Any, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's dot product with the query (float64) and whether it shares a term with it.
    `weights`: per query term multipliers (IDF)."""
    q_idx = np.asarray(query["indices"], dtype=np.int64)
    q_val = np.asarray(query["values"], dtype=np.float64)
    if weights is not None:
        q_val = q_val * weights
    vocabulary = int(max(data.indices.max(initial=0), q_idx.max(initial=0))) + 1
    dense = np.zeros(vocabulary)
    present = np.zeros(vocabulary, dtype=bool)
    dense[q_idx], present[q_idx] = q_val, True
    row = np.repeat(np.arange(len(data)), np.diff(data.indptr))
    scores = np.bincount(row, weights=dense[data.indices] * data.values, minlength=len(data))
    overlap = np.bincount(row, weights=present[data.indices], minlength=len(data)) > 0
    return scores, overlap


def exact_top(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k best scores among `candidates` (a boolean mask), best first."""
    at = np.flatnonzero(candidates)
    return at[np.argsort(-scores[at], kind="stable")[:k]]


def assert_exact(
    found_ids: list[Any], found_scores: list[float], truth: dict[Any, float], k: int
) -> None:
    """Recall 1.0 against `truth` (id -> exact score of every candidate): the answer has
    min(k, len(truth)) ids, each scored right, none worse than the k-th best (float32 sums may
    swap exact ties)."""
    best = sorted(truth.values(), reverse=True)
    assert len(found_ids) == min(k, len(truth))
    if not best:
        return
    kth = best[min(k, len(best)) - 1]
    for pid, score in zip(found_ids, found_scores):
        assert pid in truth, pid
        assert abs(score - truth[pid]) <= 1e-4 * max(1.0, abs(truth[pid])), (pid, score)
        assert truth[pid] >= kth - 1e-4 * max(1.0, abs(kth)), (pid, truth[pid], kth)
    assert found_scores == sorted(found_scores, reverse=True)
