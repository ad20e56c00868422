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
from vqdb.index.sparse_index import SparseIndex, idf_weighted
from vqdb.index.sparse_vectors import SparseVector, SparseVectors


def statistics(
    c: Collection, name: str, terms: npt.NDArray[np.uint32], corpus: Filter | None = None
) -> tuple[int, npt.NDArray[np.uint64]]:
    """N and each term's n for the sparse vector `name` (the caller holds the read lock), over
    the points that match `corpus` if given (Qdrant's `params.idf.corpus`: statistics of one
    tenant, say, whatever the search's own filter)."""
    total = 0
    counts: npt.NDArray[np.uint64] | None = None
    for segment in c.segments:
        store = segment.vectors.get(name)
        if not isinstance(store, SparseIndex) or not len(store):
            continue
        if corpus is None:
            total += len(store)
            found = store.document_frequency(terms)
        else:
            among = segment.mask(corpus)
            total += int(np.count_nonzero(among & store.live_mask(segment.size)))
            found = store.document_frequency(terms, among)
        counts = found if counts is None else counts + found
    return total, np.zeros(terms.shape[0], np.uint64) if counts is None else counts


def weighted(
    c: Collection, name: str, query: SparseVector, corpus: Filter | None = None
) -> SparseVectors:
    """The query with IDF applied when the vector's modifier asks for it, as a batch of one
    (what the search takes)."""
    config = c.config.sparse_vectors.get(name)
    if config is None or not config.idf or query.indices.shape[0] == 0:
        return query.batch()
    total, counts = statistics(c, name, query.indices, corpus)
    values = idf_weighted(query.values, counts, total)
    return SparseVectors(np.array([0, values.shape[0]], dtype=np.int64), query.indices, values)
