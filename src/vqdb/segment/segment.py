"""A segment: a set of points with their ids, one vector store per named vector (an Index for
dense vectors, a SparseIndex for sparse ones), payloads, payload indexes and deletions, all
addressed by a dense offset.

An appendable segment takes new points and searches them by a plain scan of the originals.
Under Qdrant's `prevent_unoptimized`, the new points it takes past `deferred_from` (the
indexing threshold) are deferred: kept and written like any other, but left out of every read
until the optimizer has built them into an indexed segment. Reads ask `find`, `mask` and
`visible`; the write path sees deferred points too (`find_many`, `mask(..., deferred=True)`). An
optimized segment is built once from live points (sorted by id, so its id map is two sorted
arrays), holds a graph and the quantized copies, and afterwards only loses points, changes
payloads or drops vectors. The collection decides which segment a write goes to; a segment
never knows about the others, the WAL or files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from vqdb.filters import FieldIndex, Filter, build_index, delete_at, set_at
from vqdb.filters.slices import IdColumns
from vqdb.index.stores import Ids, OneVector, Scores, VectorBatch, VectorStore, appendable_store
from vqdb.params import SearchParams
from vqdb.segment.ids import AppendableIds, Offsets, PointId, SortedIds
from vqdb.segment.payloads import Payload, Payloads
from vqdb.storage.appends import Written

if TYPE_CHECKING:
    from vqdb.native import _core

Mask = npt.NDArray[np.bool_]


class Segment:
    def __init__(
        self,
        name: str,
        vectors: dict[str, VectorStore],
        ids: AppendableIds | SortedIds,
        alive: Mask,
        payloads: Payloads | None = None,
    ) -> None:
        self.name = name
        self.vectors = vectors
        self.ids = ids
        self.alive: Mask = alive
        self.payloads = Payloads() if payloads is None else payloads
        self.indexes: dict[str, FieldIndex] = {}
        self.version = 0  # sequence number of the last write applied here
        self.dirty = True  # changed since the last checkpoint wrote it
        self.generation: int | None = None  # checkpoint generation of its files, if any
        self.on_disk_files = False  # whether its unchanging files are written
        # the vector names of its written files, in their order (see segment/files.py)
        self.file_vectors: list[str] = []
        self.index_files: dict[str, str] = {}  # payload index key -> its files' name
        # an appendable segment's append-only files, by (vector name, or None for the ids;
        # state key): what each holds, so a checkpoint writes only what came since
        self.appended: dict[tuple[str | None, str], Written] = {}
        # an appendable segment's offset from which new points are deferred (None: never)
        self.deferred_from: int | None = None
        self.deferred: Mask | None = None  # per offset, whether deferred (None: none is)

    @classmethod
    def empty(cls, name: str, vectors: Mapping[str, Mapping[str, Any]]) -> Segment:
        """An appendable segment; `vectors` maps names to store arguments: (dim, distance) of
        a dense vector, or {"kind": "sparse"}."""
        indexes = {vname: appendable_store(args) for vname, args in vectors.items()}
        return cls(name, indexes, AppendableIds(), np.zeros(0, dtype=np.bool_))

    def __repr__(self) -> str:
        kind = "appendable" if self.appendable else "optimized"
        return f"Segment({self.name!r}, {kind}, points={self.count})"

    @property
    def appendable(self) -> bool:
        return isinstance(self.ids, AppendableIds)

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def count(self) -> int:
        """Live points, deferred ones too (Qdrant's num_points)."""
        return int(np.count_nonzero(self.alive))

    @property
    def visible(self) -> Mask:
        """The live points reads see (read-only: a view of the live mask when none is
        deferred)."""
        return self.alive if self.deferred is None else self.alive & ~self.deferred

    @property
    def deferred_count(self) -> int:
        """Live points deferred."""
        return 0 if self.deferred is None else int(np.count_nonzero(self.alive & self.deferred))

    # ---- lookups ----------------------------------------------------------------------------

    def find(self, pid: PointId) -> int:
        """The offset of an id reads see, or -1."""
        offset = self.ids.offset(pid)
        if offset < 0 or not self.alive[offset]:
            return -1
        return -1 if self.deferred is not None and self.deferred[offset] else offset

    def find_many(self, ids: Sequence[PointId]) -> Offsets:
        """The live offset of each id (deferred or not: the write path's), or -1."""
        offsets = self.ids.lookup(ids)
        hit = offsets >= 0
        hit[hit] = self.alive[offsets[hit]]
        return np.where(hit, offsets, -1)

    def offsets_of(self, ids: Sequence[PointId]) -> Offsets:
        offsets = self.find_many(ids)
        return offsets[offsets >= 0]

    def live_offsets(self) -> Offsets:
        return np.flatnonzero(self.alive)

    def memory_usage(self) -> dict[str, int]:
        """Bytes held in RAM by the id map, the live mask and the parts of every named vector
        ("vectors.graph", ...); memory maps of the segment's files count 0, payloads are not
        counted."""
        usage = {"ids": self.ids.nbytes, "alive": self.alive.nbytes}
        for index in self.vectors.values():
            for part, nbytes in index.memory_usage().items():
                usage[f"vectors.{part}"] = usage.get(f"vectors.{part}", 0) + nbytes
        return usage

    def payload(self, offset: int, needles: tuple[bytes, ...] = ()) -> Payload | None:
        if needles:
            return self.payloads.get_holding(offset, needles)
        return self.payloads.get(offset)

    def vector_mask(self, name: str) -> Mask:
        index = self.vectors.get(name)
        if index is None:
            return np.zeros(self.size, dtype=np.bool_)
        return index.live_mask(self.size)

    def id_columns(self) -> IdColumns:
        return self.ids.columns()

    def point_vectors(self, offset: int, names: Iterable[str]) -> dict[str, OneVector]:
        """The named vectors the point has (originals as stored: unit length for Cosine; sparse
        ones sorted by index)."""
        out = {}
        for name in names:
            index = self.vectors.get(name)
            if index is not None and offset in index:
                out[name] = index.vectors([offset])[0]
        return out

    def mask(self, query_filter: Filter | None, *, deferred: bool = False) -> Mask:
        """Points reads see matching the filter (`deferred`: deferred ones too, as writes
        do)."""
        live = self.alive if deferred else self.visible
        if query_filter is None:
            return np.array(live)
        matches: Mask = query_filter.mask(self) & live
        return matches

    # ---- writes -----------------------------------------------------------------------------

    def append(
        self,
        ids: Sequence[PointId],
        vectors: Mapping[str, tuple[Offsets | None, VectorBatch]],
        payloads: Sequence[Payload | None] | None,
        shown: Mask | None = None,
    ) -> None:
        """New points at the end. vectors: name -> (which of `ids` have it, None for all; rows).
        The caller has deleted any older copy of these ids; `shown`: which of them replace a
        copy reads saw (never deferred)."""
        assert isinstance(self.ids, AppendableIds), "optimized segments take no new points"
        start = self.size
        for name, (rows, values) in vectors.items():
            positions = np.arange(len(ids)) if rows is None else rows
            self.vectors[name].add(start + positions, values)
        self.ids.append(ids)
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=np.bool_)])
        for i, payload in enumerate(payloads or ()):
            if payload:
                self.put_payload(start + i, payload)
        self._defer(start, len(ids), shown)
        self.dirty = True

    def _defer(self, start: int, n: int, shown: Mask | None) -> None:
        """Marks which of `n` new points from `start` are deferred: those past `deferred_from`
        that replace no point reads saw (an update of a shown point stays shown). No mask is
        made until a point is deferred: reads of a segment without one filter nothing."""
        new = np.zeros(n, dtype=np.bool_)
        if self.deferred_from is not None:
            new = np.arange(start, start + n) >= self.deferred_from
            if shown is not None:
                new &= ~shown
        if self.deferred is not None:
            self.deferred = np.concatenate([self.deferred, new])
        elif new.any():
            self.deferred = np.concatenate([np.zeros(start, dtype=np.bool_), new])

    def reveal(self) -> None:
        """Shows every deferred point and defers no more (prevent_unoptimized turned off)."""
        self.deferred_from = None
        if self.deferred is not None:
            self.deferred = None
            self.dirty = True

    def delete(self, offsets: Offsets) -> None:
        for offset in offsets.tolist():
            if offset in self.payloads:
                self.put_payload(offset, None)
        self.delete_vectors(offsets, list(self.vectors))
        self.alive[offsets] = False
        self.dirty = True

    def set_payload(self, offsets: Offsets, values: Mapping[str, Any], key: str | None) -> None:
        for offset in offsets.tolist():
            self.put_payload(offset, set_at(dict(self.payloads.get(offset) or {}), key, values))

    def overwrite_payload(self, offsets: Offsets, payload: Mapping[str, Any]) -> None:
        for offset in offsets.tolist():
            self.put_payload(offset, dict(payload))

    def delete_payload(self, offsets: Offsets, keys: Sequence[str]) -> None:
        for offset in offsets.tolist():
            payload: Payload = dict(self.payloads.get(offset) or {})
            for key in keys:
                payload = delete_at(payload, key)
            self.put_payload(offset, payload)

    def delete_vectors(self, offsets: Offsets, names: Sequence[str]) -> None:
        for name in names:
            present = offsets[self.vector_mask(name)[offsets]]
            if present.shape[0]:
                self.vectors[name].delete(present)
        self.dirty = True

    def add_vector(self, name: str, args: Mapping[str, Any]) -> None:
        """A new named vector that no point has yet (appendable segments take its points)."""
        self.vectors[name] = appendable_store(args)
        self.dirty = True

    def drop_vector(self, name: str) -> None:
        """The named vector and its store are gone from every point here."""
        if self.vectors.pop(name, None) is not None:
            self.dirty = True

    def put_payload(self, offset: int, payload: Payload | None) -> None:
        """Replaces one point's payload (None or empty: removes it), in its indexes too."""
        for index in self.indexes.values():
            index.remove(offset)
        if payload:
            self.payloads[offset] = payload
            for index in self.indexes.values():
                index.add(offset, payload)
        elif offset in self.payloads:
            del self.payloads[offset]
        self.dirty = True

    # ---- payload indexes --------------------------------------------------------------------

    def create_index(self, key: str, schema: str | Mapping[str, Any]) -> None:
        """A new index, to be written with the next checkpoint where its segment writes its
        indexes (segment/files.py)."""
        self.create_indexes({key: schema})
        self.dirty = True

    def create_indexes(self, schemas: Mapping[str, str | Mapping[str, Any]]) -> None:
        """The payload indexes of several keys, in one pass over the payloads (a stored one
        is parsed once for them all)."""
        if not schemas:
            return
        made = [build_index(schema, key) for key, schema in schemas.items()]
        alive = self.alive
        for offset, payload in self.payloads.items():
            if offset < len(alive) and alive[offset]:
                for index in made:
                    index.add(offset, payload)
        for index in made:
            index.settle()
        self.indexes.update(zip(schemas, made))

    def drop_index(self, key: str) -> None:
        self.indexes.pop(key, None)

    def fit_indexes(self, schemas: Mapping[str, str | Mapping[str, Any]]) -> None:
        """The payload indexes `schemas` names, no others: an index of another schema is
        made again, a missing one made."""
        wanted = {key: build_index(schema, key) for key, schema in schemas.items()}
        for key in list(self.indexes):
            if key not in wanted or self.indexes[key].schema != wanted[key].schema:
                del self.indexes[key]
        self.create_indexes({k: s for k, s in schemas.items() if k not in self.indexes})

    def adopt_indexes(self, restored: Mapping[str, FieldIndex]) -> None:
        """Indexes restored from files written at some point since the segment's payloads
        were stored: the payloads written since the store (`Payloads.held`) are indexed
        again over them, which is right whenever the files were written."""
        held = self.payloads.held
        for index in restored.values():
            for offset, payload in held.items():
                if payload is None:
                    index.remove(offset)
                else:
                    index.add(offset, payload)
        self.indexes.update(restored)

    # ---- search -----------------------------------------------------------------------------

    def search(
        self,
        name: str,
        queries: VectorBatch,
        limit: int,
        params: SearchParams,
        allowed: Mask | None,
        full_scan_threshold: int,
        rescored: int | None = None,
    ) -> tuple[Ids, Scores]:
        """(n, <=limit) offsets (-1 padded) and API scores. `rescored`: see Index.search
        (dense vectors only)."""
        planned = self._planned(name, limit, params, allowed, full_scan_threshold)
        if planned is None:
            n = len(queries)
            return np.full((n, 0), -1, dtype=np.int64), np.zeros((n, 0), dtype=np.float32)
        index, limit, params, allowed = planned
        return index.search(queries, limit, params, allowed_ids=allowed, rescored=rescored)

    def add_to(
        self,
        leaf: _core.Leaf,
        position: int,
        name: str,
        limit: int,
        params: SearchParams,
        allowed: Mask | None,
        full_scan_threshold: int,
        rescored: int | None = None,
    ) -> None:
        """The search `search` would run for one query, added to a query stage's leaf (this
        segment at `position` in the collection); nothing where there is nothing to search."""
        planned = self._planned(name, limit, params, allowed, full_scan_threshold)
        if planned is not None:
            index, limit, params, allowed = planned
            index.add_to(leaf, position, limit, params, allowed_ids=allowed, rescored=rescored)

    def _planned(
        self,
        name: str,
        limit: int,
        params: SearchParams,
        allowed: Mask | None,
        full_scan_threshold: int,
    ) -> tuple[VectorStore, int, SearchParams, Mask | None] | None:
        """The store to search, how many points to ask of it, with which params and allowed
        offsets; None where it holds none of them. A filter that leaves fewer points than
        `full_scan_threshold` is answered by a plain scan, as Qdrant's planner does: a graph
        walk through a sparse allowed set loses recall and saves nothing."""
        index = self.vectors.get(name)  # none: the vector was made after this segment
        live = 0 if index is None else len(index)
        if index is not None and allowed is not None:
            allowed = allowed & self.vector_mask(name)
            live = int(np.count_nonzero(allowed))
        if index is None or live == 0:
            return None
        if allowed is not None and live < full_scan_threshold:
            params = SearchParams(exact=True, quantization=params.quantization)
        return index, min(limit, live), params, allowed

    def add_rescoring_to(
        self, leaf: _core.Leaf, position: int, name: str, offsets: Offsets, limit: int
    ) -> None:
        """The best `limit` of `offsets` (a rescoring stage's candidates) by exact scores of
        their `name` vectors, added to a query stage's leaf; offsets without that vector never
        come back."""
        index = self.vectors.get(name)
        if index is not None and offsets.shape[0] and len(index):
            limit = min(limit, offsets.shape[0], len(index))
            index.add_rescoring_to(leaf, position, offsets, limit)
