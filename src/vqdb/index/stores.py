"""The vector stores a segment holds, one per vector name, behind one small interface.

Two kinds today: `Index` (dense vectors, and multivectors with `multivector=True`: a graph or
plain scan, quantized copies) and `SparseIndex` (sparse vectors: an inverted index). A
segment, the builder and the collection call only what `VectorStore` lists, so they never
branch on the kind; the kind is decided here, from the arguments a store is made with
(`{"kind": "sparse"}` or Index's keyword arguments).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from vqdb.index import bitset
from vqdb.index.multi_vectors import MultiVectors
from vqdb.index.sparse_index import KIND as SPARSE
from vqdb.index.sparse_index import SparseIndex, sparse_config
from vqdb.index.sparse_vectors import SparseVector, SparseVectors
from vqdb.index.vector_index import Index, index_config

if TYPE_CHECKING:
    from vqdb.native import _core
    from vqdb.params import SearchParams

Ids = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float32]
# a batch of vectors: a float32 matrix (dense), CSR rows (sparse), groups of rows (multi)
VectorBatch = npt.NDArray[np.float32] | SparseVectors | MultiVectors
# one vector, as `vectors(...)[i]` gives it
OneVector = npt.NDArray[np.float32] | SparseVector


class VectorStore(Protocol):
    """Vectors under integer ids (a segment's offsets), searchable, persisted as arrays."""

    def __len__(self) -> int: ...
    def __contains__(self, point_id: object) -> bool: ...
    def add(self, ids: Any, vectors: Any) -> None: ...
    def delete(self, ids: Any) -> None: ...
    def vectors(self, ids: Any) -> Any: ...
    def rows(self, ids: Any) -> Ids: ...
    def vectors_at(self, rows: Ids) -> Any: ...
    def live_mask(self, size: int) -> npt.NDArray[np.bool_]: ...
    def search(
        self,
        queries: Any,
        limit: int = 10,
        params: Any = None,
        *,
        allowed_ids: Any = None,
        threads: int = 0,
        rescored: int | None = None,
    ) -> tuple[Ids, Scores]: ...
    def add_to(
        self,
        leaf: _core.Leaf,
        position: int,
        limit: int,
        params: SearchParams,
        *,
        allowed_ids: Any = None,
        rescored: int | None = None,
    ) -> None: ...
    def add_rescoring_to(self, leaf: _core.Leaf, position: int, ids: Any, limit: int) -> None: ...
    def memory_usage(self) -> dict[str, int]: ...
    def config(self) -> dict[str, Any]: ...
    def state(self, *, shared: bool = False) -> dict[str, npt.NDArray[Any]]:
        """`shared`: with what a view of it reads in place that a load would build again
        (an optimized segment's: see from_state's views)."""
        ...

    @property
    def alive(self) -> bitset.Bitset: ...
    @property
    def read_only(self) -> bool: ...
    @property
    def read_path(self) -> str: ...


def is_sparse(args: Mapping[str, Any]) -> bool:
    return args.get("kind") == SPARSE


def new_store(args: Mapping[str, Any], threads: int = 0) -> VectorStore:
    """A built (optimized) segment's store: Index(**args), or a SparseIndex."""
    if is_sparse(args):
        return SparseIndex(threads=threads)
    return Index(**args, threads=threads)


def appendable_store(args: Mapping[str, Any]) -> VectorStore:
    """An appendable segment's store: a plain, unquantized Index of (dim, distance), or a
    SparseIndex (its inverted index is incremental, so appendable segments have one too)."""
    if is_sparse(args):
        return SparseIndex()
    return Index(
        args["dim"],
        args["distance"],
        hnsw=None,
        multivector=args.get("multivector", False),
        datatype=args.get("datatype", "float32"),
    )


def store_config(args: Mapping[str, Any]) -> dict[str, Any]:
    """What `new_store(args).config()` returns, without building it."""
    return sparse_config() if is_sparse(args) else index_config(**args)


def store_from_state(
    config: Mapping[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    *,
    views: tuple[str, ...] = (),
) -> VectorStore:
    if is_sparse(config):  # any view: its rows and postings (an optimized segment's files)
        return SparseIndex.from_state(config, arrays, view=bool(views))
    return Index.from_state(config, arrays, views=views)


def required_arrays(config: Mapping[str, Any]) -> list[str]:
    """The state arrays a store of this config cannot be loaded without (besides "alive")."""
    if is_sparse(config):
        return ["ids", "indptr", "indices", "values"]
    parts = ["originals"] + (["quantized"] if config["quantization"] else [])
    arrays = [f"{part}.codes" for part in parts]
    if config.get("multivector"):
        arrays += [f"{part}.offsets" for part in parts]
    return ["ids", *arrays]


def concat(parts: Sequence[VectorBatch]) -> VectorBatch:
    """One batch of several of the same kind (a copy)."""
    if parts and isinstance(parts[0], SparseVectors):
        return SparseVectors.concat([p for p in parts if isinstance(p, SparseVectors)])
    if parts and isinstance(parts[0], MultiVectors):
        return MultiVectors.concat([p for p in parts if isinstance(p, MultiVectors)])
    return np.concatenate([p for p in parts if isinstance(p, np.ndarray)])
