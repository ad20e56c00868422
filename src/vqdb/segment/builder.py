"""Building an optimized segment from live points of other segments.

Three steps, so that the slow one holds no lock:
1. `snapshot` (under the collection's read lock): copy the live points' ids and vectors, in id
   order, remember where each came from, and mark the sources' payloads.
2. `build` (no lock): one store per vector (vqdb.index.stores): an Index with the collection's
   graph and quantization, or a SparseIndex whose postings leave out the deleted rows; and the
   points' payloads, read from the sources (one written meanwhile is carried over at 3).
3. `carry_over` (under the write lock, at the swap): whatever happened to the sources since the
   snapshot (deleted points, dropped vectors, payloads written) is applied to the new segment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vqdb.index.stores import VectorBatch, concat, new_store
from vqdb.segment.ids import PointId, SortedIds, sort_key
from vqdb.segment.payloads import Payloads
from vqdb.segment.segment import Segment

Offsets = npt.NDArray[np.int64]


@dataclass
class Snapshot:
    ids: list[PointId]  # in sort_key order: the new segment's offsets
    source: Offsets  # which source segment each point came from
    offset: Offsets  # and its offset there
    vectors: dict[str, tuple[Offsets, VectorBatch]]  # name -> (new offsets, rows)
    payloads: list[Payloads]  # each source's
    marks: list[dict[int, Any]]  # and what they held then (Payloads.mark)


def snapshot(sources: Sequence[Segment]) -> Snapshot:
    entries: list[tuple[tuple[int, int], int, int, PointId]] = []
    for s, segment in enumerate(sources):
        for offset in segment.live_offsets().tolist():
            pid = segment.ids.id_at(offset)
            entries.append((sort_key(pid), s, offset, pid))
    entries.sort(key=lambda e: e[0])
    source = np.array([e[1] for e in entries], dtype=np.int64)
    offset = np.array([e[2] for e in entries], dtype=np.int64)
    ids = [e[3] for e in entries]
    names = {name for segment in sources for name in segment.vectors}
    vectors = {}
    for name in sorted(names):
        new_offsets: list[Offsets] = []
        parts: list[VectorBatch] = []
        for s, segment in enumerate(sources):
            index = segment.vectors.get(name)
            if index is None:
                continue
            mine = np.flatnonzero(source == s)
            has = segment.vector_mask(name)[offset[mine]]
            if has.any():
                new_offsets.append(mine[has])
                parts.append(index.vectors(offset[mine[has]]))
        if new_offsets:
            order = np.concatenate(new_offsets)
            rows = concat(parts)  # a copy: on-disk originals are read now, not at build
            sort = np.argsort(order, kind="stable")
            vectors[name] = (order[sort], rows[sort])
    payloads = [segment.payloads for segment in sources]
    return Snapshot(ids, source, offset, vectors, payloads, [p.mark() for p in payloads])


def build(
    name: str,
    snap: Snapshot,
    index_args: Mapping[str, Mapping[str, Any]],
    payload_schema: Mapping[str, Any],
    threads: int = 0,
) -> Segment:
    """The optimized segment of a snapshot, with the payload indexes of `payload_schema`;
    index_args: vector name -> store arguments."""
    vectors = {}
    for vname, args in index_args.items():
        index = new_store(args, threads)
        if vname in snap.vectors:
            offsets, rows = snap.vectors[vname]
            index.add(offsets, rows)
        vectors[vname] = index
    alive = np.ones(len(snap.ids), dtype=np.bool_)
    held = {}
    for new_offset, (s, old_offset) in enumerate(zip(snap.source.tolist(), snap.offset.tolist())):
        payload = snap.payloads[s].get(old_offset)
        if payload:
            held[new_offset] = payload
    segment = Segment(name, vectors, SortedIds.of(snap.ids), alive, Payloads(held))
    segment.create_indexes(payload_schema)
    return segment


def carry_over(
    new: Segment, snap: Snapshot, sources: Sequence[Segment], schema: Mapping[str, Any]
) -> None:
    """Brings the new segment up to date with its sources and with `schema`, the payload
    indexes now (the caller holds the write lock)."""
    new.fit_indexes(schema)
    for s, segment in enumerate(sources):
        mine = np.flatnonzero(snap.source == s)
        old = snap.offset[mine]
        gone = mine[~segment.alive[old]]
        if segment.payloads is snap.payloads[s]:
            written = segment.payloads.changed_since(snap.marks[s])
        else:  # replaced since (a full save read them back from a file): take them all again
            written = [(o, segment.payloads.get(o)) for o in old.tolist()]
        if written:
            where = np.full(max(segment.size, 1), -1, dtype=np.int64)
            where[old] = mine
            for old_offset, payload in written:
                new_offset = int(where[old_offset]) if old_offset < len(where) else -1
                if new_offset >= 0:  # else not in the snapshot: not a point of the new segment
                    new.put_payload(new_offset, payload)
        if gone.shape[0]:
            new.delete(gone)
        for vname, index in new.vectors.items():
            dropped = mine[new.vector_mask(vname)[mine] & ~segment.vector_mask(vname)[old]]
            if dropped.shape[0]:
                index.delete(dropped)
        new.version = max(new.version, segment.version)
    new.dirty = True  # the payloads written since the build: the swap's checkpoint writes them
