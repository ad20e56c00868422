"""A random sample of one dense vector of a collection, read under its read lock, with what
the advisor needs to know of it (distance, datatype, the HNSW settings its segments use)."""

from __future__ import annotations

from typing import Any

import numpy as np

from vqdb.advisor.sample import MIN_SAMPLE, QUERIES, SAMPLE_VALUES
from vqdb.distance import Distance
from vqdb.errors import BadInput, NotFound
from vqdb.index.vector_index import Index


def dense_sample(
    collection: Any, name: str = "", seed: int = 0
) -> tuple[np.ndarray, Distance, str, dict[str, int] | None]:
    """(vectors, distance, datatype, hnsw) of the vector `name` ("" = the unnamed one)."""
    config = collection.config
    if name not in config.vectors:
        if name in config.sparse_vectors:
            raise BadInput(f"vector {name!r} is sparse: the advisor measures dense vectors")
        known = ", ".join(repr(n) for n in config.vectors) or "none"
        raise NotFound(f"collection {collection.name!r} has no dense vector {name!r} ({known})")
    vector = config.vectors[name]
    if vector.multivector:
        raise BadInput(f"vector {name!r} is a multivector: the advisor measures single vectors")
    args = vector.index_args()
    rng = np.random.default_rng(seed)
    wanted = max(MIN_SAMPLE, SAMPLE_VALUES // vector.size) + QUERIES
    with collection.lock.read():
        parts = []
        for segment in collection.segments:
            index = segment.vectors.get(name)
            if isinstance(index, Index) and len(index):
                parts.append((index, index.live_ids()))
        total = sum(len(ids) for _, ids in parts)
        if total == 0:
            raise BadInput(f"collection {collection.name!r} has no vectors to advise on")
        keep = min(1.0, wanted / total)
        chunks = []
        for index, ids in parts:
            picked = ids if keep >= 1.0 else ids[rng.random(len(ids)) < keep]
            if len(picked):
                chunks.append(np.asarray(index.vectors(picked), dtype=np.float32))
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, vector.size), np.float32)
    return vectors, vector.distance, vector.datatype, args["hnsw"]
