"""CollectionInfo as Qdrant shows it: status, counts, config, payload schema; and vqdb's own
telemetry of a collection (how its segments read their vectors), kept out of CollectionInfo so
that Qdrant's response stays exactly Qdrant's."""

from __future__ import annotations

from typing import Any

from vqdb.collection import memory
from vqdb.collection.collection import Collection


def info(c: Collection) -> dict[str, Any]:
    with c.lock.read():
        points = c.points_count
        indexed = sum(
            len(index) for s in c.segments if not s.appendable for index in s.vectors.values()
        )
        schema = {}
        for key in c.payload_schema:
            counted = sum(s.indexes[key].count() for s in c.segments if key in s.indexes)
            base = next((s.indexes[key].info() for s in c.segments if key in s.indexes), {})
            schema[key] = {**base, "points": counted}
        segments = len(c.segments)
        config = c.config.to_api()
        warnings = c.config.warnings()
        deferred = deferred_points(c)
    state, optimizer_status = status(c)
    shown: dict[str, Any] = {
        "status": state,
        "optimizer_status": optimizer_status,
        "indexed_vectors_count": indexed,
        "points_count": points,
        "segments_count": segments,
        "config": config,
        "payload_schema": schema,
        "update_queue": {"length": c.queued, **deferred},  # length: writes waiting for the lock
    }
    if warnings:  # absent when there are none, as in Qdrant
        shown["warnings"] = [{"message": message} for message in warnings]
    return shown


def deferred_points(c: Collection) -> dict[str, int]:
    """{"deferred_points": n} under prevent_unoptimized, as Qdrant adds it to its update
    queue's info; else nothing (the caller holds the read lock)."""
    if not c.config.optimizers.prevent_unoptimized:
        return {}
    return {"deferred_points": sum(s.deferred_count for s in c.segments)}


def cluster_info(c: Collection) -> dict[str, Any]:
    """CollectionClusterInfo of a local collection: its one shard, here, active (Qdrant's
    standalone answer; a distributed collection answers its own: vqdb.cluster)."""
    shard = {"shard_id": 0, "points_count": c.points_count, "state": "Active"}
    return {
        "peer_id": 0,
        "shard_count": 1,
        "local_shards": [shard],
        "remote_shards": [],
        "shard_transfers": [],
    }


def status(c: Collection) -> tuple[str, str | dict[str, str]]:
    """The collection's status (green, yellow, red) and its optimizer's (ok or the error)."""
    optimizer = c.optimizer
    if optimizer is not None and optimizer.error is not None:
        return "red", {"error": optimizer.error}
    if optimizer is not None and (optimizer.busy or optimizer.pending()):
        return "yellow", "ok"
    return "green", "ok"


def telemetry(c: Collection) -> dict[str, Any]:
    """Per segment and vector, where rescoring reads the originals from: "ram", "mmap",
    "io_uring", "pread", or "mmap+io_uring" / "mmap+pread" (in place when the page cache holds
    a query's candidates, else gathered). `async_scorer`: the database's read path option.
    `memory`: bytes per vector by part, in RAM and on disk (vqdb.collection.memory)."""
    with c.lock.read():
        segments = [
            {
                "name": s.name,
                "appendable": s.appendable,
                "points": s.count,
                "vectors": {
                    name: {"read_path": index.read_path} for name, index in s.vectors.items()
                },
            }
            for s in c.segments
        ]
    return {"async_scorer": c.read_path, "segments": segments, "memory": memory.memory(c)}
