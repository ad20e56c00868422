"""The sparse vector store of a segment: sparse vectors under integer ids, searched by an exact
dot product over an inverted index (`_core.SparseIndex`).

It answers the same calls as `vqdb.Index` (add, delete, vectors, live_mask, search, state,
config), so a segment keeps one store per vector name without caring which kind it is. Ids map
to the native index's rows as in Index: rows only grow, a replaced vector gets a new row, and
deleted rows stay in the postings, masked out by the live bitset, until the optimizer rebuilds
the segment.

    >>> import numpy as np
    >>> from vqdb.index.sparse_vectors import SparseVectors
    >>> store = SparseIndex()
    >>> rows = [{"indices": [1, 7], "values": [1.0, 2.0]}, {"indices": [7], "values": [1.0]}]
    >>> store.add([10, 11], SparseVectors.parse(rows, "rows"))
    >>> ids, scores = store.search(SparseVectors.parse([{"indices": [7], "values": [0.5]}], "q"), 2)
    >>> ids.tolist(), scores.tolist()
    ([[10, 11]], [[1.0, 0.5]])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb import _core
from vqdb.index import bitset
from vqdb.index.id_map import IdMap
from vqdb.index.sparse_vectors import SparseVectors
from vqdb.validation import as_ids

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]

KIND = "sparse"


class SparseIndex:
    """Sparse vectors under int64 ids. `add` and `delete` must not overlap searches (the
    collection layer serialises writes); searches release the GIL."""

    def __init__(self, *, threads: int = 0) -> None:
        self.threads = int(threads)
        self._index = _core.SparseIndex()
        self._ids = IdMap()
        self._alive = bitset.empty(0)
        self._count = 0

    def __repr__(self) -> str:
        return f"SparseIndex(vectors={len(self)}, terms={self._index.terms})"

    def __len__(self) -> int:
        return self._count

    def __contains__(self, point_id: object) -> bool:
        if isinstance(point_id, bool) or not isinstance(point_id, (int, np.integer)):
            return False
        return bool(self._live_offsets(np.array([point_id], dtype=np.int64))[0] >= 0)

    def _live_offsets(self, ids: Ids) -> Ids:
        offsets = self._ids.offsets(ids)
        if not len(self._ids):
            return offsets
        return np.where(bitset.test(self._alive, np.maximum(offsets, 0)), offsets, -1)

    def memory_usage(self) -> dict[str, int]:
        """Bytes in RAM: the rows and postings (one native structure), ids, live bitset."""
        return {
            "sparse": self._index.memory_bytes,
            "ids": self._ids.nbytes,
            "alive": self._alive.nbytes,
        }

    @property
    def read_only(self) -> bool:
        return False

    @property
    def read_path(self) -> str:
        return "ram"

    # ---- writes ------------------------------------------------------------------------------

    def add(self, ids: Any, vectors: SparseVectors) -> None:
        new_ids = as_ids(ids, len(vectors))
        if np.unique(new_ids).shape[0] != new_ids.shape[0]:
            raise ValueError("ids must be unique within a batch")
        present = new_ids[self._live_offsets(new_ids) >= 0]
        if present.shape[0]:
            raise ValueError(f"id {present[0]} is already in the index")
        n = len(vectors)
        if n == 0:
            return
        first = self._index.size
        self._index.add(
            np.ascontiguousarray(vectors.indptr, dtype=np.int64),
            np.ascontiguousarray(vectors.indices, dtype=np.uint32),
            np.ascontiguousarray(vectors.values, dtype=np.float32),
        )
        self._ids.append(new_ids)
        self._count += n
        self._alive = bitset.grown(self._alive, first + n)
        bitset.set_range(self._alive, first, first + n)

    def delete(self, ids: Any) -> None:
        gone = np.unique(as_ids(ids))
        offsets = self._live_offsets(gone)
        if (offsets < 0).any():
            raise ValueError(f"id {gone[offsets < 0][0]} is not in the index")
        bitset.clear_bits(self._alive, offsets)
        self._count -= int(offsets.shape[0])

    # ---- reads -------------------------------------------------------------------------------

    def vectors(self, ids: Any) -> SparseVectors:
        """The stored vectors of live ids (sorted by index), as a copy."""
        wanted = as_ids(ids)
        offsets = self._live_offsets(wanted)
        if (offsets < 0).any():
            raise ValueError(f"id {wanted[offsets < 0][0]} is not in the index")
        return self._rows().take(offsets)

    def _rows(self) -> SparseVectors:
        """Every row as views of the native index's arrays (valid until the next add)."""
        return SparseVectors(
            self._index.indptr_view, self._index.indices_view, self._index.values_view
        )

    def live_mask(self, size: int) -> npt.NDArray[np.bool_]:
        """mask[i]: whether id i (for ids below `size`) is live."""
        bits = np.unpackbits(self._alive.view(np.uint8), bitorder="little").astype(np.bool_)
        mask = np.zeros(size, dtype=np.bool_)
        if self._ids.is_identity:
            n = min(size, len(self._ids))
            mask[:n] = bits[:n]
        else:
            ids = self._ids.ids(np.flatnonzero(bits[: len(self._ids)]))
            mask[ids[ids < size]] = True
        return mask

    def document_frequency(self, terms: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
        """How many live vectors hold each term (IDF's n)."""
        alive = self._alive if self._count < len(self._ids) else None
        counts: npt.NDArray[np.uint64] = self._index.document_frequency(
            np.ascontiguousarray(terms, np.uint32), alive
        )
        return counts

    def search(
        self,
        queries: SparseVectors,
        limit: int = 10,
        params: Any = None,
        *,
        allowed_ids: Any = None,
        threads: int = 0,
    ) -> tuple[Ids, Scores]:
        """(n, limit) ids and dot products, best first; only vectors sharing an index with the
        query score (rows with fewer end in -1 / NaN). `params` is accepted for the interface:
        the search is always exact. `allowed_ids`: a boolean mask over ids, or ids."""
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        offsets, scores = self._index.search(
            np.ascontiguousarray(queries.indptr, dtype=np.int64),
            np.ascontiguousarray(queries.indices, dtype=np.uint32),
            np.ascontiguousarray(queries.values, dtype=np.float32),
            int(limit),
            self._allowed(allowed_ids),
            threads or self.threads,
        )
        if not self._ids.is_identity:
            offsets = np.where(offsets >= 0, self._ids.ids(np.maximum(offsets, 0)), -1)
        return offsets, scores

    def _allowed(self, allowed_ids: Any) -> bitset.Bitset | None:
        if allowed_ids is None:
            return self._alive if self._count < len(self._ids) else None
        if isinstance(allowed_ids, np.ndarray) and allowed_ids.dtype == np.bool_:
            if self._ids.is_identity:
                mask = np.zeros(self._alive.shape[0] * 64, dtype=np.bool_)
                n = min(mask.shape[0], allowed_ids.shape[0])
                mask[:n] = allowed_ids[:n]
                return np.packbits(mask, bitorder="little").view(np.uint64) & self._alive
            allowed_ids = np.flatnonzero(allowed_ids)
        wanted = self._live_offsets(as_ids(allowed_ids))
        bits = bitset.empty(len(self._ids))
        bitset.set_bits(bits, wanted[wanted >= 0])
        return bits

    # ---- state for the persistence layer -----------------------------------------------------

    def config(self) -> dict[str, Any]:
        return sparse_config()

    @property
    def alive(self) -> bitset.Bitset:
        return self._alive

    def state(self) -> dict[str, npt.NDArray[Any]]:
        """ids, alive, and the rows in CSR form (views of the index: persist, do not keep)."""
        return {
            "ids": self._ids.state(),
            "alive": self._alive,
            "indptr": self._index.indptr_view,
            "indices": self._index.indices_view,
            "values": self._index.values_view,
        }

    @classmethod
    def from_state(
        cls, config: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]], threads: int = 0
    ) -> SparseIndex:
        """The store `state()` described; the postings are rebuilt from the CSR rows."""
        store = cls(threads=threads)
        store._index.load(
            np.ascontiguousarray(arrays["indptr"], dtype=np.int64),
            np.ascontiguousarray(arrays["indices"], dtype=np.uint32),
            np.ascontiguousarray(arrays["values"], dtype=np.float32),
        )
        store._ids = IdMap.from_state(arrays["ids"])
        store._alive = np.array(arrays["alive"], dtype=np.uint64)
        store._count = bitset.count(store._alive)
        return store


def sparse_config() -> dict[str, Any]:
    """What `SparseIndex().config()` returns: the kind, and the weights' type (float32 for now;
    float16 / uint8 are a later step)."""
    return {"kind": KIND, "datatype": "float32"}
