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

from vqdb.index import bitset
from vqdb.index.live_ids import LiveIds
from vqdb.index.sparse_vectors import SparseVectors
from vqdb.native import _core
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
        self._live = LiveIds()

    def __repr__(self) -> str:
        return f"SparseIndex(vectors={len(self)}, terms={self._index.terms})"

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, point_id: object) -> bool:
        return point_id in self._live

    def memory_usage(self) -> dict[str, int]:
        """Bytes in RAM: the rows and postings (one native structure), ids, live bitset."""
        return {"sparse": self._index.memory_bytes, **self._live.memory_usage()}

    @property
    def read_only(self) -> bool:
        return False

    @property
    def read_path(self) -> str:
        return "ram"

    # ---- writes ------------------------------------------------------------------------------

    def add(self, ids: Any, vectors: SparseVectors) -> None:
        new_ids = self._live.check_new(ids, len(vectors))
        if len(vectors) == 0:
            return
        first = self._index.size
        self._index.add(
            np.ascontiguousarray(vectors.indptr, dtype=np.int64),
            np.ascontiguousarray(vectors.indices, dtype=np.uint32),
            np.ascontiguousarray(vectors.values, dtype=np.float32),
        )
        self._live.appended(new_ids, first)

    def delete(self, ids: Any) -> None:
        self._live.delete(ids)

    # ---- reads -------------------------------------------------------------------------------

    def vectors(self, ids: Any) -> SparseVectors:
        """The stored vectors of live ids (sorted by index), as a copy."""
        return self.vectors_at(self.rows(ids))

    def rows(self, ids: Any) -> Ids:
        """The rows that hold the vectors of live ids (for `vectors_at`)."""
        return self._live.existing(as_ids(ids))

    def vectors_at(self, rows: Ids) -> SparseVectors:
        """`vectors` of the ids at these rows, whether or not still live (see Index's)."""
        return self._rows().take(rows)

    def _rows(self) -> SparseVectors:
        """Every row as views of the native index's arrays (valid until the next add)."""
        return SparseVectors(
            self._index.indptr_view, self._index.indices_view, self._index.values_view
        )

    def live_mask(self, size: int) -> npt.NDArray[np.bool_]:
        """mask[i]: whether id i (for ids below `size`) is live."""
        return self._live.live_mask(size)

    def document_frequency(
        self, terms: npt.NDArray[np.uint32], among: npt.NDArray[np.bool_] | None = None
    ) -> npt.NDArray[np.uint64]:
        """How many live vectors hold each term (IDF's n); `among`: only those of the points
        in that mask over ids."""
        alive = self._live.allowed(among)  # None while every row is live
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
        rescored: int | None = None,
    ) -> tuple[Ids, Scores]:
        """(n, limit) ids and dot products, best first; only vectors sharing an index with the
        query score (rows with fewer end in -1 / NaN). `params` and `rescored` are accepted for
        the interface: the search is always exact. `allowed_ids`: a boolean mask over ids, or
        ids."""
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        offsets, scores = self._index.search(
            np.ascontiguousarray(queries.indptr, dtype=np.int64),
            np.ascontiguousarray(queries.indices, dtype=np.uint32),
            np.ascontiguousarray(queries.values, dtype=np.float32),
            int(limit),
            self._live.allowed(allowed_ids),
            threads or self.threads,
        )
        return self._live.to_ids(offsets), scores

    def add_to(
        self,
        leaf: _core.Leaf,
        position: int,
        limit: int,
        params: Any,
        *,
        allowed_ids: Any = None,
        rescored: int | None = None,
    ) -> None:
        """This index's search for `limit` points, added to a query stage's leaf (the segment at
        `position`; its query is the leaf's own). `params`, `rescored`: as in `search`."""
        leaf.add_sparse(
            position, self._index, limit, self._live.allowed(allowed_ids), self._live.row_ids
        )

    def add_rescoring_to(self, leaf: _core.Leaf, position: int, ids: Any, limit: int) -> None:
        """The best `limit` of `ids` by their dot products (a rescoring stage's candidates),
        added to a query stage's leaf."""
        self.add_to(leaf, position, limit, None, allowed_ids=ids)

    # ---- state for the persistence layer -----------------------------------------------------

    def config(self) -> dict[str, Any]:
        return sparse_config()

    @property
    def alive(self) -> bitset.Bitset:
        return self._live.alive

    def state(self, *, shared: bool = False) -> dict[str, npt.NDArray[Any]]:
        """ids, alive and the rows in CSR form (views of the index: persist, do not keep);
        `shared`: and the postings laid out flat (`POSTINGS`, derived from the rows: what
        `from_state` can search in place)."""
        arrays = {
            **self._live.state(),
            "indptr": self._index.indptr_view,
            "indices": self._index.indices_view,
            "values": self._index.values_view,
        }
        if shared:
            flat = self._index.postings_state()
            arrays.update({POSTINGS + part: flat[part] for part in _FLAT})
        return arrays

    @classmethod
    def from_state(
        cls,
        config: Mapping[str, Any],
        arrays: Mapping[str, npt.NDArray[Any]],
        threads: int = 0,
        *,
        view: bool = False,
    ) -> SparseIndex:
        """The store `state()` described. `view`: the rows and postings are searched in place
        in `arrays` (read-only maps of a segment's files, shared by the processes that read
        them), and the store takes no new vectors; else (or where the postings were not
        saved) the postings are built again from the rows, in RAM."""
        store = cls(threads=threads)
        rows = (
            np.ascontiguousarray(arrays["indptr"], dtype=np.int64),
            np.ascontiguousarray(arrays["indices"], dtype=np.uint32),
            np.ascontiguousarray(arrays["values"], dtype=np.float32),
        )
        if view and all(POSTINGS + part in arrays for part in _FLAT):
            flat = [arrays[POSTINGS + part] for part in _FLAT]
            store._index.view(*rows, *flat)
        else:
            store._index.load(*rows)
        store._live = LiveIds.from_state(arrays)
        return store


POSTINGS = "postings."  # the prefix of state(shared=True)'s flat postings
_FLAT = ("terms", "starts", "rows", "weights", "bounds")  # in view()'s order


def sparse_config() -> dict[str, Any]:
    """What `SparseIndex().config()` returns: the kind, and the weights' type (float32 for now;
    float16 / uint8 are a later step)."""
    return {"kind": KIND, "datatype": "float32"}


def idf_weighted(
    values: npt.NDArray[np.float32], counts: npt.NDArray[np.uint64], total: int
) -> npt.NDArray[np.float32]:
    """Query weights times Qdrant's IDF, ln((N - n + 0.5) / (n + 0.5) + 1), where N = total
    vectors and n = counts[i] of them hold term i (one native pass, in double)."""
    weighted: npt.NDArray[np.float32] = _core.idf_weighted(values, counts, total)
    return weighted  # (nanobind converts values that are not contiguous float32)
