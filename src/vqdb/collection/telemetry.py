"""A collection's part of Qdrant's /telemetry, in Qdrant's shapes at each details level: the
aggregate (level 1), CollectionTelemetry (2: config; 3: its one local shard; 4: and the
segments). vqdb has one shard per collection on one peer, so the shard and replica parts are
that one shard's; the segments' vector data also tell how each reads its originals
(`read_path`, vqdb's own key)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import numpy as np

from vqdb.collection import info
from vqdb.collection.collection import Collection
from vqdb.durations import Durations
from vqdb.segment.segment import Segment

PEER_ID = "0"  # the one peer of a standalone node: the replica states' key


def aggregated(c: Collection) -> dict[str, Any]:
    """CollectionsAggregatedTelemetry (details level 1)."""
    with c.lock.read():
        vectors = sum(_vector_count(s, name) for s in c.segments for name in s.vectors)
        params = c.config.to_api()["params"]
    return {"vectors": vectors, "optimizers_status": info.status(c)[1], "params": params}


def collection(c: Collection, level: int) -> dict[str, Any]:
    """CollectionTelemetry (details level 2 and above)."""
    with c.lock.read():
        config = c.config.to_api()
    out: dict[str, Any] = {"id": c.name, "init_time_ms": c.init_time_ms, "config": config}
    if level >= 3:
        replica: dict[str, Any] = {
            "id": 0,
            "key": None,
            "local": local_shard(c, level),
            "remote": [],
            "replicate_states": {PEER_ID: "Active"},
            "partial_snapshot": {
                "ongoing_create_snapshot_requests": 0,
                "is_recovering": False,
                "recovery_timestamp": 0,
            },
        }
        out.update(shards=[replica], transfers=[], resharding=[])
    return out


def update_queue(c: Collection) -> dict[str, int]:
    """ShardUpdateQueueInfo: writes waiting for the collection (a write is applied as soon as
    it holds the write lock, so only those waiting for it are queued), the last operation
    applied, and under prevent_unoptimized the points deferred."""
    return {"length": c.queued, "op_num": c.applied_seq, **info.deferred_points(c)}


def indexed_only_excluded(c: Collection) -> dict[str, int]:
    """Per dense vector, the points that `indexed_only` searches leave out: those of segments
    without a graph that are too big for a plain scan (Qdrant's rule: every name, 0 if none)."""
    config = c.config
    out = dict.fromkeys(config.vectors, 0)
    with c.lock.read():
        for name in out:
            threshold = max(
                config.indexing_threshold_vectors(name), config.full_scan_threshold_vectors(name)
            )
            for s in c.segments:
                if s.appendable and _vector_count(s, name) > threshold:
                    out[name] += s.count
    return out


def local_shard(c: Collection, level: int) -> dict[str, Any]:
    """LocalShardTelemetry: segments only at level 4, as Qdrant."""
    status, optimizer_status = info.status(c)
    optimizer = c.optimizer
    with c.lock.read():
        segments = list(c.segments)
        by_name = _by_name(segments)
        points = sum(s.count for s in segments)
        vector_bytes = sum(_vector_bytes(s) for s in segments)
        payloads_bytes = sum(payload_bytes(s) for s in segments)
        described = [segment(c, s) for s in segments] if level >= 4 else []
        # the optimizer adds to these under the write lock
        durations = Durations() if optimizer is None else optimizer.durations.copy()
        optimized_points = 0 if optimizer is None else optimizer.optimized_points
    optimizations: dict[str, Any] = {
        "status": optimizer_status,
        "optimizations": durations.statistics(detailed=level >= 1),
    }
    if level >= 4:
        optimizations["log"] = []
    out: dict[str, Any] = {
        "variant_name": "local shard",
        "status": status,
        "total_optimized_points": optimized_points,
        "vectors_size_bytes": vector_bytes,
        "payloads_size_bytes": payloads_bytes,
        "num_points": points,
        "num_vectors": sum(by_name.values()),
        "num_vectors_by_name": by_name,
        "optimizations": optimizations,
        "async_scorer": c.read_path != "mmap",
        "update_queue": update_queue(c),
    }
    if level >= 4:
        out["segments"] = described
        out["indexed_only_excluded_vectors"] = indexed_only_excluded(c)
    return out


def segment(c: Collection, s: Segment) -> dict[str, Any]:
    """SegmentTelemetry (the caller holds the read lock)."""
    vector_data = {}
    vector_config: dict[str, Any] = {}
    sparse_config: dict[str, Any] = {}
    indexed = not s.appendable
    for name, store in s.vectors.items():
        live = _vector_count(s, name)
        vector_data[name] = {
            "num_vectors": live,
            "num_indexed_vectors": live if indexed else 0,
            "num_deleted_vectors": s.size - live,
            "read_path": store.read_path,
        }
        if name in c.config.sparse_vectors:
            sparse_config[name] = {
                "index": {"index_type": "ImmutableRam" if indexed else "MutableRam"},
                "storage_type": "mmap",
            }
        elif name in c.config.vectors:
            v = c.config.vectors[name]
            hnsw = {k: x for k, x in dataclasses.asdict(v.hnsw).items() if x is not None}
            vector_config[name] = {
                "size": v.size,
                "distance": v.distance.value,
                "storage_type": "Mmap" if store.read_only else "Memory",
                "index": {"type": "hnsw", "options": hnsw} if indexed else _PLAIN,
                "datatype": v.datatype,
            }
    schema = {key: index.info() for key, index in s.indexes.items()}
    ram = sum(s.memory_usage().values())
    return {
        "info": {
            "uuid": _uuid(s.name),
            "segment_type": "indexed" if indexed else "plain",
            "num_vectors": sum(v["num_vectors"] for v in vector_data.values()),
            "num_points": s.count,
            "num_deferred_points": s.deferred_count,
            "num_indexed_vectors": sum(v["num_indexed_vectors"] for v in vector_data.values()),
            "num_deleted_vectors": sum(v["num_deleted_vectors"] for v in vector_data.values()),
            "vectors_size_bytes": _vector_bytes(s),
            "payloads_size_bytes": payload_bytes(s),
            "ram_usage_bytes": ram,
            "disk_usage_bytes": _disk_bytes(c, s),
            "is_appendable": s.appendable,
            "index_schema": schema,
            "vector_data": vector_data,
            **({} if s.deferred_from is None else {"deferred_internal_id": s.deferred_from}),
        },
        "config": {
            "vector_data": vector_config,
            "sparse_vector_data": sparse_config,
            "payload_storage_type": {"type": "in_ram_mmap"},  # payloads are kept in RAM
        },
        "vector_index_searches": [],
        "payload_field_indices": [
            {
                "field_name": key,
                "index_type": str(entry.get("data_type", "")),
                "points_values_count": entry["points"],
                "points_count": entry["points"],
            }
            for key, entry in schema.items()
        ],
    }


_PLAIN: dict[str, Any] = {"type": "plain", "options": {}}


def vectors_by_name(c: Collection) -> dict[str, int]:
    """The live vectors of each name (Qdrant's num_vectors_by_name)."""
    with c.lock.read():
        return _by_name(c.segments)


def _by_name(segments: list[Segment]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in segments:
        for name in s.vectors:
            out[name] = out.get(name, 0) + _vector_count(s, name)
    return out


def _vector_count(s: Segment, name: str) -> int:
    return int(np.count_nonzero(s.vector_mask(name) & s.alive))


def _vector_bytes(s: Segment) -> int:
    """The bytes the vector stores hold in RAM (originals read from a file count 0)."""
    return sum(n for store in s.vectors.values() for n in store.memory_usage().values())


PAYLOAD_SAMPLE = 1000  # payloads measured per segment: the estimate stays cheap on big ones


def payload_bytes(s: Segment) -> int:
    """The live payloads' size as compact JSON, estimated from up to PAYLOAD_SAMPLE of them
    evenly spaced (measuring a million would hold the server for seconds)."""
    alive = s.alive
    live = [o for o in s.payloads if o < len(alive) and alive[o]]
    if not live:
        return 0
    step = max(1, len(live) // PAYLOAD_SAMPLE)
    sample = live[::step]
    measured = sum(
        len(json.dumps(s.payloads[o], separators=(",", ":"), default=str)) for o in sample
    )
    return measured * len(live) // len(sample)


def _disk_bytes(c: Collection, s: Segment) -> int:
    if c.path is None or not s.on_disk_files:
        return 0
    folder = c.path / "segments" / s.name
    try:
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    except OSError:  # replaced by the optimizer meanwhile
        return 0


def _uuid(name: str) -> str:
    """Qdrant names segments by UUID; vqdb's names are 16 hex digits, shown as the first half
    of one (any other name is hashed into one)."""
    try:
        return str(uuid.UUID(hex=name.ljust(32, "0")))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
