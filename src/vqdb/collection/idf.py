"""Qdrant's `modifier: idf` for sparse vectors: query weights times each term's inverse document
frequency over the live collection, computed at query time.

    idf(term) = ln((N - n + 0.5) / (n + 0.5) + 1)

N: live points that have the sparse vector, in every segment; n: those among them whose vector
holds the term. The stored vectors never change, so an IDF collection's scores follow deletes
and new points at once, as Qdrant's do.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vqdb.collection.collection import Collection
from vqdb.filters import Filter
from vqdb.index.sparse_index import SparseIndex
from vqdb.index.sparse_vectors import SparseVector


def idf(
    c: Collection, name: str, terms: npt.NDArray[np.uint32], corpus: Filter | None = None
) -> npt.NDArray[np.float64]:
    """idf of each term for the sparse vector `name` (the caller holds the read lock), over
    the points that match `corpus` if given (Qdrant's `params.idf.corpus`: statistics of one
    tenant, say, whatever the search's own filter)."""
    total = 0
    counts = np.zeros(terms.shape[0], dtype=np.float64)
    for segment in c.segments:
        store = segment.vectors.get(name)
        if not isinstance(store, SparseIndex) or not len(store):
            continue
        if corpus is None:
            total += len(store)
            counts += store.document_frequency(terms)
        else:
            among = segment.mask(corpus)
            total += int(np.count_nonzero(among & store.live_mask(segment.size)))
            counts += store.document_frequency(terms, among)
    weights: npt.NDArray[np.float64] = np.log((total - counts + 0.5) / (counts + 0.5) + 1.0)
    return weights


def weighted(
    c: Collection, name: str, query: SparseVector, corpus: Filter | None = None
) -> SparseVector:
    """The query with IDF applied when the vector's modifier asks for it."""
    config = c.config.sparse_vectors.get(name)
    if config is None or not config.idf or query.indices.shape[0] == 0:
        return query
    weights = idf(c, name, query.indices, corpus)
    values = (query.values.astype(np.float64) * weights).astype(np.float32)
    return SparseVector(query.indices, values)
