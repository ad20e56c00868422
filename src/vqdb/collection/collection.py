"""A collection: its config, its segments, its WAL, and the one path every write takes.

A write is parsed and checked first (nothing is written for bad input), then logged to the
WAL (fsynced when the caller waits), then applied to the segments under the write lock, so
readers see it at once. Upserts land in the appendable segment; a point that lives elsewhere is
deleted there first, so every id has exactly one live copy. Reads (query.py, scroll, count)
take the read lock, and see no deferred point (Qdrant's prevent_unoptimized, segment.py): a
write that waits returns once every point deferred when it was applied shows, the optimizer
having indexed it. The optimizer (optimizer.py) rebuilds segments in the background and swaps
them in under the write lock, and seals the appendable segment through the WAL (`seal`);
checkpoints (storage.py) make the segments durable and empty the WAL.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vqdb.collection import records, strict
from vqdb.collection.config import CollectionConfig
from vqdb.collection.locks import ReadWriteLock
from vqdb.collection.points import (
    Points,
    WriteCondition,
    parse_points,
    parse_vectors,
    payload_of,
    take,
    write_condition,
)
from vqdb.errors import BadInput, NotFound, refused
from vqdb.filters import Filter, build_index, parse_filter
from vqdb.index.multi_vectors import MultiVectors
from vqdb.index.sparse_vectors import SparseVectors
from vqdb.index.stores import VectorBatch
from vqdb.segment.ids import PointId, point_id
from vqdb.segment.segment import Segment
from vqdb.storage.rows import ReadPath
from vqdb.storage.wal import Wal

Result = dict[str, Any]
log = logging.getLogger("vqdb")


def new_segment_name() -> str:
    return uuid.uuid4().hex[:16]


class Collection:
    def __init__(self, name: str, config: CollectionConfig, path: Path | None) -> None:
        self.name = name
        self.config = config
        self.path = path  # None: in memory only
        self.lock = ReadWriteLock()
        self.segments: list[Segment] = []
        self.payload_schema: dict[str, Any] = {}  # field -> schema as the user gave it
        self.appendable = self._new_appendable()
        self.wal: Wal | None = None
        self.applied_seq = 0  # the last operation applied (persisted ones: see storage.py)
        self.generation = 0  # the last checkpoint's
        self.last_write = time.monotonic()
        self.closed = False
        self.optimizer: Any = None  # set by the optimizer when it starts
        self.read_path: ReadPath = "mmap"  # how segments rescore on-disk originals (the database's)
        self.vectors_changed = 0  # how many times named vectors were made or deleted
        self._seq_lock = threading.Lock()
        self.queued = 0  # writes waiting for the write lock (Qdrant's update queue length)
        self.started = time.perf_counter()  # the load's start: init_time_ms, set once started
        self.init_time_ms = 0
        # told after each change is in its files (a WAL record, a checkpoint): the database
        # counts them for the processes following its folder (storage/changes.py)
        self.changed: Callable[[], None] = _unchanged
        # makes the state durable in the segments' files and empties the WAL, taking the write
        # lock itself (storage.flush, set where there is a WAL); a write that leaves the WAL
        # past its capacity calls it
        self.flush: Callable[[], None] = _unchanged
        self._flushing = False  # a write is flushing: the others need not
        self._flush_retry_at = 0  # WAL bytes past which to retry a failed flush

    def _new_appendable(self) -> Segment:
        segment = Segment.empty(new_segment_name(), self.config.appendable_args())
        segment.deferred_from = self.config.deferred_from()
        for key, schema in self.payload_schema.items():
            segment.create_index(key, schema)
        self.segments.append(segment)
        return segment

    def change_vectors(self, config: CollectionConfig) -> Callable[[], None]:
        """A config with named vectors made or deleted (the caller holds the write lock): a
        deleted one leaves every segment; a new one no point has yet. A segment being built
        meanwhile is refused at its swap (see optimizer.py), so none brings an old one back.
        Returns what undoes it, for when it cannot be made durable."""
        old = self.config
        gone = set(old.names) - set(config.names)
        dropped = [(s, n, s.vectors[n]) for s in self.segments for n in gone if n in s.vectors]
        for segment, name, _ in dropped:
            segment.drop_vector(name)
        args = config.appendable_args()
        added = set(config.names) - set(old.names)
        for name in added:
            self.appendable.add_vector(name, args[name])
        self.config = config
        self.vectors_changed += 1
        self._optimizer_config_changed()

        def undo() -> None:
            for name in added:
                self.appendable.drop_vector(name)
            for segment, name, store in dropped:
                segment.vectors[name] = store
            self.config = old

        return undo

    def reconfigure(self, config: CollectionConfig) -> None:
        """A changed config, its named vectors already the same (change_vectors); the caller
        holds the write lock. prevent_unoptimized turned off shows every deferred point; on,
        the appendable segment defers new points from the present threshold on. As in Qdrant
        (whose optimizers are made anew on a config change), an optimizer's failure is
        forgotten: the collection is no longer red, and the next build says if it fails again."""
        self.config = config
        self._optimizer_config_changed()
        deferred_from = self.config.deferred_from()
        if deferred_from is None:
            for segment in self.segments:
                segment.reveal()
        else:
            self.appendable.deferred_from = deferred_from

    def _optimizer_config_changed(self) -> None:
        if self.optimizer is not None:
            self.optimizer.error = None

    def seal(self) -> None:
        """Stops appending to the current appendable segment (the optimizer, holding the write
        lock) and starts a new one; the sealed one stays searchable until the optimizer
        replaces it. Logged as a WAL record: a replay after a crash, and every follower of the
        folder, seal at the same place among the writes, so each point lands at the same
        offset in the same segment everywhere (which points are deferred depends on it)."""
        seq = self._log({"op": "seal"}, wait=False)
        self.apply({"op": "seal"}, seq)
        self.changed()

    # ---- the write path ---------------------------------------------------------------------

    def upsert(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        points = parse_points(body, self.config)
        condition = write_condition(body)
        return self._write({"op": "upsert", "points": points, "condition": condition}, wait)

    def upsert_points(
        self, points: Points, *, wait: bool = True, condition: WriteCondition | None = None
    ) -> Result:
        """An upsert of an already parsed batch (the embedded client's fast path, and a shard's
        part of a distributed upsert)."""
        return self._write({"op": "upsert", "points": points, "condition": condition}, wait)

    def update_vectors(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        return self.update_vectors_of(
            parse_vectors(body, self.config), wait=wait, condition=write_condition(body)
        )

    def update_vectors_of(
        self, points: Points, *, wait: bool = True, condition: WriteCondition | None = None
    ) -> Result:
        """update_vectors of an already parsed batch (a shard's part of a distributed one)."""
        op = {"op": "update_vectors", "points": points, "condition": condition}
        return self._write(op, wait)

    def delete(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        """A PointsSelector body: {"points": [ids]} or {"filter": {...}}."""
        return self._write({"op": "delete", "selector": self._selector(body)}, wait)

    def set_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        payload = payload_of(body.get("payload"), "payload") or {}
        key = body.get("key")
        if key is not None and not isinstance(key, str):
            raise BadInput("'key' must be a string path")
        op = {"op": "set_payload", "selector": self._selector(body), "payload": payload, "key": key}
        return self._write(op, wait)

    def overwrite_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        payload = payload_of(body.get("payload"), "payload") or {}
        op = {"op": "overwrite_payload", "selector": self._selector(body), "payload": payload}
        return self._write(op, wait)

    def delete_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        keys = body.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise BadInput("'keys' must be a list of payload keys")
        op = {"op": "delete_payload", "selector": self._selector(body), "keys": keys}
        return self._write(op, wait)

    def clear_payload(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        return self._write({"op": "clear_payload", "selector": self._selector(body)}, wait)

    def delete_vectors(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        names = body.get("vector")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadInput("'vector' must be a list of vector names")
        for name in names:
            if not self.config.has_vector(name):
                raise BadInput(f"Wrong input: Not existing vector name error: {name}")
        op = {"op": "delete_vectors", "selector": self._selector(body), "names": names}
        return self._write(op, wait)

    def create_payload_index(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        field, schema = body.get("field_name"), body.get("field_schema")
        if not isinstance(field, str) or not field:
            raise BadInput("'field_name' must be a non-empty string")
        if schema is None:
            raise BadInput("'field_schema' is required (keyword, integer, float, bool, ...)")
        try:
            build_index(schema, field)
        except ValueError as e:
            raise refused(e) from None
        return self._write({"op": "create_index", "field": field, "schema": schema}, wait)

    def delete_payload_index(self, field: str, *, wait: bool = True) -> Result:
        return self._write({"op": "delete_index", "field": field}, wait)

    def delay(self, body: Mapping[str, Any], *, wait: bool = True) -> Result:
        """Qdrant's staging operation {"delay": {"duration_sec": s}} (0 to 300): holds the
        collection as a write that long would, for tests of waiting writes. Not logged: there
        is nothing to replay."""
        delay = body.get("delay")
        seconds = delay.get("duration_sec") if isinstance(delay, Mapping) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise BadInput("expected {'delay': {'duration_sec': seconds}}")
        if not 0 <= seconds <= 300:
            raise BadInput(f"duration_sec must be from 0 to 300, got {seconds}")
        with self._turn():
            time.sleep(seconds)
        return {"operation_id": None, "status": _status(wait)}

    def batch(self, operations: Sequence[Mapping[str, Any]], *, wait: bool = True) -> list[Result]:
        """UpdateOperations: each operation is checked and applied in order (under strict mode,
        as in Qdrant, every operation passes its checks before the first is applied)."""
        if strict.settings(self) is None:
            return self._each(operations, wait)
        with strict.batch_pass("check"):
            self._each(operations, wait)
        with strict.batch_pass("apply"):
            return self._each(operations, wait)

    def _each(self, operations: Sequence[Mapping[str, Any]], wait: bool) -> list[Result]:
        results = []
        for i, item in enumerate(operations):
            if not isinstance(item, Mapping) or len(item) != 1:
                raise BadInput(f"operations[{i}]: expected one operation, e.g. {{'upsert': ...}}")
            ((kind, body),) = item.items()
            method = _BATCH.get(kind)
            if method is None:
                raise BadInput(f"operations[{i}]: unknown operation {kind!r}")
            if kind == "delete_payload_index":
                results.append(self.delete_payload_index(body.get("field_name"), wait=wait))
            else:
                results.append(getattr(self, method)(body, wait=wait))
        return results

    def _selector(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """{"points": [...]} / {"filter": ...}, checked; resolved to ids under the lock."""
        if not isinstance(body, Mapping):
            raise BadInput("expected an object with 'points' or 'filter'")
        if body.get("points") is not None:
            raw = body["points"]
            if isinstance(raw, Mapping):  # {"points": {"filter": ...}} is a selector too
                return self._selector(raw)
            if not isinstance(raw, list):
                raise BadInput("'points' must be a list of point ids")
            return {"ids": [point_id(v, f"points[{i}]") for i, v in enumerate(raw)]}
        if body.get("filter") is not None:
            return {"filter": checked_filter(body["filter"])}
        raise BadInput("expected 'points' (a list of ids) or 'filter'")

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """The write lock; a write waiting for it counts in `queued`."""
        with self._seq_lock:
            self.queued += 1
        with self.lock.write():
            with self._seq_lock:
                self.queued -= 1
            yield

    def _write(self, op: dict[str, Any], wait: bool) -> Result:
        # a write whose record does not depend on what is stored (no filter picks its points)
        # is encoded before its turn: ~0.3-0.5 ms of a batch of 500 x 768 less under the lock
        plain = op.get("condition") is None and op.get("selector") is None
        record = self._record(op) if plain and self.wal is not None else None
        with self._turn():
            if self.closed:
                raise BadInput(f"collection {self.name} is closed")
            if self.path is not None and self.wal is None:
                raise BadInput(
                    f"collection {self.name} is only read here: another process writes it"
                )
            strict.check_write(self, op)
            if strict.checking_only():
                return {}
            selector = op.pop("selector", None)
            if selector is not None:
                op["ids"] = self._resolve(selector)
            if op["op"] == "update_vectors":
                self._require(op["points"].ids)
            condition = op.pop("condition", None)
            if condition is not None:  # logged as the points it let through: replay needs no filter
                op["points"] = self._admitted(op["points"], condition)
                if not len(op["points"]):
                    return {"operation_id": self.applied_seq, "status": _status(wait)}
            seq = self._log(op, wait, record)
            self.apply(op, seq)
            flushing = self._flush_due()
            # a write that waits shows every write before it, as in Qdrant
            deferred = [s for s in self.segments if s.deferred_count] if wait else []
            self.changed()
            self.last_write = time.monotonic()
        if self.optimizer is not None:
            self.optimizer.wake()
        if flushing:
            self._flush()
        shown = not deferred or self._await_shown(deferred)
        return {"operation_id": seq, "status": _status(wait and shown)}

    def _flush_due(self) -> bool:
        """Whether this write flushes (the caller holds the write lock): once the WAL holds
        `wal_capacity_mb`, so that a checkpoint writes at most about that much that is new and
        a restart replays at most that much."""
        if self.wal is None or self._flushing:
            return False
        capacity = self.config.wal.wal_capacity_mb << 20
        self._flushing = self.wal.size >= max(capacity, self._flush_retry_at)
        return self._flushing

    def _flush(self) -> None:
        """The write is logged and applied either way: a flush that fails (a full disk) is
        logged and tried again once as much more is logged."""
        try:
            self.flush()
            self._flush_retry_at = 0
        except Exception:
            log.exception("collection %s: checkpoint failed; the WAL keeps the writes", self.name)
            if self.wal is not None:
                self._flush_retry_at = self.wal.size + (self.config.wal.wal_capacity_mb << 20)
        finally:
            self._flushing = False

    def _await_shown(self, segments: list[Segment]) -> bool:
        """Waits until the optimizer has replaced the segments that held deferred points when
        a write was applied (not those deferring later writes: that could go on for ever).
        False (the write is acknowledged, not shown) where the optimizer is stopped, has
        failed, or may not run (max_optimization_threads 0), rather than waiting for ever."""
        while True:
            with self.lock.read():
                optimizer = self.optimizer
                if self.closed or optimizer is None or optimizer.error is not None:
                    return False
                if not self.config.optimizing():
                    return False
                if not any(s in self.segments and s.deferred_count for s in segments):
                    return True
            optimizer.wake()
            time.sleep(0.02)

    def _admitted(self, points: Points, condition: WriteCondition) -> Points:
        """The points a conditional write lets through (the caller holds the write lock)."""
        matches: dict[PointId, bool] = {}  # existing id -> whether it matches the filter
        for segment, offsets in self._locate(points.ids):
            hits = (
                np.ones(offsets.shape[0], dtype=np.bool_)
                if condition.filter is None
                else segment.mask(condition.filter, deferred=True)[offsets]
            )
            for offset, hit in zip(offsets.tolist(), hits.tolist()):
                matches[segment.ids.id_at(offset)] = hit
        keep = [
            i
            for i, pid in enumerate(points.ids)
            if condition.admits(pid in matches, matches.get(pid, False))
        ]
        return points if len(keep) == len(points) else take(points, np.array(keep, np.int64))

    def _log(self, op: dict[str, Any], wait: bool, record: list[Any] | None = None) -> int:
        """Appends `op` to the WAL (`record`: its encoding, made before the lock was taken)."""
        if self.wal is None:
            with self._seq_lock:
                self.applied_seq += 1
                return self.applied_seq
        return self.wal.append(self._record(op) if record is None else record, sync=wait)

    @staticmethod
    def _record(op: dict[str, Any]) -> list[Any]:
        logged = {k: v for k, v in op.items() if k not in ("condition", "selector")}
        if "points" in op:
            logged["points"] = _points_record(op["points"])
        return records.encode_parts(logged)

    def _require(self, ids: Sequence[PointId]) -> None:
        located = {s.ids.id_at(o) for s, offsets in self._locate(ids) for o in offsets.tolist()}
        missing = [pid for pid in ids if pid not in located]
        if missing:
            raise NotFound(f"No point with id {missing[0]} found")

    def _resolve(self, selector: dict[str, Any]) -> list[PointId]:
        if "ids" in selector:
            return list(selector["ids"])
        found: list[PointId] = []
        for segment in self.segments:
            for offset in np.flatnonzero(segment.mask(selector["filter"], deferred=True)).tolist():
                found.append(segment.ids.id_at(offset))
        return found

    # ---- applying an operation (also what WAL replay does) -----------------------------------

    def apply(self, op: dict[str, Any], seq: int) -> None:
        kind = op["op"]
        if kind == "upsert":
            self._upsert(op["points"], seq)
        elif kind == "update_vectors":
            self._update_vectors(op["points"], seq)
        elif kind == "create_index":
            self.payload_schema[op["field"]] = op["schema"]
            for segment in self.segments:
                segment.create_index(op["field"], op["schema"])
        elif kind == "delete_index":
            self.payload_schema.pop(op["field"], None)
            for segment in self.segments:
                segment.drop_index(op["field"])
        elif kind == "seal":
            self.appendable = self._new_appendable()
        else:
            for segment, offsets in self._locate(op["ids"]):
                _apply_to(segment, kind, offsets, op)
                segment.version = seq
        self.applied_seq = max(self.applied_seq, seq)

    def _locate(self, ids: Sequence[PointId]) -> list[tuple[Segment, np.ndarray[Any, Any]]]:
        out = []
        for segment in self.segments:
            offsets = segment.find_many(ids)
            offsets = offsets[offsets >= 0]
            if offsets.shape[0]:
                out.append((segment, offsets))
        return out

    def _upsert(self, points: Points, seq: int) -> None:
        shown: set[PointId] = set()  # ids reads saw: their new copies are never deferred
        deferring = self.appendable.deferred_from is not None
        for segment, offsets in self._locate(points.ids):
            if deferring:
                seen = offsets[segment.visible[offsets]]
                shown.update(segment.ids.id_at(o) for o in seen.tolist())
            segment.delete(offsets)
        kept = np.array([pid in shown for pid in points.ids], np.bool_) if shown else None
        self.appendable.append(points.ids, points.vectors, points.payloads, kept)
        self.appendable.version = seq

    def _update_vectors(self, points: Points, seq: int) -> None:
        """New vectors for existing points: each moves to the appendable segment with its
        payload and the vectors it keeps (optimized segments never change their vectors)."""
        present = set()
        for segment, offsets in self._locate(points.ids):
            moved_ids = [segment.ids.id_at(o) for o in offsets.tolist()]
            payloads = [segment.payload(o) for o in offsets.tolist()]
            keep: dict[str, tuple[np.ndarray[Any, Any] | None, VectorBatch]] = {}
            for name, index in segment.vectors.items():
                has = np.flatnonzero(segment.vector_mask(name)[offsets])
                if has.shape[0]:
                    keep[name] = (has, index.vectors(offsets[has]))
            shown = segment.visible[offsets]
            segment.delete(offsets)
            self.appendable.append(moved_ids, keep, payloads, shown)
            present.update(moved_ids)
        missing = [pid for pid in points.ids if pid not in present]
        if missing:  # checked before logging; only a replay could get here
            raise NotFound(f"No point with id {missing[0]} found")
        fresh = self.appendable
        where = fresh.find_many(points.ids)
        for name, (rows, values) in points.vectors.items():
            positions = np.arange(len(points.ids)) if rows is None else rows
            index = fresh.vectors[name]
            targets = where[positions]
            old = targets[fresh.vector_mask(name)[targets]]
            if old.shape[0]:
                index.delete(old)
            index.add(targets, values)
        fresh.version = seq

    # ---- reads ------------------------------------------------------------------------------

    @property
    def points_count(self) -> int:
        return sum(segment.count for segment in self.segments)


def _unchanged() -> None:
    pass


def checked_filter(raw: Any, where: str = "filter") -> Filter | None:
    try:
        return parse_filter(raw, where)
    except ValueError as e:
        raise refused(e) from None


def _apply_to(
    segment: Segment, kind: str, offsets: np.ndarray[Any, Any], op: dict[str, Any]
) -> None:
    if kind == "delete":
        segment.delete(offsets)
    elif kind == "set_payload":
        segment.set_payload(offsets, op["payload"], op.get("key"))
    elif kind == "overwrite_payload":
        segment.overwrite_payload(offsets, op["payload"])
    elif kind == "delete_payload":
        segment.delete_payload(offsets, op["keys"])
    elif kind == "clear_payload":
        segment.overwrite_payload(offsets, {})
    elif kind == "delete_vectors":
        segment.delete_vectors(offsets, op["names"])
    else:
        raise ValueError(f"unknown operation {kind!r}")


def _points_record(points: Points) -> dict[str, Any]:
    """A batch as a WAL record: dense matrices as they are, sparse rows as their CSR arrays,
    multivectors as their rows and offsets."""
    vectors: dict[str, Any] = {}
    for name, (rows, values) in points.vectors.items():
        if isinstance(values, SparseVectors):
            csr = {"indptr": values.indptr, "indices": values.indices, "values": values.values}
            vectors[name] = {"rows": rows, "sparse": csr}
        elif isinstance(values, MultiVectors):
            groups = {"offsets": values.offsets, "rows": values.rows}
            vectors[name] = {"rows": rows, "multi": groups}
        else:
            vectors[name] = {"rows": rows, "values": values}
    return {"ids": points.ids, "payloads": points.payloads, "vectors": vectors}


def points_from_record(record: dict[str, Any]) -> Points:
    vectors: dict[str, tuple[Any, VectorBatch]] = {}
    for name, column in record["vectors"].items():
        if "sparse" in column:
            csr = column["sparse"]
            values = SparseVectors(csr["indptr"], csr["indices"], csr["values"])
            vectors[name] = (column["rows"], values)
        elif "multi" in column:
            groups = column["multi"]
            vectors[name] = (column["rows"], MultiVectors(groups["offsets"], groups["rows"]))
        else:
            vectors[name] = (column["rows"], column["values"])
    return Points(record["ids"], vectors, record["payloads"])


_BATCH = {
    "upsert": "upsert",
    "delete": "delete",
    "set_payload": "set_payload",
    "overwrite_payload": "overwrite_payload",
    "delete_payload": "delete_payload",
    "clear_payload": "clear_payload",
    "update_vectors": "update_vectors",
    "delete_vectors": "delete_vectors",
    "create_payload_index": "create_payload_index",
    "delete_payload_index": "delete_payload_index",
}

__all__ = ["Collection", "checked_filter", "points_from_record", "take"]


def _status(wait: bool) -> str:
    return "completed" if wait else "acknowledged"
