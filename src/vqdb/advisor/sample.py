"""What the advisor measures on: held-out (or given) queries, a random sample of the vectors,
and the exact top-k of every query in that sample.

Held-out queries are drawn from the vectors and taken out of the sample, so that no query finds
itself. The sample is the whole set up to a size (SAMPLE_VALUES floats): a sample smaller than
the set makes neighbours sparser and recall estimates optimistic, so the advisor samples only
where it must to finish in minutes, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.distance import Distance
from vqdb.errors import BadInput, invalid
from vqdb.index.vector_index import Index

Vectors = npt.NDArray[np.float32]

SAMPLE_VALUES = 30_000_000  # floats in the sample: 39k x 768, every vector of 100k x 300
MIN_SAMPLE = 20_000  # however many dimensions, as long as the set has them
QUERIES = 300  # held-out queries: a recall interval of about +-0.01 at 0.95


@dataclass
class Sample:
    base: Vectors  # the sample of the vectors the candidates index
    queries: Vectors
    truth: npt.NDArray[np.int64]  # (queries, limit) row ids into base, exact, best first
    distance: Distance
    datatype: str
    limit: int
    total: int  # vectors in the whole set
    given_queries: bool = False

    @property
    def sampled(self) -> bool:
        return len(self.base) < self.total - (0 if self.given_queries else len(self.queries))

    def describe(self) -> dict[str, Any]:
        return {
            "vectors": self.total,
            "sample": len(self.base),
            "queries": len(self.queries),
            "held_out": not self.given_queries,
            "sampled": self.sampled,
            "dim": int(self.base.shape[1]),
            "distance": self.distance.value,
            "limit": self.limit,
        }


def checked_vectors(vectors: Any, what: str = "vectors") -> Vectors:
    """A 2-d float32 array of finite values with at least 2 dimensions, or BadInput."""
    x = np.asarray(vectors)
    if x.ndim != 2:
        raise BadInput(f"{what} must be a 2-d array (n, dim), got shape {x.shape}")
    if x.shape[0] == 0:
        raise BadInput(f"{what}: there are no vectors to advise on")
    if x.shape[1] < 2:
        raise BadInput(f"{what} have {x.shape[1]} dimension: quantization needs at least 2")
    if not np.issubdtype(x.dtype, np.number):
        raise BadInput(f"{what} must be numbers, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise BadInput(f"{what} hold NaN or infinite values")
    return x


def draw(
    vectors: Vectors,
    distance: Distance,
    *,
    queries: Vectors | None = None,
    limit: int = 10,
    n_queries: int = QUERIES,
    sample_size: int | None = None,
    datatype: str = "float32",
    seed: int = 0,
) -> Sample:
    """Queries, the sample and its exact top-`limit` (the engine's own exact scan, so every
    distance, datatype and normalisation is scored as a collection scores it)."""
    n, dim = vectors.shape
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise invalid("limit", "value must be between 1 and 100", "request")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if queries is None:
        held = min(n_queries, n // 10)
        if held < 10 or n - held < limit * 10:
            raise BadInput(
                f"{n} vectors are too few to advise on: it needs at least "
                f"{max(100, limit * 11)} (queries are held out of them)"
            )
        q, rest = vectors[order[:held]], order[held:]
    else:
        if queries.shape[1] != dim:
            raise BadInput(f"queries have {queries.shape[1]} dimensions, the vectors {dim}")
        if n < limit * 10:
            raise BadInput(f"{n} vectors are too few to advise on: it needs at least {limit * 10}")
        q, rest = queries[: max(n_queries, 1)], order
    size = sample_size or max(MIN_SAMPLE, SAMPLE_VALUES // dim)
    rest = np.sort(rest[:size])  # in the set's order: a sample of a sorted file stays sorted
    base = np.ascontiguousarray(vectors[rest])
    exact = Index(dim, distance, hnsw=None, datatype=datatype)
    exact.add(np.arange(len(base)), base)
    truth, _ = exact.search(q, limit, {"exact": True})
    return Sample(
        base,
        np.ascontiguousarray(q),
        truth.reshape(len(q), limit),
        distance,
        datatype,
        limit,
        n,
        given_queries=queries is not None,
    )
