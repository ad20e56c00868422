"""The distance matrix of a sample (Qdrant's `points/search/matrix/pairs` and `/offsets`).

A random sample of `sample` points that match the filter and have the vector `using`, in id
order; for each, its `limit` nearest among the sample, itself left out, scored as the API shows
scores of that vector (distances ascending for Euclid and Manhattan). As in Qdrant, each
sampled point asks for `limit + 1` neighbours among the sample and drops itself, or the last
one when it is not among them; fewer than two points give an empty matrix.

The scoring is one native batch per segment: every sampled vector is a query of an exact
search whose allowed set is the segment's share of the sample (Qdrant asks with a has_id filter
over the sample, small enough to be answered by a plain scan too). Sparse queries get IDF
weights first when their vector asks for them, as a nearest query would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.collection import idf, strict
from vqdb.collection.collection import Collection, checked_filter
from vqdb.errors import BadInput
from vqdb.floats import decimal_floats
from vqdb.index.sparse_vectors import SparseVectors
from vqdb.index.stores import VectorBatch, concat
from vqdb.params import SearchParams
from vqdb.segment.ids import PointId, sort_key

DEFAULT_SAMPLE = 10  # Qdrant's
DEFAULT_LIMIT = 3

Rows = npt.NDArray[np.int64]


@dataclass
class Matrix:
    """The sampled ids in id order and, for each row, its neighbours' positions in `ids`
    (`cols`) and their scores, nearest first, rows one after another."""

    ids: list[PointId]
    rows: Rows
    cols: Rows
    scores: npt.NDArray[np.float32]


def pairs(c: Collection, body: Mapping[str, Any]) -> dict[str, Any]:
    """SearchMatrixRequest -> {"pairs": [{"a", "b", "score"}, ...]}."""
    m = matrix(c, body)
    scores = decimal_floats(m.scores).tolist()
    return {
        "pairs": [
            {"a": m.ids[a], "b": m.ids[b], "score": score}
            for a, b, score in zip(m.rows.tolist(), m.cols.tolist(), scores)
        ]
    }


def offsets(c: Collection, body: Mapping[str, Any]) -> dict[str, Any]:
    """SearchMatrixRequest -> {"offsets_row", "offsets_col", "scores", "ids"}."""
    m = matrix(c, body)
    return {
        "offsets_row": m.rows.tolist(),
        "offsets_col": m.cols.tolist(),
        "scores": decimal_floats(m.scores).tolist(),
        "ids": m.ids,
    }


@strict.checked("matrix")
def matrix(c: Collection, body: Mapping[str, Any]) -> Matrix:
    sample = _count(body.get("sample"), DEFAULT_SAMPLE, "sample")
    limit = _count(body.get("limit"), DEFAULT_LIMIT, "limit")
    using = body.get("using") or ""
    if not isinstance(using, str):
        raise BadInput(f"'using' must be a vector name, got {using!r}")
    query_filter = checked_filter(body.get("filter"))
    empty = Matrix([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
    if sample == 0 or limit == 0:  # Qdrant answers these before looking at the vector
        return empty
    if not c.config.has_vector(using):
        raise BadInput(f"Wrong input: Not existing vector name error: {using}")
    with c.lock.read():
        chosen = _sample(c, using, query_filter, sample)
        if chosen is None:
            return empty
        where, at = chosen
        return _neighbours(c, using, where, at, limit)


def _count(value: Any, default: int, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{name} must be an integer >= 0, got {value!r}")
    return value


def _sample(c: Collection, using: str, query_filter: Any, sample: int) -> tuple[Rows, Rows] | None:
    """Up to `sample` random points with the vector and matching the filter, in id order, as
    (segment position, offset) columns; None when fewer than two qualify."""
    found = [np.flatnonzero(s.mask(query_filter) & s.vector_mask(using)) for s in c.segments]
    offsets = np.concatenate([np.zeros(0, np.int64), *found]).astype(np.int64)
    if offsets.shape[0] < 2:
        return None
    sizes = [f.shape[0] for f in found]
    segment_of = np.repeat(np.arange(len(found), dtype=np.int64), sizes)
    size = min(sample, offsets.shape[0])
    picked = np.random.default_rng().choice(offsets.shape[0], size=size, replace=False)
    where, at = segment_of[picked], offsets[picked]
    keys = [sort_key(c.segments[s].ids.id_at(o)) for s, o in zip(where.tolist(), at.tolist())]
    order = np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)
    return where[order], at[order]


def _neighbours(c: Collection, using: str, where: Rows, at: Rows, limit: int) -> Matrix:
    """Each sampled point's `limit` nearest among the sample (the caller holds the read lock)."""
    n = where.shape[0]
    segments = c.segments
    ids = [segments[s].ids.id_at(o) for s, o in zip(where.tolist(), at.tolist())]
    queries = _queries(c, using, where, at)
    wanted = limit + 1  # itself, most often, is one of them
    threshold = c.config.full_scan_threshold_vectors(using)
    exact = SearchParams(exact=True)
    cols, scores = [], []
    for s in np.unique(where).tolist():
        segment = segments[s]
        rows = np.flatnonzero(where == s)
        allowed = np.zeros(segment.size, dtype=np.bool_)
        allowed[at[rows]] = True
        position = np.full(segment.size, -1, dtype=np.int64)  # offset -> row of the sample
        position[at[rows]] = rows
        found, score = segment.search(using, queries, wanted, exact, allowed, threshold)
        cols.append(np.where(found >= 0, position[found], -1))
        scores.append(np.asarray(score, dtype=np.float32))
    col = np.concatenate(cols, axis=1)
    score = np.concatenate(scores, axis=1)
    valid = col >= 0
    # nearest first, ties by id order, missing last: the best `wanted` over all segments
    rank = score if c.config.distance(using).ascending else -score
    order = np.lexsort((col, np.where(valid, rank, np.inf)), axis=1)[:, :wanted]
    col = np.take_along_axis(col, order, axis=1)
    score = np.take_along_axis(score, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    row = np.arange(n, dtype=np.int64)[:, None]
    keep = valid & (col != row)
    keep &= np.cumsum(keep, axis=1) <= limit
    return Matrix(ids, np.broadcast_to(row, col.shape)[keep], col[keep], score[keep])


def _queries(c: Collection, using: str, where: Rows, at: Rows) -> VectorBatch:
    """The sampled points' vectors `using`, in sample order, as one batch."""
    parts, rows = [], []
    for s in np.unique(where).tolist():
        mine = np.flatnonzero(where == s)
        parts.append(c.segments[s].vectors[using].vectors(at[mine]))
        rows.append(mine)
    batch = concat(parts)
    back = np.empty(where.shape[0], dtype=np.int64)
    back[np.concatenate(rows)] = np.arange(where.shape[0], dtype=np.int64)
    batch = batch[back]
    if isinstance(batch, SparseVectors) and c.config.sparse_vectors[using].idf:
        weighted = [idf.weighted(c, using, batch[i]) for i in range(len(batch))]
        return SparseVectors.concat(weighted)
    return batch
